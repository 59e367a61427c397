"""Where local datasets live: one data folder for the notebooks, the command line and Python alike.

The data folder is ``$SRLORA_DATA`` when set (the notebooks' ``data_root`` parameter sets it: :func:`use_data_dir`),
else the ``data/`` folder of the repository this package was installed from (an editable checkout), else ``./data``
(a wheel). A relative dataset root (``"MedFMC"``, ``"VTAB-1k"``) is read under it, whatever the working directory; an
absolute root is used as given.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SrLoraError
from .shipped import DATA_GUIDE, checkout_dir, kit_file

#: Environment variable that moves the data folder.
DATA_ENV = "SRLORA_DATA"
#: Each local dataset's folder under the data folder (see ``data/README.md``).
DEFAULT_ROOTS = {"medfmc": "MedFMC", "vtab": "VTAB-1k", "medmnist": "medmnist", "eurosat": "."}


def repository_data_dir() -> Path | None:
    """The checkout's ``data/`` folder when this package runs from a repository checkout, else None."""
    repo = checkout_dir()
    return repo / "data" if repo is not None and (repo / "data").is_dir() else None


def data_dir() -> Path:
    """The data folder: ``$SRLORA_DATA``, the repository's ``data/``, or ``./data`` (in that order)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return repository_data_dir() or Path("data").resolve()


def use_data_dir(folder: str | os.PathLike | None = None) -> Path:
    """Make ``folder`` this process's data folder (``$SRLORA_DATA``, which the notebooks' kernels and the training
    code read) when it is given, e.g. from a notebook's ``data_root`` parameter on a hosted Jupyter service; with
    None, change nothing. Returns the data folder now in effect (:func:`data_dir`)."""
    if folder is not None and str(folder) != "":
        os.environ[DATA_ENV] = str(Path(folder).expanduser().resolve())
    return data_dir()


def resolve_root(root: str | os.PathLike | None, kind: str | None = None) -> Path | None:
    """A dataset root as an absolute path: absolute roots as given, relative ones under :func:`data_dir`;
    ``None`` gives the default folder of dataset ``kind`` (``medfmc``, ``vtab``, ...) or None when it has none."""
    if root is None:
        if kind not in DEFAULT_ROOTS:
            return None
        root = DEFAULT_ROOTS[kind]
    path = Path(root).expanduser()
    return path if path.is_absolute() else (data_dir() / path).resolve()


def where_hint() -> str:
    """How relative roots are resolved, for error messages."""
    return f"relative roots are read under {data_dir()} (set {DATA_ENV} to move it; see {kit_file(DATA_GUIDE)})"


#: A file of this name at a dataset root marks a synthetic fixture (:mod:`srlora_utils.data.fixtures`), not real data.
FIXTURE_MARKER = "SYNTHETIC_FIXTURE.txt"


def need_dir(path: Path, what: str) -> Path:
    """``path``, or a one-line error naming the missing ``what`` folder and where data are read."""
    if not path.is_dir():
        raise SrLoraError(f"{what} folder {path} is missing: place the data there ({where_hint()})")
    return path


def is_fixture(*folders: Path) -> bool:
    """True when any of ``folders`` holds the synthetic-fixture marker."""
    return any((Path(f) / FIXTURE_MARKER).is_file() for f in folders)
