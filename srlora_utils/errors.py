"""Exception types: every user-facing error is one clear line naming the problem and the fix; and the reading of a
user's text file that ends in such a line."""

from __future__ import annotations

from pathlib import Path


class SrLoraError(ValueError):
    """Bad input to srlora_utils (wrong shape, NaN weights, budget too small, ...)."""


class BackboneUnavailableError(SrLoraError, RuntimeError):
    """Backbone weights cannot be had here (no network, missing package, unknown model)."""


def read_user_text(path: Path, kind: str, fix: str) -> str:
    """The text of the user's ``kind`` file ``path`` (``"list file"``, ``"grid file"``), a byte-order mark dropped:
    an unreadable file, a byte that is not UTF-8 or a NUL byte (binary content) is a one-line error naming the
    file, the line and ``fix``."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SrLoraError(f"{kind} {path} cannot be read ({err.strerror or type(err).__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise SrLoraError(f"{path}:{line}: byte {data[err.start]:#04x} is not UTF-8 text: {fix}") from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise SrLoraError(f"{path}:{line}: a NUL byte: binary content, not a {kind}; {fix}")
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write
