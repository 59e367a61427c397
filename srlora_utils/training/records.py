"""Writing results safely, for one process or many workers on many machines.

A records location is either

* a **JSON-lines file** (``*.jsonl``): one run per line, appended with a single ``write`` under an exclusive
  ``flock``, so concurrent workers on one machine never interleave or lose lines. A worker killed in the middle of
  a write can leave a truncated line (a JSON object cut short, even inside a multi-byte character); the next append
  starts on a fresh line and readers skip it with a warning, wherever it is. Any other malformed line (binary or
  non-UTF-8 bytes, text that is not JSON, JSON that is not an object) is a one-line error naming the file and line
  and saying to delete that line. Use it on a local disk.
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
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..data.outputs import is_directory_store
from ..data.shipped import check_writable
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


def _record_file(directory: Path, key: str) -> Path:
    if not key or "/" in key or key.startswith("."):
        raise SrLoraError(f"record key {key!r} cannot name a file: records need their run key")
    return directory / f"{key}.json"


def _read_file_record(file: Path) -> dict:
    """The record in one ``<key>.json`` file of a records directory; anything but a JSON object is a one-line error."""
    fix = "delete the file and rerun (its run is trained again)"
    try:
        record = json.loads(file.read_bytes().decode("utf-8"))
    except OSError as err:
        raise SrLoraError(f"{file}: cannot be read ({err.strerror or type(err).__name__}): {fix}") from None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep to be a record
        raise SrLoraError(f"{file}: not a JSON record; {fix}") from None
    if not isinstance(record, dict):
        raise SrLoraError(f"{file}: a record must be a JSON object; {fix}")
    return record


def _read_directory(path: Path) -> list[dict]:
    out = [_read_file_record(file) for file in sorted(path.glob("*.json"))]  # temporary files start with '.'
    return sorted(out, key=lambda r: (str(r.get("finished_at", "")), str(r.get("key", ""))))


#: JSON words a record's line may be cut inside (``json.dumps`` writes NaN and Infinity for such floats).
_WORDS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


def _ran_out(line: str, err: json.JSONDecodeError) -> bool:
    """True when ``line`` failed to parse (``err``) only because it ends early: after a complete token, inside a
    string, or inside a number, a word (``tr``, ``Infin``) or a ``\\u`` escape, as a write cut short leaves it."""
    rest, value = line[err.pos :], err.msg == "Expecting value"
    return (
        err.pos >= len(line.rstrip())
        or err.msg.startswith("Unterminated string")
        or (value and any(word.startswith(rest) for word in _WORDS))
        or ((value or err.msg == "Expecting ',' delimiter") and re.fullmatch(r"[-+.0-9eE]+", rest) is not None)
        or (err.msg.startswith("Invalid \\uXXXX escape") and re.fullmatch(r"u[0-9a-fA-F]{0,4}", rest) is not None)
    )


def _parse_line(path: Path, lineno: int, raw: bytes) -> dict | None:
    """The record on line ``lineno`` (bytes ``raw``) of a JSON-lines file, or None for a line cut short by an
    interrupted append (a warning says so); any other malformed line is a one-line error naming ``path:lineno``."""
    fix = "delete that line (or the file) and rerun"
    cut_in_character = False
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        cut_in_character = err.reason == "unexpected end of data" and err.end == len(raw)
        if not cut_in_character:
            raise SrLoraError(f"{path}:{lineno}: not UTF-8 text (byte {raw[err.start]:#04x}), so not a JSON record; "
                              f"{fix}") from None  # fmt: skip
        line = raw[: err.start].decode("utf-8", errors="replace")  # judged as a cut line below
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        if line.startswith("{") and _ran_out(line, err):  # the line ends inside the record: an interrupted append
            warnings.warn(f"{path}:{lineno}: skipped a truncated record (an interrupted write)", stacklevel=3)
            return None
        raise SrLoraError(f"{path}:{lineno}: not a JSON record; {fix}") from None
    except (ValueError, RecursionError):  # an integer of thousands of digits, or nesting too deep for a record
        raise SrLoraError(f"{path}:{lineno}: not a JSON record; {fix}") from None
    if cut_in_character:  # a whole JSON value before a cut character: bytes follow it, so it is no record
        raise SrLoraError(f"{path}:{lineno}: stray bytes after a JSON value, not a record; {fix}")
    if not isinstance(record, dict):
        raise SrLoraError(f"{path}:{lineno}: a record must be a JSON object; delete that line and rerun")
    return record


def read_records(path: str | os.PathLike) -> list[dict]:
    """All records of a records location (empty when it does not exist); a directory's in order of finishing.

    A line cut short (valid JSON up to where the input ends, even inside a multi-byte character) is an interrupted
    append: skipped with a warning, wherever it is (the next append starts a new line after it). Any other line
    that is not a JSON object (binary or non-UTF-8 bytes, other text, a JSON array) is a one-line error naming the
    file and line.
    """
    path = Path(path)
    try:
        if path.is_dir():
            return _read_directory(path)
        if not path.is_file():
            return []
    except OSError as err:  # a name too long for the file system
        raise SrLoraError(f"records {str(path)[:80]!r} cannot be read ({err.strerror or type(err).__name__})") from None
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SrLoraError(f"records file {path} cannot be read ({err.strerror or type(err).__name__})") from None
    out = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            record = _parse_line(path, lineno, raw)
            if record is not None:
                out.append(record)
    return out


def find_record(path: str | os.PathLike, key: str) -> dict | None:
    """The record with ``key`` in a records location, if any (a directory: one file lookup)."""
    path = Path(path)
    if path.is_dir():
        file = _record_file(path, key)
        return _read_file_record(file) if file.is_file() else None
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
    check_writable(path)
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
