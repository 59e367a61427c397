"""The gap ladder (issue 27): its data family (rungs are fixed functions of the image, the permuted rung keeps every
raw-pixel distance, Fashion-MNIST is read from its official idx files), the gap measure, and question 6's slope and
reading (records made by hand, the grid's own rule choosing among them: a planted slope is found, a flat one is not
resolved). One stored run is trained again (slow)."""

import dataclasses
import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import retrain_stored_run
from srlora_utils.analysis.gap_ladder import (
    Ladder,
    gap_slope,
    leverage_table,
    load_ladder,
    read_framing,
    read_q6,
    rung_table,
)
from srlora_utils.analysis.tuned_study import confirmation_runs
from srlora_utils.data import fashion_mnist
from srlora_utils.data.gap_ladder import RUNGS, draw_rung, ladder_arrays, ladder_tasks, pixel_permutation
from srlora_utils.data.shipped import shipped_path
from srlora_utils.data.tasks import load_task
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.domain_gap import GAP_DEFINITION, knn_accuracy, measure_gap, read_gaps
from srlora_utils.experiments.grids import grid_settings
from srlora_utils.experiments.tuning import TuningPlan, tuning_state
from srlora_utils.training.config import config_key

GRID = shipped_path("grids/gap-ladder.toml")
GAPS = shipped_path("results/gap-ladder/gaps.json")
SHARED = np.random.default_rng(1).normal(0, 4, size=300)  # a seed effect both methods share: pairing removes it


# --- the data family -------------------------------------------------------------------------------------------------


def test_every_rung_is_a_fixed_function_of_the_image_whatever_the_seed():
    a = load_task("ladder:digits:natural", shots=2, seed=0, img_size=28, augment="none")
    b = load_task("ladder:digits:natural", shots=2, seed=5, img_size=28, augment="none")
    assert a.summary().startswith("ladder:digits:natural (stand-in): 10 classes")
    assert np.array_equal(a.test.images, b.test.images) and np.array_equal(a.test.labels, b.test.labels)
    assert len(a.train) == len(a.val) == 20 and len(a.test) == 500
    assert not np.array_equal(a.train.images, b.train.images)  # the seed draws the shots
    again = ladder_arrays("digits", "natural")
    assert np.array_equal(again[0], ladder_arrays("digits", "natural")[0])


@pytest.mark.parametrize("source", ["digits", "fashion"])
def test_the_permuted_rung_moves_pixels_and_keeps_every_raw_distance(source):
    plain, labels, _, _ = ladder_arrays(source, "plain")
    permuted, labels2, _, _ = ladder_arrays(source, "permuted")
    perm = pixel_permutation()
    assert np.array_equal(labels, labels2) and sorted(perm) == list(range(28 * 28))
    flat = plain.reshape(len(plain), -1, 3)
    assert np.array_equal(flat[:, perm], permuted.reshape(len(permuted), -1, 3))
    assert knn_accuracy(plain[:300] / 255, labels[:300]) == pytest.approx(
        knn_accuracy(permuted[:300] / 255, labels[:300]), abs=1e-9
    )


def test_rungs_differ_and_the_test_set_is_never_in_the_pool():
    pool, _, test, _ = ladder_arrays("fashion", "plain")
    keys = {p.tobytes() for p in pool}
    assert sum(t.tobytes() in keys for t in test) == 0
    looks = [ladder_arrays("digits", r)[0][:50] for r in RUNGS]
    assert all(not np.array_equal(x, y) for i, x in enumerate(looks) for y in looks[i + 1 :])
    from srlora_utils.data.gap_ladder import shuffle_tiles

    grey = ladder_arrays("digits", "plain")[0][:5, :, :, 0]
    moved = shuffle_tiles(grey, tile=7)
    assert sorted(moved.ravel()) == sorted(grey.ravel()) and not np.array_equal(moved, grey)
    with pytest.raises(SrLoraError, match="does not divide"):
        shuffle_tiles(grey, tile=5)
    high = draw_rung(np.full((2, 28, 28), 90, np.uint8), "highpass")
    assert (high == 128).all()  # a flat image has no detail: mid-grey everywhere


@pytest.mark.parametrize("name", ["ladder:digits", "ladder:digits:blurred", "ladder:mnist:plain"])
def test_an_unknown_ladder_task_is_one_line_naming_the_choices(name):
    rungs = r"<natural\|plain\|highpass\|permuted\|tiles\|inverted>"
    with pytest.raises(SrLoraError, match=r"use ladder:<digits\|fashion>:" + rungs):
        load_task(name, shots=2, seed=0, img_size=28)


def _fashion_fixture(folder, n=20):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for images, labels in fashion_mnist.FASHION_FILES.values():
        fashion_mnist.write_idx(folder / images, rng.integers(0, 255, (n, 28, 28)), "images")
        fashion_mnist.write_idx(folder / labels, np.arange(n) % 10, "labels")
    return folder


def test_fashion_mnist_is_read_from_the_official_files_in_either_layout(tmp_path):
    flat = _fashion_fixture(tmp_path / "flat")
    images, labels = fashion_mnist.load_fashion_mnist("train", flat)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8 and labels.tolist() == list(np.arange(20) % 10)
    _fashion_fixture(tmp_path / "tv" / "FashionMNIST" / "raw")  # torchvision's download layout
    assert fashion_mnist.find_fashion_mnist(tmp_path / "tv") == tmp_path / "tv" / "FashionMNIST" / "raw"


def test_a_missing_or_damaged_fashion_mnist_file_is_one_line_saying_what_to_do(tmp_path):
    with pytest.raises(SrLoraError, match="apt-get install dataset-fashion-mnist.*srlora fetch fashion-mnist"):
        fashion_mnist.find_fashion_mnist(tmp_path)
    folder = _fashion_fixture(tmp_path / "bad")
    name = fashion_mnist.FASHION_FILES["train"][0]
    raw = gzip.decompress((folder / name).read_bytes())
    (folder / name).write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(SrLoraError, match="truncated"):
        fashion_mnist.load_fashion_mnist("train", folder)
    fashion_mnist.write_idx(folder / name, np.zeros((20, 28, 28)), "labels")  # an images array under a labels header
    with pytest.raises(SrLoraError, match="not an idx images file"):
        fashion_mnist.load_fashion_mnist("train", folder)


# --- the gap ------------------------------------------------------------------------------------------------------


def test_the_gap_is_raw_minus_feature_accuracy_and_refuses_bad_input(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)
    separable = np.eye(4)[labels] * 5 + rng.normal(0, 0.1, (100, 4))
    assert knn_accuracy(separable, labels) == 100.0
    assert knn_accuracy(rng.normal(size=(100, 4)), labels) < 60
    with pytest.raises(SrLoraError, match="NaN"):
        knn_accuracy(np.full((100, 4), np.nan), labels)
    with pytest.raises(SrLoraError, match="gap-ladder tasks"):
        measure_gap("textures")
    with pytest.raises(SrLoraError, match="srlora gap --out"):
        read_gaps(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SrLoraError, match="malformed"):
        read_gaps(tmp_path / "bad.json")


def test_the_shipped_gaps_cover_every_rung_under_todays_definition():
    gaps = read_gaps(GAPS)
    assert sorted(gaps) == sorted(ladder_tasks()) and sorted(grid_settings(str(GRID))["tasks"]) == sorted(gaps)
    for r in gaps.values():
        assert r["definition"] == GAP_DEFINITION
        assert r["gap"] == pytest.approx(r["raw_knn"] - r["feature_knn"], abs=1e-3)


# --- question 6 ---------------------------------------------------------------------------------------------------


def _record(cfg, accuracy):
    val = 50 - abs(np.log10(cfg.lr / 1e-3)) * 10
    return {"key": config_key(cfg), "config": dataclasses.asdict(cfg), "task": f"{cfg.task} (stand-in)",
            "standin": True, "fixture": False, "steps": 100, "val": {"accuracy": val},
            "test": {"accuracy": accuracy}, "test_last": {"accuracy": accuracy}, "trainable_params": 1000,
            "step_s_median": 0.1, "total_s": 10.0}  # fmt: skip


def _ladder(slope_per_point: float, noise: float = 1.0) -> Ladder:
    """The grid's whole ladder with hand-made records: srlora_budget - lora = slope x gap + noise, paired by seed."""
    settings, gaps = grid_settings(str(GRID)), read_gaps(GAPS)
    records: dict = {}
    for _ in range(4):  # selection, edge, confirmation: a resumed queue's rounds
        for cfg in tuning_state(settings, records).configs():
            rng = np.random.default_rng([cfg.seed, len(cfg.method), len(cfg.task)])
            effect = slope_per_point * gaps[cfg.task]["gap"] if cfg.method == "srlora_budget" else 0.0
            base = {"linear_probe": 40.0, "full_ft": 45.0}.get(cfg.method, 50.0)
            acc = base + effect + SHARED[cfg.seed] + rng.normal(0, noise)
            records.setdefault(config_key(cfg), _record(cfg, float(acc)))
    runs = list(records.values())
    return Ladder(settings, TuningPlan.from_settings(settings), runs, confirmation_runs(settings, runs), gaps)


def test_a_planted_slope_is_found_with_an_interval_and_a_verdict():
    up, flat, down = _ladder(0.2), _ladder(0.0), _ladder(-0.2)
    assert up.complete and up.progress()[0] == up.progress()[1]
    s = gap_slope(up)
    assert s.slope == pytest.approx(0.2, abs=0.03) and s.low < 0.2 < s.high and s.verdict == "grows with the gap"
    assert s.pairs == 80 and s.rungs == 8 and s.resamples == 10_000
    assert gap_slope(flat).verdict == "not resolved" and gap_slope(flat).low < 0 < gap_slope(flat).high
    assert gap_slope(down).verdict == "shrinks with the gap"
    assert gap_slope(up) == gap_slope(up)  # the bootstrap is seeded
    text = str(read_q6(up))
    assert "**grows with the gap**" in text and "80 pairs" in text and "Within `fashion` alone (4 rungs)" in text
    assert "**shrinks with the gap**" in str(read_q6(down))


def test_only_confirmation_runs_are_read_and_every_rung_reports_its_choice_and_framing():
    ladder = _ladder(0.1)
    assert {r["config"]["seed"] for r in ladder.runs} == set(range(10))
    framing = [r for r in ladder.records if r["config"]["method"] in ("linear_probe", "full_ft")]
    assert len(framing) == 2 * 8 * 5 and {r["config"]["seed"] for r in framing} == set(range(5))  # fixed: no selection
    table = rung_table(ladder)
    assert list(table.index) == list(ladder.settings["tasks"]) and (table["pairs"] == 10).all()
    assert (table["lora lr"] == 1e-3).all() and (table["srlora_budget lr"] == 1e-3).all()  # the val peak
    assert table["linear_probe"].lt(table["lora"]).all()
    assert "ahead on 8, behind on 0" in str(read_framing(ladder)).splitlines()[0]
    one = gap_slope(ladder, tasks=list(ladder.settings["tasks"])[:3])
    assert one.rungs == 3
    with pytest.raises(SrLoraError, match="at least 3 rungs"):
        gap_slope(ladder, tasks=list(ladder.settings["tasks"])[:2])


def test_a_partial_ladder_reads_the_rungs_it_has_and_says_what_is_missing():
    full = _ladder(0.2)
    keep = [
        r
        for r in full.records
        if not (
            r["task"].startswith("ladder:fashion") and r["config"]["seed"] < 200 and r["config"]["method"] == "lora"
        )
    ]
    part = Ladder(full.settings, full.plan, keep, confirmation_runs(full.settings, keep), full.gaps)
    s = gap_slope(part)
    assert s.rungs == 4 and all(t.startswith("ladder:digits") for t in s.tasks) and not part.complete
    text = str(read_q6(part))
    digits_gaps = [full.gaps[t]["gap"] for t in s.tasks]
    assert f"whose gaps run from {min(digits_gaps):+.1f} to {max(digits_gaps):+.1f} points" in text
    assert "Within `fashion` alone: no slope yet" in text and "runs so far" in text
    one_pair = [
        r for r in full.records if not (r["config"]["task"] == "ladder:digits:plain" and 1 <= r["config"]["seed"] < 200)
    ]
    thin = Ladder(full.settings, full.plan, one_pair, confirmation_runs(full.settings, one_pair), full.gaps)
    assert "ladder:digits:plain" not in gap_slope(thin).tasks  # one pair gives no spread: the rung waits


def test_the_clustered_check_and_the_leverage_shares_follow_the_records():
    ladder = _ladder(0.2)
    c = gap_slope(ladder, clustered=True)
    assert c.slope == pytest.approx(gap_slope(ladder).slope) and c.low < c.slope < c.high
    shares = leverage_table(ladder)["leverage share"]
    assert shares.sum() == pytest.approx(1.0, abs=0.01)
    assert shares.idxmax() == "ladder:digits:natural"  # the farthest gap


def test_missing_records_or_gaps_are_one_line(tmp_path):
    with pytest.raises(SrLoraError, match="srlora tune grids/gap-ladder.toml"):
        load_ladder(records=str(tmp_path / "none.jsonl"))
    (tmp_path / "r.jsonl").write_text("")
    (tmp_path / "g.json").write_text(json.dumps([]))
    with pytest.raises(SrLoraError, match="has no gap for ladder:digits:natural"):
        load_ladder(records=str(tmp_path / "r.jsonl"), gaps=str(tmp_path / "g.json"))


def test_the_gap_command_refuses_an_unknown_rung_in_one_line():
    out = subprocess.run([sys.executable, "-m", "srlora_utils.cli", "gap", "ladder:digits:blurred"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "unknown task 'ladder:digits:blurred'" in out.stderr.splitlines()[-1]


@pytest.mark.slow
def test_a_stored_confirmation_run_reproduces_when_trained_again():
    """One shipped confirmation run of the pair, trained again as `srlora tune` trains it: the same selected epoch and
    test metrics within one test image (500 images: 0.2 points)."""
    ladder = load_ladder()
    stored = next(r for r in ladder.runs if r["config"]["method"] == "srlora_budget"
                  and r["config"]["task"] == "ladder:digits:permuted")  # fmt: skip
    retrain_stored_run(ladder.settings, ladder.records, stored)
