"""The student release and its grading (srlora_utils.course, otter-grader): every lesson's graded exercises become
otter questions; the release keeps no solution and no hidden check; graded by the autograder, the reference solutions
get full marks, the untouched release gets zero on every graded question, and a planted wrong answer loses exactly
its question's points (lesson 00, which runs in seconds, is graded three ways here)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from srlora_utils.course.grading import grade_folder, grade_submission
from srlora_utils.course.student import build_release, graded_questions, otter_master
from srlora_utils.errors import SrLoraError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
GRADED = "00_lora_from_scratch.ipynb"


@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_has_graded_questions_with_hidden_checks(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    questions = graded_questions(nb)
    assert questions, f"{name}: no graded exercise (tag its last solution cell 'graded' and 'points-N')"
    exercise = next(c for c in nb.cells if "exercise" in c.metadata.get("tags", []))
    for q in questions:
        assert f"answer_{q.name[1:]}" in exercise.source, f"{name}: the exercise list never names answer_{q.name[1:]}"
        last = nb.cells[q.solutions[-1]].source
        assert re.search(rf"^answer_{q.name[1:]} = .+# SOLUTION$", last, flags=re.M), f"{name} {q.name}: answer line"
        assert q.hidden and q.points >= 1


def test_the_master_notebook_delimits_questions_and_leaves_the_lesson_alone():
    nb = nbformat.read(NOTEBOOKS / GRADED, as_version=4)
    before = nbformat.writes(nb)
    master = otter_master(nb, "lesson")
    assert nbformat.writes(nb) == before
    raw = [c.source for c in master.cells if c.cell_type == "raw"]
    assert raw[0].startswith("# ASSIGNMENT CONFIG")
    begins = [s for s in raw if s.startswith("# BEGIN QUESTION")]
    assert len(begins) == len(graded_questions(nb)) == raw.count("# END QUESTION")
    hidden = [c.source for c in master.cells if c.cell_type == "code" and "hidden: true" in c.source]
    assert len(hidden) == sum(len(q.hidden) for q in graded_questions(nb))


def test_a_graded_solution_without_a_hidden_check_is_one_line():
    nb = nbformat.read(NOTEBOOKS / GRADED, as_version=4)
    nb.cells = [c for c in nb.cells if "check-hidden" not in c.metadata.get("tags", [])]
    with pytest.raises(SrLoraError, match="needs a check-hidden cell"):
        graded_questions(nb)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    return build_release(NOTEBOOKS / GRADED, out)


def test_the_student_release_holds_no_solution_and_no_hidden_check(release):
    lesson = nbformat.read(NOTEBOOKS / GRADED, as_version=4)
    student = nbformat.read(release.student, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for q in graded_questions(lesson):
        assert f'grader.check("{q.name}")' in text
        assert re.search(rf"^answer_{q.name[1:]} = \.\.\.$", text, flags=re.M)
        for k in q.hidden:
            assert lesson.cells[k].source.strip() not in text
    solutions = [c.source for c in lesson.cells if "solution" in c.metadata.get("tags", [])]
    assert not any("# BEGIN SOLUTION" in c.source for c in student.cells)
    assert all(s.strip() not in text for s in solutions)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


def _planted(path: Path, number: str, value: str, out: Path) -> Path:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.source = re.sub(rf"^answer_{number} = .*$", f"answer_{number} = {value}", cell.source, flags=re.M)
    nbformat.write(nb, str(out))
    return out


@pytest.mark.slow
def test_reference_full_marks_untouched_zero_and_one_wrong_answer_loses_its_points(release, tmp_path):
    lesson = nbformat.read(NOTEBOOKS / GRADED, as_version=4)
    questions = graded_questions(lesson)
    reference = grade_submission(release.solution, release.autograder)
    assert reference["total"] == reference["possible"] == release.points == sum(q.points for q in questions)
    untouched = grade_submission(release.student, release.autograder)
    assert all(untouched[q.name] == 0 for q in questions) and untouched["total"] == 0
    first = questions[0]
    folder = tmp_path / "submissions"
    folder.mkdir()
    _planted(release.solution, first.name[1:], "-12345", folder / "wrong.ipynb")
    (rows,) = grade_folder(folder, release.autograder)
    assert rows["submission"] == "wrong.ipynb"
    assert rows[first.name] == 0 and rows["total"] == reference["total"] - first.points


def test_grading_an_empty_folder_or_a_missing_autograder_is_one_line(tmp_path):
    with pytest.raises(SrLoraError, match=r"no submitted notebooks \(\*\.ipynb\) in"):
        grade_folder(tmp_path, tmp_path / "none.zip")
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(SrLoraError, match="autograder zip .* does not exist: build the autograder with `make student`"):
        grade_folder(tmp_path, tmp_path / "none.zip")
