"""The second registration (grids/registration-2/, srlora_utils.analysis.registration2): the shared-rate rule and
reused records of the tuning stages, the positive control's reading, intervals over test images, the rung-level slope
and the last-epoch rule. Each reading is checked on records made by hand, with the opposite fact planted to see the
words change; one stored run is trained again (slow)."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from conftest import retrain_stored_run, tuned_grid_text
from srlora_utils.analysis.comparison import Interval
from srlora_utils.analysis.registration2 import (
    CONTROLS,
    _last_epoch_records,
    control_conclusion,
    detectable_effect,
    difference,
    image_bootstrap,
    load_registration2,
    rung_slope,
)
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.grids import grid_settings
from srlora_utils.experiments.tuning import TuningPlan, reused_records, tuning_state
from srlora_utils.training.config import config_key
from srlora_utils.training.predictions import correct_matrix, decode_classes, encode_predictions

PAIR_BLOCK = '[[blocks]]\nmethods = ["lora", "srlora_budget"]\nvary = { lr = [3e-4, 1e-3, 3e-3], scaling = ["rslora"] }'


def _grid(tmp_path, tuning: str):
    path = tmp_path / "grid.toml"
    path.write_text(tuned_grid_text(20, '{ "textures:large-test" = 3 }', tuning, PAIR_BLOCK))
    return grid_settings(str(path))


def _val(cfg, prefer: dict) -> float:
    """lora peaks at 3e-4 by a little, srlora_budget at 1e-3 by a lot: their sum peaks at 1e-3."""
    return 80.0 + prefer[cfg.method].get(cfg.lr, 0.0)


def _fill(settings, prefer, rounds=4):
    records: dict = {}
    for _ in range(rounds):
        for cfg in tuning_state(settings, records).configs():
            records.setdefault(config_key(cfg), {"key": config_key(cfg), "config": dataclasses.asdict(cfg),
                                                 "val": {"accuracy": _val(cfg, prefer)}})  # fmt: skip
    return records


PREFER = {"lora": {3e-4: 2.0, 1e-3: 1.0}, "srlora_budget": {1e-3: 6.0}}


def test_a_shared_group_takes_the_candidate_with_the_best_sum(tmp_path):
    own = _grid(tmp_path, "confirmation_seeds = [0, 1]")
    state = tuning_state(own, _fill(own, PREFER))
    assert float(state.chosen[("textures:large-test", "lora")]["lr"]) == 3e-4  # its own best (the edge run lost)
    assert ("textures:large-test", "lora") in state.edge and ("textures:large-test", "srlora_budget") not in state.edge
    shared = _grid(tmp_path, 'confirmation_seeds = [0, 1]\nshared = [["lora", "srlora_budget"]]')
    state = tuning_state(shared, _fill(shared, PREFER))
    picks = {m: float(state.chosen[("textures:large-test", m)]["lr"]) for m in ("lora", "srlora_budget")}
    assert picks == {"lora": 1e-3, "srlora_budget": 1e-3}
    assert float(state.chosen[("textures:large-test", "lora")]["val mean"]) == 81.0  # each keeps its own score
    assert {c.lr for c in state.confirmation} == {1e-3} and len(state.confirmation) == 4
    # the opposite fact: lora's preference now outweighs srlora_budget's, so the shared choice moves to the edge,
    # where the edge rule runs one more rate for both methods
    flipped = {"lora": {3e-4: 9.0}, "srlora_budget": {1e-3: 6.0}}
    state = tuning_state(shared, _fill(shared, flipped))
    assert {float(state.chosen[("textures:large-test", m)]["lr"]) for m in ("lora", "srlora_budget")} == {3e-4}
    assert set(state.edge) == {("textures:large-test", "lora"), ("textures:large-test", "srlora_budget")}


def test_a_method_in_two_shared_groups_is_refused(tmp_path):
    with pytest.raises(SrLoraError, match="shared names a method in two groups"):
        TuningPlan.from_settings(_grid(tmp_path, 'confirmation_seeds = [0]\nshared = [["lora", "srlora_budget"], '
                                                 '["lora", "dora"]]'))  # fmt: skip


def test_reused_records_count_as_done_and_a_missing_file_is_one_line(tmp_path):
    settings = _grid(tmp_path, "confirmation_seeds = [0, 1]")
    records = _fill(settings, PREFER)
    other = tmp_path / "first.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in records.values()))
    plan = dataclasses.replace(TuningPlan.from_settings(settings), reuse=(str(other),))
    assert set(reused_records(plan)) == set(records)
    keys = {config_key(c) for c in tuning_state(settings, reused_records(plan)).configs()}
    assert keys <= set(records)  # nothing left to run
    with pytest.raises(SrLoraError, match="reuse names .* which is not there"):
        reused_records(dataclasses.replace(plan, reuse=(str(tmp_path / "none.jsonl"),)))


def _table(control_high: float, pair_verdict: str) -> pd.DataFrame:
    rows = [{"task": "t", "comparison": "srlora_budget − lora", "pairs": 24, "difference": 0.5, "ci low": -1.0,
             "ci high": 1.5, "sd": 3.0, "verdict": pair_verdict, "detectable": 1.8}]  # fmt: skip
    for c in CONTROLS:
        high = control_high if c == CONTROLS[0] else 1.0
        verdict = "behind" if high < 0 else "not resolved"
        rows.append({"task": "t", "comparison": f"{c} − lora", "pairs": 24, "difference": high - 2, "ci low": high - 4,
                     "ci high": high, "sd": 4.0, "verdict": verdict, "detectable": np.nan})  # fmt: skip
    return pd.DataFrame(rows).set_index(["task", "comparison"])


def test_the_positive_control_reading_follows_whether_a_control_is_detected():
    seen = control_conclusion(_table(-1.0, "equivalent within ±2"), "t")
    assert seen.startswith(f"`{CONTROLS[0]}` detected: the set-up sees allocation effects")
    blind = control_conclusion(_table(0.5, "equivalent within ±2"), "t")  # the opposite fact: no control detected
    assert blind.startswith("no control is detected: this set-up cannot see allocation")
    assert "stands as it is" in control_conclusion(_table(-1.0, "not resolved"), "t")


def test_detectable_effect_is_the_80_percent_power_difference():
    iv = Interval(0.0, -1.0, 1.0, 24, sd=5.0)
    assert detectable_effect(iv) == pytest.approx((2.0687 + 0.8575) * 5 / np.sqrt(24), rel=1e-3)
    assert np.isnan(detectable_effect(Interval(0.0, np.nan, np.nan, 1)))


def _run(method, seed, correct, labels, task="t"):
    predicted = np.where(correct, labels, (labels + 1) % 6)
    return {"key": f"{method}{seed}", "config": {"task": task, "method": method, "seed": seed},
            "test": {"accuracy": 100 * correct.mean()}, "test_last": {"accuracy": 100 * correct.mean()},
            "predictions": encode_predictions(predicted, predicted, labels)}  # fmt: skip


def test_the_image_bootstrap_resamples_images_and_pairs():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 600)
    runs = []
    for s in range(12):
        runs.append(_run("a", s, rng.random(600) < 0.80, labels))
        runs.append(_run("b", s, rng.random(600) < 0.70, labels))
    low, high = image_bootstrap(runs, "t", "a", "b", n_boot=400)
    iv = difference(runs, runs, "t", "a", "b")
    assert 0 < low < iv.mean < high and high - low > iv.high - iv.low - 1.0  # images add spread, not less
    same = [r for r in runs if r["config"]["method"] == "a"]
    twin = [{**r, "config": {**r["config"], "method": "b"}} for r in same]
    assert image_bootstrap(same + twin, "t", "a", "b", n_boot=50) == (0.0, 0.0)


def test_predictions_round_trip_and_unpaired_test_sets_are_one_line():
    labels = np.array([0, 5, 3, 1])
    enc = encode_predictions(np.array([0, 5, 2, 1]), labels, labels)
    assert enc is not None and (decode_classes(enc["test"]) == [0, 5, 2, 1]).all()
    assert correct_matrix([{"predictions": enc}]).tolist() == [[1, 1, 0, 1]]
    other = encode_predictions(labels, labels, np.array([1, 5, 3, 1]))
    with pytest.raises(SrLoraError, match="tested on other images"):
        correct_matrix([{"predictions": enc}, {"key": "x", "predictions": other}])
    assert encode_predictions(np.array([70]), np.array([70]), np.array([70])) is None  # beyond the alphabet


def _points(slope: float, source_offset: float) -> pd.DataFrame:
    gaps = {"digits": [47, 16, 27, 13, 18, 17], "fashion": [8, 4, -8, 18, 13, 6]}
    rows = []
    for source, values in gaps.items():
        for i, g in enumerate(values):
            wobble = 0.2 * np.sin(3 * i + len(source))
            d = slope * g + (source_offset if source == "digits" else 0) + wobble
            rows.append({"task": f"{source}{i}", "source": source, "gap": g, "difference": d, "pairs": 10})
    return pd.DataFrame(rows).set_index("task")


def test_the_rung_level_slope_finds_a_planted_slope_and_separates_the_source():
    assert rung_slope(_points(0.1, 0.0)).verdict == "grows"
    assert rung_slope(_points(-0.1, 0.0)).verdict == "shrinks"
    flat = rung_slope(_points(0.0, 3.0))  # a level difference between sources, no slope within them
    assert flat.verdict == "not resolved" and abs(flat.slope) < 0.05 and flat.df == 12 - 3
    pooled = rung_slope(_points(0.0, 3.0), source_effect=False)  # one intercept reads the level as slope
    assert pooled.slope > 0.05


def test_the_last_epoch_rule_reads_the_last_validation_score():
    record = {"key": "k", "val": {"accuracy": 90.0}, "history": [{"val_accuracy": 90.0}, {"val_accuracy": 70.0}]}
    assert _last_epoch_records({"k": record})["k"]["val"] == {"accuracy": 70.0}


def test_the_shipped_registration_loads_and_reports_its_progress():
    reg = load_registration2()
    table = reg.progress_table()
    assert list(table.index) == ["positive-control", "adalora-scripts", "selection-pool", "long-schedule",
                                 "ladder-rungs"]  # fmt: skip
    assert (table["recorded"] <= table["asked for so far"]).all()
    assert len(reg.gaps) == 12
    # the reused runs of the first gap ladder count: part 5's old rungs need only the runs the shared rate changes
    assert table.loc["ladder-rungs", "recorded"] >= 290


@pytest.mark.slow
def test_a_stored_run_of_the_second_registration_trains_again_within_one_image():
    reg = load_registration2()
    study = reg.studies["positive-control"]
    stored = next((r for r in study.runs if r["config"]["task"] == "lfw" and "predictions" in r), None)
    if stored is None:
        pytest.fail("the positive control has no LFW run recorded: run `make registration-2`")
    retrain_stored_run(study.settings, list(study.records.values()), stored)


def test_busy_wall_time_counts_overlaps_once_and_pauses_not_at_all():
    from srlora_utils.analysis.registration2 import Registration2, Study, compute_table

    def run(key: str, end: str, seconds: float) -> dict:
        return {"key": key, "finished_at": f"2026-12-07T{end}+00:00", "total_s": seconds}

    # two runs side by side (10:00-10:10 and 10:05-10:15), a pause, one more (12:00-12:10): busy 25 min, summed 30
    own = [run("a", "10:10:00", 600), run("b", "10:15:00", 600), run("c", "12:10:00", 600)]
    studies = {name: Study({}, {}) for name in ("positive-control", "adalora-scripts", "long-schedule",
                                                "ladder-rungs")}  # fmt: skip
    studies["selection-pool"] = Study({}, {r["key"]: r for r in own})
    table = compute_table(Registration2(studies, {}, [], own))
    assert table.loc["all parts", "busy wall time (h)"] == pytest.approx(25 / 60)
    assert table.loc["all parts", "summed run time (h)"] == pytest.approx(30 / 60)
    assert table.loc["selection-pool", "runs"] == 3 and table.loc["long-schedule", "runs"] == 0


def test_the_official_protocol_is_said_to_have_no_last_epoch_reading_with_its_counts():
    from srlora_utils.analysis.registration2 import read_official_last_epoch
    from srlora_utils.data.shipped import shipped_path
    from srlora_utils.training.records import read_records

    runs = read_records(shipped_path("results/baseline-study/records.jsonl"))
    stopped = sum(r.get("stopped_at_epoch") is not None for r in runs)
    text = str(read_official_last_epoch())
    assert f"{len(runs)} runs" in text and f"{stopped} stopped early" in text
