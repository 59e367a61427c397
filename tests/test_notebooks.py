"""Notebooks: a parameters cell each; papermill parameter injection (the paper and tutorial presets of the training
notebooks on synthetic fixtures at tiny size; 01 and 02 with cheap parameters run from the installed wheel in
test_wheel.py; nbval executes every default preset once); stored outputs."""

from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = [
    "00_lora_from_scratch.ipynb", "01_stable_rank_theory.ipynb", "02_rank_allocation.ipynb", "03_medical_fewshot.ipynb",
    "04_remote_sensing_fewshot.ipynb", "05_baseline_comparison.ipynb", "06_reproduce_paper.ipynb",
    "07_gap_ladder.ipynb",
]  # fmt: skip
#: Appendix notebooks (research depth a lesson links to), by path under notebooks/: the same checks as the lessons.
APPENDIX = sorted(p.relative_to(NOTEBOOKS).as_posix() for p in (NOTEBOOKS / "appendix").glob("*.ipynb"))
#: The paper and tutorial presets of 03-05 on synthetic fixtures in the official layouts (MedFMC, VTAB-1k, MedMNIST,
#: EuroSAT), at tiny size, through the loaders real files go through (notebook 06 runs its paper grid on fixtures by
#: default, so nbval covers it). Every code path of every preset executes; the numbers mean nothing.
TINY = {"backbone": "dinov2_vits14_imgfocus", "img_size": 28, "epochs": 1}
ON_FIXTURES = {
    # Endo, not the preset's ChestDR: the same multi-label paper branch on 4 classes instead of 19 (a fifth of the
    # steps); ChestDR's files are read by notebook 06 and tests/test_reproduction.py
    ("paper", "03_medical_fewshot.ipynb"): {**TINY, "task": "medfmc:endo", "exps": [1, 2], "shots": [1, 5]},
    ("paper", "04_remote_sensing_fewshot.ipynb"): {**TINY, "seeds": [0, 1]},
    ("paper", "05_baseline_comparison.ipynb"): {"tiny": True, "epochs": 2},  # the paper study at CI size
    ("tutorial", "03_medical_fewshot.ipynb"): {**TINY, "seeds": [0, 1], "shots": [2]},
    ("tutorial", "04_remote_sensing_fewshot.ipynb"): {**TINY, "seeds": [0, 1], "shots": [2]},
    ("tutorial", "05_baseline_comparison.ipynb"): {"tiny": True, "epochs": 2},
}
#: What each preset's run on fixtures must show besides the fixture label: its recipe, its data's loader and metrics.
EXPECTED = {
    ("paper", "03"): ["medfmc-endo", "split exp1", "mAP"],  # official split files, multi-label
    ("tutorial", "03"): ["medmnist-dermamnist", "'augment': 'mild'", "ACC", "AUC"],  # MedMNIST's own metrics
    ("tutorial", "04"): ["eurosat", "'augment': 'mild'", "AUC"],  # ten classes: one-vs-rest AUC
    ("tutorial", "05"): ["medmnist-dermamnist", "eurosat", "mild augmentation"],
}


def _outputs_text(nb) -> str:
    return "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )  # fmt: skip


def test_every_notebook_has_a_parameters_cell_and_an_entry_here():
    found = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert found == NAMES
    for name in found + APPENDIX:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"]
        assert ["parameters"] in tags[:1], f"{name}: the first code cell must be tagged 'parameters'"


@pytest.mark.parametrize("name", NAMES + APPENDIX)
def test_stored_outputs_are_present_and_clean(name):
    """nbval compares stored outputs: a notebook saved without them would pass vacuously."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    with_output = [c for c in cells if c.outputs]
    assert len(with_output) >= len(cells) // 2, f"{name}: run `make refresh-notebooks` to store outputs"
    assert not any(o.output_type == "error" for c in cells for o in c.outputs)
    text = _outputs_text(nb)
    if Path(name).name.startswith(("03", "04", "05", "07")):  # offline results come from stand-in data: they say so
        assert "(stand-in)" in text
    if name.startswith("06"):  # CI reproduces on synthetic fixtures, and every table says so
        assert "synthetic fixture, not results" in text and "SR-LoRA, authors" in text


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "name"), sorted(ON_FIXTURES))
def test_preset_runs_end_to_end_on_fixtures(preset, name, fixture_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SRLORA_DATA", str(fixture_data))  # the kernel inherits it
    out = tmp_path / name
    parameters = {"preset": preset, **ON_FIXTURES[preset, name]}
    if name.startswith("05"):
        parameters["records"] = str(tmp_path / "study.jsonl")
    pm.execute_notebook(NOTEBOOKS / name, out, parameters=parameters, cwd=NOTEBOOKS, progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    if name.startswith("05"):  # from its section 4 on it reads the offline study's shipped records whatever the preset
        shared = "## 4. Why one shared"
        heading = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and shared in c.source)
        assert "(stand-in)" in _outputs_text(nbformat.from_dict({**nb, "cells": nb.cells[heading:]}))
        nb.cells = nb.cells[:heading]
    text = _outputs_text(nb) + "".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells
                                       if c.cell_type == "code" for o in c.outputs)  # fmt: skip
    assert "synthetic fixture" in text and "not results" in text and "(stand-in)" not in text
    if preset == "paper":  # the paper recipe ran
        assert ("'normalize': 'official'" in text and "'augment': 'official'" in text) or (
            "official augmentation, official normalisation" in text
        )
    for expected in EXPECTED.get((preset, name[:2]), []):
        assert expected in text, expected


@pytest.mark.parametrize("name", NAMES + APPENDIX)
def test_notebooks_carry_no_volatile_metadata(name):
    """Timings change on every run: stripped (make refresh-notebooks), so diffs stay small. Execution counts stay
    (nbval refuses outputs without them) and, from a fresh top-to-bottom run, they number the code cells 1, 2, ..."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert "papermill" not in nb.metadata, f"{name}: run `make refresh-notebooks` (strips papermill metadata)"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in nb.cells:
        assert not {"papermill", "execution"} & set(cell.metadata), f"{name}: volatile cell metadata left"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))


@pytest.mark.parametrize("name", NAMES + APPENDIX)
def test_paired_percent_scripts_match_their_notebooks(name):
    """Reviewers read notebooks/NN_*.py (jupytext percent format); it must hold exactly the notebook's cells."""
    import jupytext

    script = NOTEBOOKS / name.replace(".ipynb", ".py")
    assert script.is_file(), f"{script.name} is missing: run `jupytext --sync notebooks/{name}`"
    paired = jupytext.read(script)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert [(c.cell_type, c.source) for c in paired.cells] == [(c.cell_type, c.source) for c in nb.cells]


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_ends_with_exercises_and_their_solutions(name):
    """2-4 numbered exercises in a cell tagged 'exercise', each marked graded or open-ended, then solution cells tagged
    'solution' and the graded items' checks tagged 'check' / 'check-hidden' (executed and checked by nbval like every
    cell, so the reference solutions pass their own checks). They come last, so the student release (`make student`:
    srlora_utils.course.student) is the notebook's prefix plus the questions, and runs as it does."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    first = next(i for i, t in enumerate(tags) if "exercise" in t)
    items = [line for line in nb.cells[first].source.splitlines() if line[:3] in {f"{k}. " for k in range(1, 10)}]
    assert 2 <= len(items) <= 4, f"{name}: {len(items)} exercises"
    assert all("graded" in item or "open-ended" in item for item in items), f"{name}: mark each item graded/open-ended"
    after = nb.cells[first + 1 :]
    assert len([c for c in after if "solution" in c.metadata.get("tags", [])]) >= len(items) - 1
    kinds = {"solution", "check", "check-hidden"}
    assert all(kinds & set(c.metadata.get("tags", [])) for c in after if c.cell_type == "code")
    assert all(
        not c.outputs or not any(o.output_type == "error" for o in c.outputs) for c in after if c.cell_type == "code"
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_lesson_has_a_students_frame_with_its_reading_time(name):
    """Objectives, prerequisites and time at the top, takeaways before the exercises, the glossary linked; the
    reading time the lesson states is the rule's (srlora_utils.course.reading), within 5 minutes, and at most 45."""
    import re

    from srlora_utils.course.reading import lesson_reading

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    top = "\n".join(c.source for c in nb.cells[:4] if c.cell_type == "markdown")
    for part in ("**You will learn**", "**Before you start**", "**Time**", "(glossary.md)"):
        assert part in top, f"{name}: the frame at the top lacks {part}"
    stated = re.search(r"reading about (\d+) minutes", top)
    assert stated, f"{name}: the frame must say 'reading about N minutes'"
    minutes = lesson_reading(NOTEBOOKS / name).minutes
    assert minutes <= 45, f"{name}: {minutes:.0f} minutes of reading; a lesson takes at most 45"
    assert abs(int(stated.group(1)) - minutes) <= 5, f"{name} states {stated.group(1)} minutes; the rule: {minutes:.0f}"
    first_exercise = next(i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", []))
    assert any("## Takeaways" in c.source for c in nb.cells[:first_exercise] if c.cell_type == "markdown")
