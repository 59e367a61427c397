"""Notebooks: a parameters cell each; papermill parameter injection (cheap notebooks only: nbval already executes
every notebook once, and the training notebooks are not executed a second time); stored outputs present."""

from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = [
    "01_stable_rank_theory.ipynb", "02_rank_allocation.ipynb", "03_medical_fewshot.ipynb",
    "04_remote_sensing_fewshot.ipynb", "05_baseline_comparison.ipynb",
]  # fmt: skip
PAPERMILL = {  # parameters injected in a second, cheap execution
    "01_stable_rank_theory.ipynb": {"random_size": 128, "seed": 1},
    "02_rank_allocation.ipynb": {"r": 4, "target": "qv_separate"},
}


def test_every_notebook_has_a_parameters_cell_and_an_entry_here():
    found = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert found == NAMES
    for name in found:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"]
        assert ["parameters"] in tags[:1], f"{name}: the first code cell must be tagged 'parameters'"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PAPERMILL))
def test_notebook_runs_with_papermill(name, tmp_path):
    out = tmp_path / name
    pm.execute_notebook(NOTEBOOKS / name, out, parameters=PAPERMILL[name], cwd=NOTEBOOKS, progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1


@pytest.mark.parametrize("name", NAMES)
def test_stored_outputs_are_present_and_clean(name):
    """nbval compares stored outputs: a notebook saved without them would pass vacuously."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    with_output = [c for c in cells if c.outputs]
    assert len(with_output) >= len(cells) // 2, f"{name}: run `make refresh-notebooks` to store outputs"
    assert not any(o.output_type == "error" for c in cells for o in c.outputs)
    text = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for c in cells for o in c.outputs
    )
    if name.startswith(("03", "04", "05")):  # offline results come from stand-in data and must say so
        assert "(stand-in)" in text
