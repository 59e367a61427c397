"""Grading a folder of submitted notebooks against a lesson's autograder (otter-grader's ``grade_submission``, which
runs each submission in this Python, without containers), into one table a lecturer can read and keep.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SrLoraError


def grade_submission(submission: str | Path, autograder: str | Path) -> dict[str, float]:
    """Question -> points of one submitted notebook, graded by ``autograder`` (the lesson's zip from ``make
    student``), with ``total`` and ``possible``."""
    from otter.api import grade_submission as otter_grade

    submission, autograder = Path(submission), Path(autograder)
    for path, what in ((submission, "submission"), (autograder, "autograder zip")):
        if not path.is_file():
            raise SrLoraError(f"{what} {path} does not exist: build the autograder with `make student`")
    results = otter_grade(str(submission), str(autograder), quiet=True)
    scores = {name: float(part["score"]) for name, part in results.to_dict().items()}
    return {**scores, "total": float(results.total), "possible": float(results.possible)}


def grade_folder(folder: str | Path, autograder: str | Path) -> list[dict]:
    """One row per ``*.ipynb`` in ``folder`` (a student's submission each): its file name and its points per
    question, in file-name order; a one-line error for an empty folder."""
    folder = Path(folder)
    submissions = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not submissions:
        raise SrLoraError(f"no submitted notebooks (*.ipynb) in {folder}: put one notebook per student there")
    return [{"submission": s.name, **grade_submission(s, autograder)} for s in submissions]
