"""The student release of the lessons and its autograder, built with otter-grader (``otter assign``; docs/teaching.md
says why otter-grader and how a lecturer uses it).

A lesson marks its exercises with cell tags (tests/test_notebooks.py checks the structure):

* the exercise list: a Markdown cell tagged ``exercise``, items marked "graded" or "open-ended";
* each item's solution cells, tagged ``solution``; a graded item's last one also ``graded`` and ``points-N``, with its
  work between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines and its answer on a line ending ``# SOLUTION``;
* after a graded item: ``check`` cells (public: the student runs them with ``grader.check``; worth nothing) and
  ``check-hidden`` cells (in the autograder only; worth the item's points).

:func:`otter_master` turns that into otter's assignment format (raw ``# BEGIN QUESTION`` ... cells), and
:func:`build_release` runs ``otter assign`` on it: the student notebook keeps ``answer_k = ...`` and the public
checks, loses every solution and hidden check, and starts with otter's ``grader = otter.Notebook(...)``; the
autograder zip holds every check. Open-ended items keep a cell for the student's work and are not graded.
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import SrLoraError

#: Otter's assignment configuration for a lesson (its name is the notebook's stem).
CONFIG = """# ASSIGNMENT CONFIG
name: {name}
init_cell: true
check_all_cell: false
export_cell: false
run_tests: false
solutions_pdf: false
generate: true
tests:
  files: false
"""
_POINTS = re.compile(r"^points-(\d+)$")


@dataclass(frozen=True)
class Question:
    """A graded exercise: its otter name, points, and its solution and check cells' indices in the lesson."""

    name: str
    points: int
    solutions: tuple[int, ...]
    checks: tuple[int, ...]
    hidden: tuple[int, ...]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def graded_questions(nb, prefix: str = "q") -> list[Question]:
    """The graded exercises of lesson ``nb`` in order, named ``<prefix>k`` by their item number k (each solution
    cell starts ``# Solution k: ...``); a one-line error when the tags do not follow the structure."""
    cells = nb["cells"]
    start = next((i for i, c in enumerate(cells) if "exercise" in _tags(c)), None)
    if start is None:
        return []
    out: list[Question] = []
    items: dict[int, list[int]] = {}
    i = start + 1
    while i < len(cells):
        tags = _tags(cells[i])
        if "solution" in tags:
            number = _item_number(cells[i]["source"])
            items.setdefault(number, []).append(i)
            if "graded" in tags:
                points = [int(m.group(1)) for t in tags if (m := _POINTS.match(t))]
                if len(points) != 1:
                    raise SrLoraError(f"cell {i}: a graded solution cell needs one points-N tag")
                checks: list[int] = []
                hidden: list[int] = []
                j = i + 1
                while j < len(cells) and {"check", "check-hidden"} & set(_tags(cells[j])):
                    (hidden if "check-hidden" in _tags(cells[j]) else checks).append(j)
                    j += 1
                if not hidden:
                    raise SrLoraError(f"cell {i}: a graded solution needs a check-hidden cell after it")
                out.append(Question(f"{prefix}{number}", points[0], tuple(items[number]), tuple(checks),
                                    tuple(hidden)))  # fmt: skip
                i = j
                continue
        elif cells[i]["cell_type"] == "code":
            raise SrLoraError(f"cell {i}: after the exercise list, code cells are solutions or checks")
        i += 1
    return out


def _item_number(source: str) -> int:
    """The item a solution cell answers, from its first line ``# Solution k: ...``."""
    found = re.match(r"#\s*Solution\s+(\d+)", source)
    if not found:
        raise SrLoraError(f"a solution cell starts {source.splitlines()[0][:40]!r}: it must start '# Solution k: ...'")
    return int(found.group(1))


def _raw(text: str):
    import nbformat

    return nbformat.v4.new_raw_cell(text)


def _check_source(source: str, hidden: bool, points: int) -> str:
    config = f"hidden: true\npoints: {points}" if hidden else "points: 0"
    return f'""" # BEGIN TEST CONFIG\n{config}\n""" # END TEST CONFIG\n{source}'


def otter_master(nb, name: str):
    """Lesson ``nb`` (nbformat) in otter's assignment format under assignment ``name``: its graded exercises as
    questions (solutions and checks delimited), its open-ended solutions replaced by an empty cell for the student's
    work; the lesson itself is not changed."""
    import nbformat

    questions = graded_questions(nb)
    first = {q.solutions[0]: q for q in questions}
    inside = {i for q in questions for i in (*q.solutions, *q.checks, *q.hidden)}
    cells = [_raw(CONFIG.format(name=name))]
    placed: set[int] = set()  # open-ended items that have their cell for the student's work
    for i, cell in enumerate(nb["cells"]):
        if i in first:
            q = first[i]
            cells += [_raw(f"# BEGIN QUESTION\nname: {q.name}\npoints: {q.points}"),
                      nbformat.v4.new_markdown_cell(f"**Exercise {q.name[1:]}** (graded, {q.points} point"
                                                    f"{'s' if q.points != 1 else ''}): your answer below, then run "
                                                    f'`grader.check("{q.name}")`.'),  # fmt: skip
                      _raw("# BEGIN SOLUTION")]  # fmt: skip
            for k in q.solutions:
                solution = copy.deepcopy(nb["cells"][k])
                solution["outputs"], solution["execution_count"] = [], None
                cells.append(solution)
            cells += [_raw("# END SOLUTION"), _raw("# BEGIN TESTS")]
            for k in (*q.checks, *q.hidden):
                check = nbformat.v4.new_code_cell(_check_source(nb["cells"][k]["source"], k in q.hidden, q.points))
                cells.append(check)
            cells += [_raw("# END TESTS"), _raw("# END QUESTION")]
            continue
        if i in inside:
            continue
        cell = copy.deepcopy(cell)
        if "solution" in _tags(cell):  # an open-ended item: one cell of room for the student's own work
            number = _item_number(cell["source"])
            if number not in placed:
                placed.add(number)
                cells.append(nbformat.v4.new_code_cell(f"# Exercise {number} (open-ended): your work here"))
            continue
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(nb["metadata"]))


@dataclass(frozen=True)
class Release:
    """One lesson's release: the student notebook, the autograder zip, the reference solution in otter's format (what
    a full-marks submission looks like) and the points it grades."""

    lesson: str
    student: Path
    autograder: Path
    solution: Path
    points: int


def build_release(lesson: str | Path, out: str | Path) -> Release:
    """Run ``otter assign`` on lesson ``lesson`` (an executed ``.ipynb``) into ``out``: ``student/<lesson>.ipynb``,
    ``autograder/<lesson>-autograder.zip`` and the reference solution ``autograder/<lesson>.ipynb``. Raises a one-line
    error when otter fails."""
    import nbformat
    from otter.assign import main as assign

    lesson, out = Path(lesson), Path(out)
    nb = nbformat.read(str(lesson), as_version=4)
    master = otter_master(nb, lesson.stem)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nbformat.write(master, str(work / lesson.name))
        try:
            assign(str(work / lesson.name), str(work / "dist"), no_pdfs=True, no_run_tests=True)
        except Exception as err:  # otter's own exceptions: one line naming the lesson
            raise SrLoraError(f"otter assign failed on {lesson.name}: {err}") from None
        student = out / "student" / lesson.name
        zips = sorted((work / "dist" / "autograder").glob("*-autograder_*.zip"))
        if not zips:
            raise SrLoraError(f"otter assign wrote no autograder for {lesson.name}")
        autograder = out / "autograder" / f"{lesson.stem}-autograder.zip"
        student.parent.mkdir(parents=True, exist_ok=True)
        autograder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(work / "dist" / "student" / lesson.name, student)
        shutil.copy(zips[-1], autograder)
        solution = shutil.copy(work / "dist" / "autograder" / lesson.name, out / "autograder" / lesson.name)
    return Release(lesson.stem, student, autograder, Path(solution), sum(q.points for q in graded_questions(nb)))
