"""Notebook 05's pre-registered baseline study: the grid states what it registered, each question reads the
comparisons it names, verdicts follow the numbers (ahead, behind, equivalent, not resolved), Holm counts them all,
and the shipped records reproduce when a few of their runs are trained again."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from srlora_utils.analysis.baseline_study import (
    RSLORA,
    StudyDesign,
    cell_name,
    comparison_table,
    design_table,
    power_table,
    read_design,
    read_multiplicity,
    read_power,
    read_question,
    study_files,
)
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.grids import grid_configs, grid_settings
from srlora_utils.training.config import config_key
from srlora_utils.training.records import read_records
from srlora_utils.training.run import train

REPO = Path(__file__).resolve().parents[1]
GRID = REPO / "grids" / "baseline-study.toml"
DESIGN = StudyDesign(questions={"Q1": "Primary?", "Q3": "Peers?"}, planning_sd=5.6)
PEERS = ["adalora", "dylora", "eva", "pissa", "dora"]


def _run(method, seed, acc, task="textures", shots=3, scaling="paper"):
    return {
        "task": f"{task} (stand-in)", "standin": True, "fixture": False, "steps": 100,
        "config": {"task": task, "method": method, "seed": seed, "shots": shots, "exp": None, "scaling": scaling,
                   "backbone": None, "img_size": 56, "epochs": 20},
        "test": {"accuracy": acc}, "lora_params": 4500 if method.startswith("srlora") and method != "srlora_budget"
        else 800, "total_s": 10.0, "finished_at": "2026-11-30T05:00:00+00:00",
    }  # fmt: skip


def _study(offsets, seeds=range(12), noise=0.3, shots=3, rs=None):
    """Every cell at LoRA 70% + offset + a seed effect shared by all cells (pairing removes it) + small own noise."""
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 5, size=100)
    methods = ["lora", "srlora", "srlora_budget", "srlora_nested", *PEERS]
    runs = [_run(m, s, 70 + offsets.get(m, 0.0) + shared[s] + rng.normal(0, noise), shots=shots)
            for m in methods for s in seeds]  # fmt: skip
    for m, off in (rs or {}).items():
        runs += [_run(m, s, 70 + off + shared[s] + rng.normal(0, noise), shots=shots, scaling="rslora") for s in seeds]
    return runs


def test_the_registered_grid_states_questions_primary_and_run_counts():
    settings = grid_settings(str(GRID))
    design = StudyDesign.from_settings(settings)
    assert sorted(design.questions) == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert (design.method, design.reference, design.half_width, design.margin) == ("srlora_budget", "lora", 2.5, 2.0)
    configs = grid_configs(settings)
    assert len(configs) == len({config_key(c) for c in configs}) == 424  # blocks overlap; each run once
    per_cell = {}
    for c in configs:
        per_cell.setdefault((c.task, c.shots, c.method, c.scaling), set()).add(c.seed)
    assert min(len(s) for s in per_cell.values()) >= 10  # at least 10 seeds in every cell
    assert len(per_cell[("textures", 3, "srlora_budget", "paper")]) == len(per_cell[("lfw", 5, "lora", "paper")]) == 24
    assert {c.method for c in configs if c.scaling == "rslora"} == {"lora", "srlora_budget", "srlora"}
    # at least 60 optimiser steps (batch 4): 1-shot textures (6 images, 2 steps per epoch) runs 30 epochs
    assert {c.epochs for c in configs if c.shots == 1} == {30} and {c.epochs for c in configs if c.shots > 1} == {20}
    table = design_table(settings)
    assert table["new runs"].sum() == 424 and list(table["question"]) == ["Q1 Q2 Q3", "Q1", "Q4", "Q5", "Q5"]
    assert "needs 22 pairs" in read_design(design).text
    # CI size collapses every block to one seed and one epoch; an override holds in every block
    assert {c.seed for c in grid_configs(grid_settings(str(GRID), tiny=True))} == {0}
    assert {c.epochs for c in grid_configs(grid_settings(str(GRID), epochs=2))} == {2}
    for name in ("tutorial", "paper"):
        other = grid_configs(grid_settings(str(study_files(name)[0])))
        assert {c.scaling for c in other} == {"paper", "rslora"} and len(other) > 400


def test_a_grid_refuses_unknown_block_and_primary_keys(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('methods = ["lora"]\n[tasks]\nlfw = 5\n[[blocks]]\nlr = 0.1\n')
    with pytest.raises(SrLoraError, match=r"blocks\[0\]: keys \['lr'\] cannot vary per block"):
        grid_settings(str(bad))
    bad.write_text('methods = ["lora"]\n[tasks]\nlfw = 5\n[primary]\nalpha = 0.1\n')
    with pytest.raises(SrLoraError, match=r"\[primary\] may set only"):
        grid_settings(str(bad))
    bad.write_text('methods = ["lora"]\n[tasks]\nlfw = 5\n[[blocks]]\nscaling = "sqrt"\n')
    with pytest.raises(SrLoraError, match="scaling 'sqrt' unknown"):
        grid_settings(str(bad))
    with pytest.raises(SrLoraError, match="unknown preset 'laptop'"):
        study_files("laptop")


def test_missing_shipped_records_fail_in_one_line_instead_of_training_the_study(monkeypatch):
    import srlora_utils.analysis.baseline_study as study

    monkeypatch.setattr(study, "SHIPPED_RECORDS", "results/baseline-study/nowhere.jsonl")
    with pytest.raises(SrLoraError, match=r"shipped study records .* are missing: restore them .* rerun=True"):
        study_files("offline")
    assert study_files("offline", rerun=True)[1].parent.name == "baseline-study-offline-rerun"


def test_verdicts_follow_the_numbers_ahead_behind_equivalent_not_resolved():
    ahead = comparison_table(_study({"srlora_budget": 3.0}), DESIGN).loc["Q1"].iloc[0]
    behind = comparison_table(_study({"srlora_budget": -3.0}), DESIGN).loc["Q1"].iloc[0]
    same = comparison_table(_study({}, seeds=range(24)), DESIGN).loc["Q1"].iloc[0]
    noisy = comparison_table(_study({"srlora_budget": 1.0}, seeds=range(4), noise=6.0), DESIGN).loc["Q1"].iloc[0]
    assert (ahead["verdict"], behind["verdict"]) == ("ahead", "behind") and ahead["pairs"] == 12
    assert same["verdict"] == "equivalent within ±2" and -2 < same["eq low (90%)"] < same["eq high (90%)"] < 2
    assert noisy["verdict"] == "not resolved"
    assert ahead["holm"] and not same["holm"]


def test_each_question_reads_its_comparisons_and_the_words_follow():
    runs = _study({"srlora_budget": 3.0}, rs={"lora": 4.0, "srlora_budget": 4.0, "srlora": 4.0})
    runs += _study({}, shots=1)  # a lower shot count of the same task: question 5
    table = comparison_table(runs, DESIGN)
    assert set(table.index.get_level_values("question")) == {"Q1", "Q2", "Q3", "Q4", "Q5"}
    assert len(table.loc["Q3"]) == 10 and set(table.loc["Q5"].index.get_level_values("shots")) == {1}
    assert ("lora" + RSLORA, "lora") in {(m, r) for *_, m, r in table.loc["Q4"].index}
    assert table.xs(("Q4", "lora" + RSLORA, "lora"), level=("question", "method", "reference"))["verdict"].iloc[0] == (
        "ahead"
    )
    q1 = read_question(runs, DESIGN, "Q1").text
    assert q1.startswith("**Q1.** Primary?") and "`srlora_budget` − `lora` on textures (stand-in), 3-shot: +" in q1
    assert "**ahead, survives Holm**" in q1
    assert (
        "`srlora`'s LoRA parameters are 5.6x on textures (stand-in), as a multiple"
        in read_question(runs, DESIGN, "Q2").text
    )
    better = read_question(_study({"srlora_budget": 4.0, "srlora": 4.0}), DESIGN, "Q3").text
    worse = read_question(_study({"adalora": 4.0}), DESIGN, "Q3").text
    assert "consistent with it: all 6 comparisons with an adaptive peer are ahead" in better
    assert "contradicted: 2 of the 6 comparisons with an adaptive peer are behind" in worse
    assert "10 comparisons" in better and better != worse
    tied = read_question(_study({}, seeds=range(4), noise=6.0), DESIGN, "Q3").text
    assert "not supported: of the 6 comparisons with an adaptive peer, 0 are ahead" in tied
    many = read_multiplicity(runs, DESIGN).text
    assert f"**{len(table)} comparisons**" in many and f"**{int(table['holm'].sum())} survive it**" in many


def test_power_says_whether_the_primary_comparison_reached_its_precision():
    power = power_table(_study({}, seeds=range(24), noise=1.0), DESIGN)
    row = power.iloc[0]
    assert row["pairs"] == 24 and row["target met"] and row["pairs needed"] < 24
    wide = power_table(_study({}, seeds=range(5), noise=8.0), DESIGN).iloc[0]
    assert not wide["target met"] and wide["pairs needed"] > 5
    assert "target **not met**" in read_power(_study({}, seeds=range(5), noise=8.0), DESIGN).text


def test_rslora_runs_are_their_own_cells():
    assert cell_name(_run("lora", 0, 1.0, scaling="rslora")) == "lora (rsLoRA)" and cell_name(_run("lora", 0, 1)) == (
        "lora"
    )


# --- the shipped study --------------------------------------------------------------------------------------------


def _shipped() -> list[dict]:
    return read_records(REPO / "results" / "baseline-study" / "records.jsonl")


def test_the_shipped_records_are_the_whole_registered_study():
    records = _shipped()
    keys = {config_key(c) for c in grid_configs(grid_settings(str(GRID)))}
    assert keys <= {r["key"] for r in records}, "records lack runs of the grid: run `make study`"
    assert all(r["standin"] for r in records)
    readme = (REPO / "results" / "baseline-study" / "README.md").read_text()
    assert "srlora sweep grids/baseline-study.toml" in readme and "stand-in" in readme


def test_stopping_at_perfect_validation_changed_no_number_of_the_study():
    """The shipped run stopped runs once validation was perfect; the study's first run (2026-11-30, 05:40-07:16 UTC)
    trained every run to the end. Its selected epochs and test numbers, kept in first-run.csv, are the shipped ones."""
    import csv

    with open(REPO / "results" / "baseline-study" / "first-run.csv", newline="") as f:
        first = {row["key"]: row for row in csv.DictReader(f)}
    shipped = _shipped()
    assert set(first) == {r["key"] for r in shipped} and len(first) == 424
    assert sum(r.get("stopped_at_epoch") is not None for r in shipped) > 50  # the stop did happen, often
    for r in shipped:
        row = first[r["key"]]
        assert r["best_epoch"] == int(row["best_epoch"]) and r["val"]["accuracy"] == float(row["val_accuracy"])
        for name in ("accuracy", "macro_f1", "AUC"):
            assert r["test"].get(name) == (float(row[f"test_{name}"]) if row[f"test_{name}"] else None), name
        rr = r.get("test_random_rank", {}).get("accuracy")
        assert rr == (float(row["test_random_rank_accuracy"]) if row["test_random_rank_accuracy"] else None)


@pytest.mark.slow
@pytest.mark.parametrize(("task", "shots", "method"), [("lfw", 5, "lora"), ("lfw", 5, "srlora_budget"),
                                                        ("lfw", 5, "adalora"), ("textures", 1, "srlora")])  # fmt: skip
def test_stored_runs_reproduce_when_trained_again(task, shots, method):
    """A few runs of the shipped study, trained again here as the grid trains them (stopping once validation is
    perfect): the same test metrics within one test image, and a stop only where the stored run had a perfect epoch
    it could select (AdaLoRA: not before its budget is final)."""
    settings = grid_settings(str(GRID))
    cfg = next(c for c in grid_configs(settings) if (c.task, c.shots, c.method, c.seed, c.scaling) == (
        task, shots, method, 3, "paper"))  # fmt: skip
    stored = next(r for r in _shipped() if r["key"] == config_key(cfg))
    assert settings["stop_at_perfect_val"] is True
    again = train(dataclasses.replace(cfg), progress=False, stop_at_perfect_val=True)
    if again["val"]["accuracy"] == 100:
        assert again["stopped_at_epoch"] == again["best_epoch"] and len(again["history"]) == again["best_epoch"]
    else:
        assert again["stopped_at_epoch"] is None and again["steps"] == again["schedule_steps"]
    from srlora_utils.data.tasks import load_task

    one_image = 100 / len(load_task(task, shots, 3, None, cfg.img_size, "none").test)
    for name, value in stored["test"].items():
        assert abs(again["test"][name] - value) <= one_image + 1e-9, (name, again["test"][name], value)
    assert again["best_epoch"] == stored["best_epoch"] or abs(again["val"]["accuracy"] - stored["val"]["accuracy"]) < 1
    assert json.dumps(again["ranks"], sort_keys=True) == json.dumps(stored["ranks"], sort_keys=True)
