"""Notebook 05's two protocols read side by side (srlora_utils.analysis.tuned_study): only the rule's confirmation
runs are read, verdicts follow the records (perturb a record and the reading flips), and the side-by-side table names
what changed. Records are made by hand: no run trains."""

import dataclasses

import numpy as np
import pytest

from conftest import retrain_stored_run, tuned_grid_text
from srlora_utils.analysis.baseline_study import StudyDesign, comparison_table
from srlora_utils.analysis.tuned_study import (
    confirmation_runs,
    last_epoch_table,
    progress_table,
    protocol_table,
    q3_power_table,
    read_protocol_changes,
    scale_table,
    selection_curves,
    tuned_files,
)
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.grids import grid_settings
from srlora_utils.experiments.tuning import TuningPlan, tuning_state
from srlora_utils.training.config import config_key

GRID = tuned_grid_text(
    20,
    '{ "textures:large-test" = 3 }',
    "confirmation_seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\nq3_half_width = 4.0",
    '[[blocks]]\nmethods = ["lora", "srlora_budget", "adalora"]\n'
    'vary = { lr = [3e-4, 1e-3, 3e-3], scaling = ["paper", "rslora"] }',
)
SHARED = np.random.default_rng(0).normal(0, 5, size=200)  # a seed effect every method shares: pairing removes it


def _record(cfg, test):
    noise = np.random.default_rng([cfg.seed, len(cfg.method)]).normal(0, 0.3)
    val = 80 - abs(np.log10(cfg.lr / 1e-3)) * 10 + (5 if cfg.scaling == "rslora" else 0) + (cfg.seed % 3) * 0.1
    return {"key": config_key(cfg), "config": dataclasses.asdict(cfg), "task": f"{cfg.task} (stand-in)",
            "standin": True, "fixture": False, "steps": 100, "val": {"accuracy": val},
            "test": {"accuracy": test + SHARED[cfg.seed] + noise}, "test_last": {"accuracy": test - 1.0},
            "lora_params": 800, "update_scale": 0.35 if cfg.scaling == "rslora" else 0.125,
            "weight_change": 0.01, "total_s": 10.0}  # fmt: skip


def _tuned(tmp_path, offsets):
    path = tmp_path / "tuned.toml"
    path.write_text(GRID)
    settings = grid_settings(str(path))
    records: dict = {}
    for _ in range(4):  # selection, edge (none here), confirmation: a resumed queue's rounds
        for cfg in tuning_state(settings, records).configs():
            records.setdefault(config_key(cfg), _record(cfg, 70 + offsets.get(cfg.method, 0.0)))
    return settings, list(records.values())


def _official(offsets):
    runs = []
    for m in ("lora", "srlora_budget", "adalora"):
        for s in range(10):
            cfg = {"task": "textures", "method": m, "seed": s, "shots": 3, "exp": None, "scaling": "paper",
                   "backbone": None, "img_size": 56, "epochs": 20}  # fmt: skip
            runs.append({"key": f"{m}{s}", "config": cfg, "task": "textures (stand-in)", "standin": True,
                         "fixture": False, "steps": 100, "lora_params": 800, "total_s": 10.0,
                         "test": {"accuracy": 70 + offsets.get(m, 0.0) + SHARED[s]}})  # fmt: skip
    return runs


def test_only_the_rules_confirmation_runs_are_read(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    read = confirmation_runs(settings, runs)
    assert {r["config"]["seed"] for r in read} == set(range(10))
    assert {(r["config"]["lr"], r["config"]["scaling"]) for r in read} == {(1e-3, "rslora")}
    assert len(read) == 30 and len(runs) == 3 * 6 * 3 + 30
    table = progress_table(settings, runs)
    assert table.loc["selection", "recorded"] == 54 and table.loc["confirmation", "recorded"] == 30
    curves = selection_curves(settings, runs)
    assert curves["chosen"].sum() == 3 and set(curves[curves["chosen"]]["lr"]) == {1e-3}


def test_a_tuned_design_names_cells_by_method_and_reads_the_same_rules(tmp_path):
    settings, runs = _tuned(tmp_path, {"srlora_budget": 5.0})
    design = StudyDesign.from_settings(settings)
    assert design.tuned and not StudyDesign.from_settings({"primary": {}}).tuned
    table = comparison_table(confirmation_runs(settings, runs), design)
    row = table.loc[("Q1", "textures:large-test (stand-in)", 3, "srlora_budget", "lora")]
    assert row["verdict"] == "ahead" and row["pairs"] == 10 and row["difference"] == pytest.approx(5.0, abs=0.5)


def test_perturbing_the_records_flips_the_verdicts_and_the_reading_names_them(tmp_path):
    official = _official({"srlora_budget": 5.0, "adalora": -8.0})
    settings, tuned = _tuned(tmp_path, {"srlora_budget": 5.0, "adalora": -8.0})
    design_o, design_t = StudyDesign(), StudyDesign.from_settings(settings)
    same = protocol_table(official, design_o, confirmation_runs(settings, tuned), design_t)
    assert not same["changed"].any()
    early = protocol_table(official, design_o, [r for r in tuned if r["config"]["method"] == "lora"], design_t)
    assert (early["verdict tuned"] == "not read").all() and len(early) == len(same)  # nothing pairs yet
    assert f"{len(early)} comparisons of Q1, Q3 have no tuned verdict" in str(read_protocol_changes(early))
    assert q3_power_table([], design_t, TuningPlan.from_settings(settings)).empty
    assert "**0 change verdict**" in str(read_protocol_changes(same))
    settings, tuned = _tuned(tmp_path, {"srlora_budget": 0.0, "adalora": 5.0})  # the tuned records now say otherwise
    moved = protocol_table(official, design_o, confirmation_runs(settings, tuned), design_t)
    q1 = moved.loc[("Q1", "textures (stand-in)", 3, "srlora_budget", "lora")]
    assert q1["verdict official"].startswith("ahead") and q1["verdict tuned"].startswith("equivalent")
    assert q1["changed"]
    q3 = moved.loc[("Q3", "textures (stand-in)", 3, "srlora_budget", "adalora")]
    assert q3["verdict official"].startswith("ahead") and q3["verdict tuned"].startswith("behind")
    text = str(read_protocol_changes(moved))
    assert f"**{int(moved['changed'].sum())} change verdict**" in text
    assert "`srlora_budget` − `lora` on textures (stand-in), 3-shot" in text
    assert "`srlora_budget` − `adalora`" in text


def test_question_3s_power_and_the_scale_and_last_epoch_tables(tmp_path):
    settings, runs = _tuned(tmp_path, {"srlora_budget": 2.0})
    design, plan = StudyDesign.from_settings(settings), TuningPlan.from_settings(settings)
    read = confirmation_runs(settings, runs)
    power = q3_power_table(read, design, plan)
    row = power.loc[("textures:large-test (stand-in)", "srlora_budget", "adalora")]
    assert row["pairs"] == 10 and row["target met"] and row["half-width reached"] < 4.0
    scales = scale_table(read, design)
    assert scales.loc[("textures:large-test (stand-in)", "lora"), "update scale"] == pytest.approx(0.35)
    assert scales.loc[("textures:large-test (stand-in)", "lora"), "scaling"] == "rslora"
    last = last_epoch_table(read, design=design)
    assert last.loc[("textures:large-test (stand-in)", 3, "lora"), "selected - last"] > 0


def test_missing_tuned_records_fail_in_one_line(tmp_path):
    with pytest.raises(SrLoraError, match="tuned study's records .* are missing") as err:
        tuned_files(str(tmp_path / "none.jsonl"))
    assert "\n" not in str(err.value)


def _shipped_tuned():
    from srlora_utils.training.records import read_records

    grid, records = tuned_files()
    return grid_settings(str(grid)), read_records(records)


def test_shipped_tuned_records_are_the_grids_runs_on_stand_ins():
    settings, runs = _shipped_tuned()
    state = tuning_state(settings, {r["key"]: r for r in runs})
    known = {config_key(c) for c in state.configs()}
    assert {r["key"] for r in runs} <= known, "a shipped record is no run of grids/tuned-study.toml"
    assert all(r["standin"] and r["config"]["peers"] == "authors" and r["config"]["select_after_warmup"] for r in runs)
    textures = [r for r in runs if r["config"]["task"] == "textures:large-test"]
    assert textures and all(r["test_images"] == 1200 and "AUC" in r["test"] for r in textures)
    assert all(r["best_epoch"] * r["steps"] / r["config"]["epochs"] > r["config"]["warmup_iters"] for r in runs)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["selection", "confirmation"])
def test_stored_tuned_runs_reproduce_when_trained_again(stage):
    """One selection run and one confirmation run of the shipped tuned study, trained again as `srlora tune` trains
    them: the same selected epoch and test metrics within one test image (1,200 textures patches: 0.083 points)."""
    settings, runs = _shipped_tuned()
    if stage == "selection":
        stored = next(r for r in runs if r["config"]["seed"] in (100, 101, 102))
    else:
        stored = next(r for r in confirmation_runs(settings, runs) if r["config"]["task"] == "textures:large-test")
    again = retrain_stored_run(settings, runs, stored)
    assert again["weight_change"] == pytest.approx(stored["weight_change"], rel=1e-3)


def test_the_selection_curves_figure_has_a_panel_per_method_and_task_and_rings_each_choice(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from srlora_utils import plot_selection_curves

    settings, runs = _tuned(tmp_path, {})
    curves = selection_curves(settings, runs)
    fig = plot_selection_curves(curves, "offline ViT-S/14 on a hand-made textures stand-in")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3  # lora, srlora_budget, adalora on one task
    assert all(ax.get_xscale() == "log" for ax in visible) and "learning rate" in visible[-1].get_xlabel()
    assert all("val accuracy" in ax.get_ylabel() for ax in visible)
    assert [len(ax.get_lines()) for ax in visible] == [2, 2, 2]  # 1/r and 1/sqrt(r)
    assert sum(len(c.get_offsets()) for ax in visible for c in ax.collections) == int(curves["chosen"].sum()) == 3
    unrun = curves.assign(**{"val mean": [float("nan")] * 6 + list(curves["val mean"][6:])})  # lora not run yet
    assert len([ax for ax in plot_selection_curves(unrun).axes if ax.get_visible()]) == 2


def test_the_winners_curse_shows_when_selection_favours_a_lucky_candidate(tmp_path):
    from srlora_utils.analysis.tuned_study import winners_curse_table

    path = tmp_path / "tuned.toml"
    path.write_text(GRID)
    settings = grid_settings(str(path))
    records: dict = {}
    for _ in range(4):
        for cfg in tuning_state(settings, records).configs():
            rec = _record(cfg, 70.0)
            if cfg.method == "lora" and (cfg.lr, cfg.scaling) == (3e-3, "paper") and cfg.seed >= 100:
                rec["val"]["accuracy"] += 30  # a lucky candidate: much better on the selection seeds only
            records.setdefault(config_key(cfg), rec)
    table = winners_curse_table(settings, list(records.values()))
    lucky = table.loc[("textures:large-test (stand-in)", "lora")]
    assert lucky["confirmation runs"] == 10 and lucky["drop"] > 25
    honest = table.loc[("textures:large-test (stand-in)", "srlora_budget")]
    assert abs(honest["drop"]) < 2
