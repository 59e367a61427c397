"""The "How to extend" page (docs/extending.md) works as written: its code blocks run in order, and what they add
(a method row, a dataset family, a backbone from a checkpoint) behaves as the rest of the kit's."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srlora_utils as S
from srlora_utils.data.tasks import TASK_FAMILIES
from srlora_utils.training.methods import METHOD_SPECS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "extending.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def _tree(root: Path, per_class: int = 12) -> None:
    """An ImageFolder tree of two classes that a ViT can tell apart (dark and bright noise)."""
    rng = np.random.default_rng(0)
    for c, (name, level) in enumerate((("dark", 40), ("bright", 210))):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(level, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{c}_{i}.png")


@pytest.mark.slow
def test_the_extending_page_runs_as_written(tmp_path, monkeypatch):
    blocks = _blocks()
    assert len(blocks) == 4, "the page's code blocks changed: update this test's checks"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRLORA_DATA", str(tmp_path / "data"))
    _tree(tmp_path / "data" / "my-trees" / "leaves")
    monkeypatch.setattr("srlora_utils.training.methods.METHOD_SPECS", dict(METHOD_SPECS))
    monkeypatch.setattr("srlora_utils.data.tasks.TASK_FAMILIES", dict(TASK_FAMILIES))
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(PAGE), "exec"), namespace)

    # The method row trains like any method: DoRA on the budget rule's ranks (same ranks as srlora_budget).
    record = namespace["record"]
    assert record["config"]["method"] == "srlora_budget_dora" and 0 <= record["test"]["accuracy"] <= 100
    from srlora_utils.training.methods import MethodContext, prepare_method

    budget = prepare_method(S.load_backbone(num_classes=2, img_size=28, seed=0), "srlora_budget", MethodContext())
    assert record["ranks"] == budget.ranks()
    assert record["trainable_params"] > budget.info["trainable_params"]  # DoRA's magnitude vectors on top

    # The dataset family loads through load_task, from the data folder, with the kit's splits.
    task = namespace["task"]
    assert task.class_names == ["bright", "dark"] and len(task.train) == len(task.val) == 4
    with pytest.raises(S.SrLoraError, match="already registered"):
        from srlora_utils.data.tasks import TaskFamily, register_task

        register_task(TaskFamily("mytrees", "mytrees", lambda r: task))

    # The backbone from a checkpoint has the offline backbone's stable ranks.
    offline = S.spectral_profile(S.split_qkv(S.load_backbone(img_size=56)), target="official")
    assert np.allclose(namespace["profile"]["stable_rank"], offline["stable_rank"])
