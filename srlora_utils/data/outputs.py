"""Where results go can be written: checked before any work starts, so that no run trains and then loses its result
to a folder it cannot write. A check writes (then removes) a probe file
beside the output (in its folder, or the nearest existing folder above it); nothing is created or left behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import SrLoraError
from .shipped import check_writable


def _why(err: BaseException) -> str:
    return getattr(err, "strerror", None) or type(err).__name__


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its nearest ancestor that exists (what a later ``mkdir(parents=True)`` would create under)."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def _probe(folder: Path, what: str, path: Path) -> None:
    """One-line error naming ``what`` unless ``folder`` (or, when it does not exist yet, its nearest existing
    ancestor) is a folder a probe file can be written in; nothing is left behind."""
    try:
        base = _nearest_existing(folder)
    except (OSError, ValueError) as err:  # a name too long, a NUL byte
        raise SrLoraError(f"cannot write {what} {path} ({_why(err)}): name another path") from None
    if not base.is_dir():
        raise SrLoraError(f"cannot write {what} {path}: {base} is a file, not a folder; name another path")
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > 255:  # the limit of common file systems (ext4, APFS, NTFS): a folder still to create would fail
        raise SrLoraError(f"cannot write {what} {str(path)[:80]}...: a name in it has {longest} bytes, over the 255 "
                          "a file system takes; name a shorter path")  # fmt: skip
    try:
        fd, probe = tempfile.mkstemp(prefix=".srlora-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise SrLoraError(f"cannot write {what} {path}: {base} is not writable ({_why(err)}); "
                          "name a folder you can write") from None  # fmt: skip


def _unusable(path: str | os.PathLike, what: str, err: BaseException) -> SrLoraError:
    return SrLoraError(f"cannot write {what} {str(path)[:80]!r} ({_why(err)}): name another path")


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """One-line error unless the file ``path`` (``what``: "records file", "--json file") can be created or added to:
    its folder (or the nearest existing one above) takes a probe file; an existing file must be a writable file."""
    try:
        return _check_file(Path(path).expanduser(), what)
    except SrLoraError:
        raise
    except (OSError, ValueError) as err:  # a name too long for the file system, a NUL byte
        raise _unusable(path, what, err) from None


def _check_file(path: Path, what: str) -> Path:
    if not str(path) or path.is_dir():
        raise SrLoraError(f"{what} {str(path)!r} is a folder: name a file in it, e.g. {path / 'out'}")
    check_writable(path)
    _probe(path.parent, what, path)
    if path.exists() and not (path.is_file() and os.access(path, os.W_OK)):
        raise SrLoraError(f"{what} {path} cannot be written (not a writable file): name another file")
    return path


def check_output_folder(path: str | os.PathLike, what: str) -> Path:
    """One-line error unless the folder ``path`` (``what``: "lessons folder", "LoRA config folder") can be written to,
    or created under its nearest existing ancestor (nothing is created here)."""
    try:
        return _check_folder(Path(path).expanduser(), what)
    except SrLoraError:
        raise
    except (OSError, ValueError) as err:
        raise _unusable(path, what, err) from None


def _check_folder(path: Path, what: str) -> Path:
    if path.exists() and not path.is_dir():
        raise SrLoraError(f"{what} {path} is a file, not a folder: name a folder")
    check_writable(path)
    _probe(path, what, path)
    return path


def is_directory_store(path: str | os.PathLike) -> bool:
    """True when ``path`` names a records directory (anything but a ``.jsonl`` file)."""
    path = Path(path)
    return path.is_dir() or path.suffix != ".jsonl"


def check_records(path: str | os.PathLike) -> Path:
    """One-line error unless a records location (a ``.jsonl`` file, or a folder of one file per run) can take
    records: checked before the first run of a train, sweep or tune."""
    try:
        folder = is_directory_store(path)
    except (OSError, ValueError) as err:
        raise _unusable(path, "records location", err) from None
    return check_output_folder(path, "records folder") if folder else check_output_file(path, "records file")
