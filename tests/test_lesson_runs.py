"""The lessons' shipped runs: every default run of 03, 04 and 06 is in them, a sweep reads them and never writes them,
and the live re-check passes on a faithful record and fails on one perturbed beyond one test image. The raw-pixel
logistic regression is at its optimum, so it prints the same digits on every machine."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import srlora_utils as S
from srlora_utils.data.shipped import shipped_path
from srlora_utils.experiments import (
    LESSON_RECORDS,
    base_config,
    grid_configs,
    grid_settings,
    notebook_settings,
    recheck,
    run_configs,
)
from srlora_utils.experiments.baselines import LOGISTIC, _pixels
from srlora_utils.experiments.sweeps import sweep_configs
from srlora_utils.training.config import TrainConfig, config_key

QUICK = dict(task="digits", shots=1, img_size=28, epochs=2, batch_size=4, warmup_iters=2)


def _lesson_configs() -> dict[str, list[TrainConfig]]:
    """The runs lessons 03, 04 and 06 make with their default parameters (as the notebooks build them)."""
    out = {}
    for lesson, domain in (("03", "medical"), ("04", "remote_sensing")):
        s = notebook_settings(domain, "offline")
        out[lesson] = sweep_configs(base_config(s), s["methods"], s["seeds"], s["shots"])
    s = notebook_settings("remote_sensing", "offline")  # 04's exercise: srlora under rsLoRA on the first seed
    out["04"].append(dataclasses.replace(base_config(s), method="srlora", scaling="rslora", shots=s["shots"][0],
                                         seed=s["seeds"][0]))  # fmt: skip
    out["06"] = grid_configs(grid_settings("reproduction:paper", tiny=True))
    return out


def test_every_default_run_of_the_lessons_is_shipped():
    """Otherwise a lesson would silently train it (minutes) and print numbers of this machine."""
    shipped = {r["key"]: r for r in S.read_records(shipped_path(LESSON_RECORDS))}
    for lesson, configs in _lesson_configs().items():
        missing = [c for c in configs if config_key(c) not in shipped]
        assert not missing, f"lesson {lesson}: {len(missing)} default runs are not in {LESSON_RECORDS}: " \
                            "run `make lesson-records`"  # fmt: skip
        for c in configs:
            record = shipped[config_key(c)]
            assert record["test_images"] > 0 and record["numerics"]["threads"] >= 1
            assert record["fixture"] == (lesson == "06") and record["standin"] == (lesson != "06")


def test_a_sweep_reads_shipped_runs_and_never_writes_them(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.jsonl"
    records = tmp_path / "mine.jsonl"
    configs = [TrainConfig(**QUICK, method="linear_probe", seed=s) for s in (0, 1)]
    run_configs(configs[:1], records=str(shipped), progress=False)
    before = shipped.read_bytes()
    runs = run_configs(configs, records=str(records), shipped=shipped, progress=False)
    assert [r["key"] for r in runs] == [config_key(c) for c in configs]
    assert shipped.read_bytes() == before  # read, never written
    assert [r["key"] for r in S.read_records(records)] == [config_key(configs[1])]  # only the run trained here

    def refuse(*args, **kwargs):
        raise AssertionError("a shipped or recorded run was trained again")

    monkeypatch.setattr("srlora_utils.experiments.sweeps.train", refuse)
    again = run_configs(configs, records=str(records), shipped=shipped, progress=False)
    assert [r["test"] for r in again] == [r["test"] for r in runs]


def test_recheck_matches_its_own_record_and_fails_beyond_one_test_image(tmp_path, capsys):
    shipped = tmp_path / "shipped.jsonl"
    cfg = TrainConfig(**QUICK, method="lora", seed=0)
    runs = run_configs([cfg], records=str(shipped), progress=False)
    table = recheck(runs, "lora", shipped=shipped)
    assert table.loc["accuracy", "difference"] == 0 and table.loc["selected epoch", "difference"] == 0
    assert "trained again here" in capsys.readouterr().out
    one_image = 100 / runs[0]["test_images"]
    near = json.loads(json.dumps(runs[0]))
    near["test"]["accuracy"] += 0.9 * one_image  # within one test image: another machine's rounding
    recheck([near], "lora", shipped=shipped)
    far = json.loads(json.dumps(runs[0]))
    far["test"]["accuracy"] += 1.5 * one_image
    with pytest.raises(AssertionError, match="more than another machine's rounding explains"):
        recheck([far], "lora", shipped=shipped)


def test_recheck_has_nothing_to_do_when_every_run_trained_here(tmp_path, capsys):
    cfg = TrainConfig(**QUICK, method="linear_probe", seed=0)
    runs = run_configs([cfg], progress=False)
    assert recheck(runs, "linear_probe", shipped=tmp_path / "none.jsonl").empty
    assert "nothing to re-check" in capsys.readouterr().out


def test_lesson_records_missing_is_one_line(tmp_path, monkeypatch):
    from srlora_utils.experiments import lesson_runs as module

    monkeypatch.setattr(module, "shipped_path", lambda relative: tmp_path / relative)
    with pytest.raises(S.SrLoraError, match="rerun=True") as err:
        module.lesson_records()
    assert "\n" not in str(err.value)
    assert module.lesson_records(rerun=True) is None


def test_display_path_is_the_same_from_any_working_directory(tmp_path, monkeypatch):
    target = shipped_path(LESSON_RECORDS)
    here = S.display_path(target)
    monkeypatch.chdir(tmp_path)
    assert S.display_path(target) == here == LESSON_RECORDS
    assert S.display_path(tmp_path / "x.jsonl") == str(tmp_path / "x.jsonl")


def test_copy_of_the_shipped_records_reads_the_same(tmp_path):
    """The records are plain JSON lines: a copy anywhere (a student's course folder) reads identically."""
    copy = tmp_path / "records.jsonl"
    shutil.copyfile(shipped_path(LESSON_RECORDS), copy)
    assert S.read_records(copy) == S.read_records(shipped_path(LESSON_RECORDS))


@pytest.mark.parametrize(("task", "shots"), [("textures", 3), ("lfw", 5)])
def test_raw_pixel_logistic_regression_is_at_its_optimum(task, shots):
    """The first-order condition of L2 logistic regression (C = 1) holds to 1e-6 of the weights' scale: the solution
    is the problem's unique optimum, not a point where a solver happened to stop."""
    t = S.load_task(task, shots, 0, img_size=56, augment="none")
    x, y = _pixels(t.train_without_augmentation())
    model = LogisticRegression(**LOGISTIC).fit(x, y)
    w = np.atleast_2d(model.coef_)
    logits = x @ w.T + model.intercept_
    if w.shape[0] == 1:  # binary: one weight vector, sigmoid
        p = 1 / (1 + np.exp(-logits[:, 0]))
        residual = (p - (y == model.classes_[1]))[:, None]
    else:
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        residual = p - (y[:, None] == model.classes_[None, :])
    grad_w = residual.T @ x + w  # C * sum of the losses' gradients + the penalty's
    grad_b = residual.sum(0)
    scale = np.abs(w).max()
    assert np.abs(grad_w).max() < 1e-6 * scale and np.abs(grad_b).max() < 1e-6, (np.abs(grad_w).max(), scale)
