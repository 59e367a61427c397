"""Writing results safely: files are replaced atomically, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


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
    import hashlib

    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_records(path: str | os.PathLike) -> list[dict]:
    """All records of a JSON-lines file (empty when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{lineno}: not a JSON record; remove the line or the file") from None
    return out


def find_record(path: str | os.PathLike, key: str) -> dict | None:
    """The record with ``key`` in a JSON-lines file, if any."""
    return next((r for r in read_records(path) if r.get("key") == key), None)


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line atomically: the file is rewritten to a temporary copy and replaced."""
    path = Path(path)
    old = path.read_text() if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    write_text_atomic(path, old + json.dumps(record, default=str) + "\n")
