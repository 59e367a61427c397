"""Writing results safely, for one process or many workers on many machines.

A records location is either

* a **JSON-lines file** (``*.jsonl``): one run per line, appended with a single ``write`` under an exclusive
  ``flock``, so concurrent workers on one machine never interleave or lose lines. A worker killed in the middle of
  a write can leave a truncated line; the next append starts on a fresh line and readers skip it with a warning.
  Any other malformed line is an error naming the file and line. Use it on a local disk.
* a **records directory** (any other path): one ``<run key>.json`` file per run, written to a temporary name in the
  same directory and renamed into place. A rename within a directory is atomic on every POSIX file system,
  network ones (NFS, Lustre, GPFS, BeeGFS) included, and needs no lock, so workers on many nodes can share it:
  a reader sees a run's whole record or nothing, a killed worker leaves at most a temporary file (ignored), and a
  run recorded twice (a relaunch racing a slow worker) keeps one file. Use it for clusters.

Either way an append costs the same whatever the number of records already there.
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

from ..errors import SrLoraError


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
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


def is_directory_store(path: str | os.PathLike) -> bool:
    """True when ``path`` names a records directory (anything but a ``.jsonl`` file)."""
    path = Path(path)
    return path.is_dir() or path.suffix != ".jsonl"


def _record_file(directory: Path, key: str) -> Path:
    if not key or "/" in key or key.startswith("."):
        raise SrLoraError(f"record key {key!r} cannot name a file: records need their run key")
    return directory / f"{key}.json"


def _read_directory(path: Path) -> list[dict]:
    out = []
    for file in sorted(path.glob("*.json")):  # temporary files start with '.' and are not matched
        try:
            record = json.loads(file.read_text())
        except json.JSONDecodeError:
            raise SrLoraError(f"{file}: not a JSON record; delete the file and rerun") from None
        out.append(record)
    return sorted(out, key=lambda r: (r.get("finished_at", ""), r.get("key", "")))


def read_records(path: str | os.PathLike) -> list[dict]:
    """All records of a records location (empty when it does not exist); a directory's in order of finishing.

    A line cut short (valid JSON up to where the input ends) is an interrupted append: skipped with a warning.
    """
    path = Path(path)
    if path.is_dir():
        return _read_directory(path)
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
    """The record with ``key`` in a records location, if any (a directory: one file lookup)."""
    path = Path(path)
    if path.is_dir():
        file = _record_file(path, key)
        return json.loads(file.read_text()) if file.is_file() else None
    return next((r for r in read_records(path) if r.get("key") == key), None)


def done_keys(path: str | os.PathLike) -> set[str]:
    """Run keys already recorded in a records location."""
    path = Path(path)
    if path.is_dir():
        return {p.stem for p in path.glob("*.json")}
    return {str(r.get("key")) for r in read_records(path)}


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Add ``record`` to a records location: a ``.jsonl`` file gets one line (one ``write`` under an exclusive
    lock, then ``fsync``; after a truncated line from a killed writer it starts on a new line); a directory gets
    ``<key>.json``, written to a temporary file and renamed into place (atomic, lock-free)."""
    path = Path(path)
    if is_directory_store(path):
        path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(_record_file(path, str(record.get("key", ""))), json.dumps(record, default=str) + "\n")
        return
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
