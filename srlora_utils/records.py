"""Writing results safely: files are replaced atomically, records are appended whole under a lock.

A records file is JSON lines, one run per line. Many workers may append to one file at once: each record is
written with a single ``write`` under an exclusive ``flock``, so lines never interleave. A worker killed in the
middle of a write can leave a truncated line; the next append starts on a fresh line, and readers skip it with a
warning. Any other malformed line is an error naming the file and line.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .errors import SrLoraError


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def run_key(config: dict) -> str:
    """A stable identifier of a run's configuration (SHA-1 of its sorted JSON)."""
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_records(path: str | os.PathLike) -> list[dict]:
    """All records of a JSON-lines file (empty when the file does not exist).

    A line cut short (valid JSON up to where the input ends) is an interrupted append: skipped with a warning.
    """
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for lineno, line in enumerate(path.read_text().split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            ran_out = err.pos >= len(line.rstrip()) or err.msg.startswith("Unterminated string")
            if line.startswith("{") and ran_out:  # the line ends inside the record: an interrupted append
                warnings.warn(f"{path}:{lineno}: skipped a truncated record (an interrupted write)", stacklevel=2)
                continue
            raise SrLoraError(f"{path}:{lineno}: not a JSON record; delete that line (or the file) and rerun") from None
        if not isinstance(record, dict):
            raise SrLoraError(f"{path}:{lineno}: a record must be a JSON object; delete that line and rerun")
        out.append(record)
    return out


def find_record(path: str | os.PathLike, key: str) -> dict | None:
    """The record with ``key`` in a JSON-lines file, if any."""
    return next((r for r in read_records(path) if r.get("key") == key), None)


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line: one ``write`` under an exclusive lock, then ``fsync``.

    Safe with many concurrent writers (processes or hosts sharing a POSIX file system with working locks);
    after a truncated last line (a killed writer), the record starts on a new line.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, default=str) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        view = memoryview(line)
        while view:  # a regular file takes the whole line in one write; loop in case it does not
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
