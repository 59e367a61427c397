"""Comparison statistics and baselines on hand-made records (known answers)."""

import math

import pytest
from scipy import stats

from srlora_utils.analysis.comparison import allocation_atlas, cost_table, paired_differences, random_rank_evaluation
from srlora_utils.data.tasks import load_task
from srlora_utils.experiments.baselines import pixel_baselines


def _run(method, seed, acc, ranks=None, step=0.1, rr=None):
    rec = {
        "task": "t (stand-in)", "config": {"method": method, "seed": seed, "shots": 5},
        "test": {"accuracy": acc}, "trainable_params": 10, "lora_params": 8, "step_s_median": step,
        "total_s": 1.0, "init_s": 0.5, "peak_memory_mb": 100.0, "ranks": ranks or {},
    }  # fmt: skip
    if rr is not None:
        rec["test_random_rank"] = {"accuracy": rr}
    return rec


def test_paired_differences_known_values():
    runs = [_run("lora", s, a) for s, a in enumerate([50, 60, 70])]
    runs += [_run("a", s, a) for s, a in enumerate([52, 62, 72])]  # +2 every seed: resolved
    runs += [_run("b", s, a) for s, a in enumerate([40, 70, 70])]  # -10, +10, 0: not resolved
    d = paired_differences(runs, "accuracy")
    a, b = d.loc[("t (stand-in)", 5, "a")], d.loc[("t (stand-in)", 5, "b")]
    assert a["mean diff"] == pytest.approx(2.0) and a["ci low"] == pytest.approx(2.0) and a["verdict"] == "ahead"
    assert b["mean diff"] == pytest.approx(0.0) and b["ci low"] < 0 < b["ci high"] and b["verdict"] == "not resolved"
    # t interval: mean +- t(0.975, 2) * sd / sqrt(3); sd of (-10, 10, 0) is 10
    assert b["ci high"] == pytest.approx(4.302653 * 10 / math.sqrt(3), rel=1e-5)
    one = paired_differences([_run("lora", 0, 50), _run("a", 0, 55)], "accuracy")
    assert math.isnan(one.iloc[0]["ci low"]) and one.iloc[0]["verdict"] == "not resolved"


def test_atlas_cost_and_random_rank_tables():
    ranks_a = {"m1": 2, "m2": 4, "m3": 6}
    runs = [_run("lora", 0, 50, {"m1": 8, "m2": 8, "m3": 8}, step=0.2), _run("srlora", 0, 50, ranks_a, step=0.3),
            _run("eva", 0, 50, {"m1": 6, "m2": 4, "m3": 2}), _run("dylora", 0, 50, rr=30.0)]  # fmt: skip
    atlas, rho = allocation_atlas(runs)
    assert list(atlas.columns) == ["lora", "srlora", "eva"]
    assert rho.loc["srlora", "eva"] == pytest.approx(-1.0) and math.isnan(rho.loc["lora", "srlora"])
    cost = cost_table(runs)
    assert cost.loc["srlora", "step x lora"] == pytest.approx(1.5)
    rr = random_rank_evaluation(runs)
    assert rr.loc[("t (stand-in)", "dylora"), "random rank (official) mean"] == 30.0


def test_pixel_baselines_on_lfw():
    task = load_task("lfw", 5, 0, img_size=25, augment="none")
    base = pixel_baselines(task)
    assert set(base) == {"1-NN (raw pixels)", "logistic regression (raw pixels)"}
    assert all(50 < v <= 100 for v in base.values())  # faces vs non-faces: raw pixels beat chance


def test_presets_own_their_augmentation_and_methods():
    from srlora_utils.experiments.presets import CORE_METHODS, preset
    from srlora_utils.training.methods import COMPARED_METHODS

    for domain in ("medical", "remote_sensing", "comparison"):
        assert preset(domain, "offline")["augment"] == "mild"
        assert preset(domain, "paper")["augment"] == "official"
    assert preset("comparison", "offline")["methods"] == list(COMPARED_METHODS)
    settings = preset("medical", "offline")
    settings["methods"].append("eva")  # a copy: the preset itself is unchanged
    assert preset("medical", "offline")["methods"] == CORE_METHODS


def test_adaptation_gain_reads_the_domain_gap_from_a_summary():
    """Linear probe against the best method that adapts the backbone, per (task, shots); the head-only probe is
    never the 'best adapting method', and a group without a probe is left out."""
    from srlora_utils.analysis.study import adaptation_gain

    runs = [_run("linear_probe", s, a) for s, a in enumerate([60, 70])]
    runs += [_run("lora", s, a) for s, a in enumerate([80, 88])] + [
        _run("full_ft", s, a) for s, a in enumerate([85, 85])
    ]
    gain = adaptation_gain(runs, "accuracy")
    row = gain.loc[("t (stand-in)", 5)]
    assert row["best adapting method"] == "full_ft" and row["gain (points)"] == pytest.approx(20.0)
    only_adapters = adaptation_gain([r for r in runs if r["config"]["method"] != "linear_probe"], "accuracy")
    assert only_adapters.empty
    cost = cost_table([r for r in runs if r["config"]["method"] != "lora"])  # no reference method: no ratio column
    assert "step x lora" not in cost.columns


def test_rank_allocations_share_lora_budget_where_they_should():
    """The budget allocation spends exactly uniform LoRA's parameters; the table names all three allocations."""
    import pandas as pd

    from srlora_utils.analysis.study import allocation_summary, rank_allocations

    profile = pd.DataFrame({"module": ["a", "b", "c"], "d_out": [64] * 3, "d_in": [64] * 3,
                            "stable_rank": [2.2, 10.6, 30.1]})  # fmt: skip
    alloc = rank_allocations(profile, r=8)
    assert alloc["srlora (paper)"] == {"a": 2, "b": 11, "c": 30}
    table = allocation_summary(profile, alloc)
    assert table.loc["srlora_budget", "LoRA parameters"] == table.loc["lora", "LoRA parameters"] == 3 * 8 * 128
    assert table.loc["lora", "ranks"] == "8..8"


def test_equivalence_holm_and_power():
    from srlora_utils.analysis.comparison import holm, paired_interval, runs_for_half_width

    close = paired_interval([0.5, -0.5, 0.2, -0.1, 0.3, -0.4, 0.1, 0.0, -0.2, 0.1], margin=2.0)
    assert (
        close.verdict == "equivalent within ±2" and -2 < close.low < close.eq_low < close.eq_high < close.high < 2
    )  # 90% inside 95%
    wide = paired_interval([5.0, -5.0, 3.0, -4.0], margin=2.0)
    assert wide.verdict == "not resolved" and paired_interval([5.0, -5.0, 3.0, -4.0]).verdict == "not resolved"
    # p-value of the paired t test: scipy's ttest_1samp on the same differences
    d = [1.0, 2.0, 0.5, 1.5]
    assert paired_interval(d).p == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    # Holm: sorted p 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05/1: all survive; 0.03 fails 0.05/3 first
    assert holm([0.04, 0.01, 0.02]) == [True, True, True]
    assert holm([0.03, 0.2, 0.04]) == [False, False, False] and holm([0.001, 0.2, 0.04]) == [True, False, False]
    # power: sd 4 needs n with t(0.975, n-1) * 4 / sqrt(n) <= 2.5 -> n = 13 (t_12 = 2.179: 2.42; n = 12: 2.54)
    assert runs_for_half_width(4.0, 2.5) == 13
