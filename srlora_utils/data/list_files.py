"""Reading ``relative/path label`` list files (VTAB-1k, MedFMC) with errors that name the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import SrLoraError, read_user_text
from .shipped import DATA_GUIDE, kit_file

#: What a list file's errors suggest.
_FORMAT = "a list file is UTF-8 text, one 'relative/path label' per line"


def _short(text: str, limit: int = 60) -> str:
    """``text`` quoted (escapes keep it on one line), cut to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}..."


def _text(path: Path) -> str:
    """The text of list file ``path``; binary or non-UTF-8 content is a one-line error naming the line."""
    return read_user_text(path, "list file", _FORMAT)


def _inside(root: Path, name: str, where: str) -> None:
    """A one-line error unless image path ``name`` of a list file stays inside the data folder ``root``: an absolute
    path, a ``..`` step or a link that leads out of ``root`` would read files the dataset does not own."""
    pure = Path(name)
    if pure.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise SrLoraError(f"{where}: image path {_short(name)} is absolute: list files give paths relative to {root}")
    if ".." in re.split(r"[\\/]", name):
        raise SrLoraError(f"{where}: image path {_short(name)} steps out with '..': paths must stay inside {root}")
    base = root.resolve()
    if not (base / pure).resolve().is_relative_to(base):
        raise SrLoraError(f"{where}: image path {_short(name)} is a link out of {root}: paths must stay inside it")


def read_list(
    path: Path, num_classes: int | None = None, multilabel: bool = False, root: Path | None = None
) -> tuple[list[str], np.ndarray]:
    """Paths and labels of a list file. Single-label lines: ``path 3``. Multi-label (``multilabel``): ``path 0,1,0,...``
    (one 0/1 flag per class) or ``path 2,5`` (class indices) when ``num_classes`` is given. With ``root`` (the image
    folder the paths are relative to), a path that is absolute or leads out of ``root`` is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SrLoraError(f"list file {path} is missing: put the split files there (see {kit_file(DATA_GUIDE)})")
    paths: list[str] = []
    labels: list = []
    for lineno, raw in enumerate(_text(path).split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            raise SrLoraError(f"{path}:{lineno}: expected 'relative/path label', got {_short(line)}")
        name, field = parts
        if root is not None:
            _inside(Path(root), name, f"{path}:{lineno}")
        try:
            values = [int(v) for v in field.split(",")]
        except ValueError:
            raise SrLoraError(
                f"{path}:{lineno}: label {_short(field)} is not an integer (or comma-separated integers)"
            ) from None
        if multilabel:
            if num_classes is None:
                raise SrLoraError(f"{path}: multi-label lists need num_classes")
            if len(values) == num_classes and set(values) <= {0, 1}:
                hot = np.array(values, dtype=np.float32)
            else:
                if any(v < 0 or v >= num_classes for v in values):
                    raise SrLoraError(
                        f"{path}:{lineno}: label {_short(field)} is out of range for {num_classes} classes"
                    )
                hot = np.zeros(num_classes, dtype=np.float32)
                hot[values] = 1
            labels.append(hot)
        else:
            if len(values) != 1:
                raise SrLoraError(f"{path}:{lineno}: expected one class index, got {_short(field)}")
            if values[0] < 0 or (num_classes is not None and values[0] >= num_classes):
                raise SrLoraError(f"{path}:{lineno}: label {values[0]} is out of range for {num_classes} classes")
            labels.append(values[0])
        paths.append(name)
    if not paths:
        raise SrLoraError(f"list file {path} has no entries")
    return paths, np.array(labels)
