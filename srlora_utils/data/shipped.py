"""The files the kit ships beside its code, and where the lessons write, in a checkout and in an installed wheel alike.

The lessons (``notebooks/``), the grids (``grids/``) and the baseline study's records (``results/baseline-study/``)
have one copy, in the repository. A checkout (an editable install, or the package run from the repository) reads them
there, so ``make study`` writing the records is what notebook 05 reads. A wheel carries the same files under
``srlora_utils/_kit/`` (the ``package-dir`` mapping in ``pyproject.toml``) and reads them there.

What the lessons generate (synthetic fixtures, a study trained again, a preset's records) goes under the checkout
(``build/``, ``results/``) or, when there is no checkout, under the current directory: a student's course folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import SrLoraError

#: Where a wheel keeps the repository's shipped folders (``notebooks``, ``grids``, ``results/baseline-study``).
PACKAGED = Path(__file__).resolve().parents[1] / "_kit"
#: The lessons' folder, relative to the repository (and to :data:`PACKAGED`).
LESSONS = "notebooks"


def checkout_dir() -> Path | None:
    """The repository this package runs from (a checkout, or an editable install of one), else None (a wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / LESSONS).is_dir() else None


def shipped_path(relative: str | os.PathLike) -> Path:
    """A shipped file or folder, given by its path in the repository (``grids/baseline-study.toml``): the checkout's
    when the package runs from one, else the copy inside the installed package. The path may not exist."""
    root = checkout_dir()
    return (root if root is not None else PACKAGED) / relative


def kit_file(relative: str) -> str:
    """How a hint names a shipped file (``data/README.md``): its path in the repository when the package runs from a
    checkout, else its absolute path inside the installed package, so that the file named is one the user has."""
    return relative if checkout_dir() is not None else str(PACKAGED / relative)


#: The guide to the data folder's layout, which the loaders' hints name (shipped in the wheel too).
DATA_GUIDE = "data/README.md"


def output_path(relative: str | os.PathLike) -> Path:
    """Where the kit writes ``relative`` (a path as in the repository, ``build/...`` or ``results/...``): under the
    checkout when the package runs from one, else under the current directory. Absolute; nothing is created."""
    return (checkout_dir() or Path.cwd()).resolve() / relative


def _in_package(path: Path) -> bool:
    return path.resolve().is_relative_to(PACKAGED)


def writable_records(records: str | os.PathLike) -> tuple[Path | None, Path]:
    """A sweep's records as (read-only, written): a file inside the installed package (its shipped copy) is only read,
    and new runs go to the same path under the current directory (:func:`output_path`); any other file is both."""
    path = Path(records).resolve()
    if _in_package(path):
        return path, output_path(path.relative_to(PACKAGED))
    return None, path


def check_writable(path: str | os.PathLike) -> None:
    """One-line error when ``path`` lies inside the installed package: the kit never writes into site-packages."""
    if _in_package(Path(path)):
        raise SrLoraError(f"{path} is inside the installed srlora_utils package, which the kit never writes: "
                          "name a file or folder of yours (records=...)")  # fmt: skip


def work_dir(name: str) -> Path:
    """A folder for what a lesson generates (``"fixtures"``: notebook 06's synthetic fixtures): ``build/<name>`` of
    the checkout, or of the current directory when the package is installed from a wheel. Nothing is created."""
    return output_path(Path("build") / name)


def display_path(path: str | os.PathLike) -> str:
    """``path`` as the lessons print it: relative to the repository for a file of the checkout or of the installed kit,
    so that the text is the same in every clone, working directory and installation; any other path as given."""
    resolved = Path(path).resolve()
    for root in (checkout_dir(), PACKAGED):
        if root is not None and resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return str(path)


def restore_how(relative: str) -> str:
    """How to get a missing shipped file back, to follow "restore it": from git in a checkout, else by reinstalling."""
    if checkout_dir() is not None:
        return f"with `git checkout -- {relative}`"
    return "by reinstalling the package (`pip install --force-reinstall --no-deps <the srlora_utils wheel>`)"


def lesson_files() -> list[Path]:
    """The lessons as a student gets them: the lesson notebooks (``NN_*.ipynb``), the glossary they link and the
    appendix notebooks (``appendix/*.ipynb``), each once in JupyterLab (the paired percent scripts are the
    repository's, for reviewers); or a one-line error when the lessons cannot be found."""
    folder = shipped_path(LESSONS)
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise SrLoraError(f"no lessons in {folder}: restore them {restore_how(LESSONS)}")
    glossary = [folder / "glossary.md"] if (folder / "glossary.md").is_file() else []
    return notebooks + glossary + sorted((folder / "appendix").glob("*.ipynb"))


def copy_lessons(folder: str | os.PathLike, force: bool = False) -> list[Path]:
    """Copy :func:`lesson_files` into ``folder`` (created if needed; the appendix into its ``appendix/``) and return
    the files written. An existing file is overwritten only with ``force``; otherwise nothing is copied and a one-line
    error names the files in the way."""
    target = Path(folder).expanduser()
    source = shipped_path(LESSONS)
    files = lesson_files()
    if target.exists() and not target.is_dir():
        raise SrLoraError(f"{target} is a file, not a folder: name a folder to copy the lessons into")
    places = [p.relative_to(source) for p in files]
    taken = [str(rel) for rel in places if (target / rel).exists()]
    if taken and not force:
        raise SrLoraError(
            f"{target} already holds {', '.join(taken)}: pass --force to overwrite them, or name another folder"
        )
    written = []
    try:
        for path, rel in zip(files, places, strict=True):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            written.append(Path(shutil.copyfile(path, target / rel)))
    except OSError as err:  # `srlora lessons` checks the folder first (data.outputs); the Python API ends here
        raise SrLoraError(f"cannot write the lessons into {target} ({err.strerror or type(err).__name__}): "
                          "name a folder you can write") from None  # fmt: skip
    return written
