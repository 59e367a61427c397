"""The sentences the lessons render from their runs: they follow the numbers (an ordering that flips flips the words),
under one standard (paired differences, 95% t intervals), and the notebooks' prose holds no hand-typed results."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from srlora_utils.analysis.comparison import paired_interval
from srlora_utils.analysis.readings import read_fixture_results, read_gain, read_ranking
from srlora_utils.analysis.study import adaptation_gain

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
METHODS = ["linear_probe", "full_ft", "lora", "srlora", "srlora_budget", "srlora_nested", "srlora_shuffled", "dylora",
           "dora", "pissa", "adalora", "eva"]  # fmt: skip
NOISE = [0.0, 1.0, -1.0, 0.5, -0.5]  # per seed, shared by every method: pairing removes it


def _run(method, seed, acc, task="textures (stand-in)", **extra):
    return {
        "task": task, "standin": True, "fixture": False, "steps": 35,
        "config": {"method": method, "seed": seed, "shots": 3, "exp": None, "backbone": None, "img_size": 56},
        "test": {"accuracy": acc}, "trainable_params": 1000, "lora_params": 800 if method != "srlora" else 4500,
        "step_s_median": 0.1, "total_s": 1.0, "init_s": 0.1, "peak_memory_mb": 1.0,
        "ranks": {"m1": 8, "m2": 8} if method == "lora" else {"m1": 4, "m2": 12}, **extra,
    }  # fmt: skip


def _study(offsets: dict[str, float], seeds=range(5)):
    """Runs of every method on one task: LoRA at 70% plus each method's offset, plus seed noise shared by all."""
    return [_run(m, s, 70.0 + offsets.get(m, 0.0) + NOISE[s] + 0.2 * (i % 3) * (s % 2))
            for i, m in enumerate(METHODS) for s in seeds]  # fmt: skip


def _pixels(seeds=range(5)):
    return pd.DataFrame([{"task": "textures (stand-in)", "shots": 3, "seed": s, "exp": 0, "1-NN (raw pixels)": 40.0,
                          "logistic regression (raw pixels)": 30.0 + s} for s in seeds])  # fmt: skip


def test_the_ranking_and_gain_readings_of_notebooks_03_and_04_follow_the_results():
    first = read_ranking(_study({"full_ft": 20.0, "srlora_budget": 2.0}), "accuracy").text
    flipped = read_ranking(_study({"full_ft": 20.0, "srlora_budget": -2.0}), "accuracy").text
    assert "highest mean test accuracy `full_ft`" in first
    assert re.search(r"`srlora_budget` - `lora` = \+[12]\.\d points \(95% interval [^)]*\): \*\*ahead", first)
    assert re.search(r"`srlora_budget` - `lora` = -[12]\.\d points \(95% interval [^)]*\): \*\*behind", flipped)
    runs = _study({"full_ft": 20.0})
    gain = adaptation_gain(runs, "accuracy")
    row = gain.iloc[0]
    assert row["best adapting method"] == "full_ft" and row["verdict"] == "ahead" and row["runs"] == 5
    assert "adapting the backbone adds: +20.1 points (95% interval +19.9 to +20.2, 5 paired runs)" in read_gain(
        gain, "accuracy"
    )
    mixed = [_run("linear_probe", s, 70.0) for s in range(3)] + [
        _run("lora", s, 70.0 + d) for s, d in enumerate((6, -4, 1))
    ]
    small = adaptation_gain(mixed, "accuracy")
    assert small.iloc[0]["verdict"] == "not resolved" and small.iloc[0]["gain (points)"] == pytest.approx(1.0)
    assert "these runs do not resolve what adapting the backbone adds: +1.0 points" in read_gain(small, "accuracy")


def test_paired_interval_needs_two_pairs_and_reads_the_sign():
    assert (
        paired_interval([1.0]).verdict == "not resolved"
        and "no interval from one pair" in paired_interval([1.0]).words()
    )
    assert paired_interval([-2.0, -3.0, -2.5]).verdict == "behind"
    assert paired_interval([-5.0, 5.0, 1.0]).verdict == "not resolved"
    assert paired_interval([]).n == 0


def test_a_fixture_auc_below_chance_is_explained():
    runs = [{**_run("lora", 0, 50.0, task="medfmc-colon", fixture=True, steps=1, standin=False),
             "test": {"accuracy": 50.0, "AUC": 12.5}}]  # fmt: skip
    runs[0]["config"] = {**runs[0]["config"], "task": "medfmc:colon", "shots": 1}
    text = read_fixture_results(runs).text
    assert "medfmc:colon 1-shot `lora` 12.5" in text and "took 1 optimiser step," in text
    assert "as few as 1 optimiser step per run" in text
    above = read_fixture_results([{**runs[0], "test": {"accuracy": 50.0, "AUC": 80.0}}]).text
    assert "below chance" not in above


# --- the notebooks' prose -----------------------------------------------------------------------------------------

#: A result typed into prose: a percentage or a signed number of points ("+8 points", "64%").
TYPED_RESULT = re.compile(r"\d+(\.\d+)?\s?%|[+-]\d+(\.\d+)?\s+points|\d+(\.\d+)?\s+points")
#: Percentages and points that describe a method or a statistic, not a result: an interval's or a test's level (95%,
#: 90%, the 97.5% quantile, 5% and Holm's 5%/m), the registered equivalence margin (±2 points), RandomResizedCrop's
#: smallest crop, AdaLoRA's schedule.
NOT_RESULTS = re.compile(
    r"(90|95|97\.5)% (t |bootstrap )?(interval|level|of repeated|quantile|point of)|(at|stays at) 5%|5%/|"
    r"±2 (accuracy )?points|difference of 2 points|as little as 8% of an image|10% warm-up, last 30%"
)


@pytest.mark.parametrize("name", ["03_medical_fewshot", "04_remote_sensing_fewshot", "05_baseline_comparison",
                                  "06_reproduce_paper", "07_gap_ladder"])  # fmt: skip
def test_training_notebooks_type_no_results_into_their_prose(name):
    """Results in 03-07 come from code cells (readings, tables, asserts): no percentage or number of points is typed
    into a Markdown cell, where a re-execution could leave it stale."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    typed = [m.group(0) for c in nb["cells"] if c["cell_type"] == "markdown"
             for m in TYPED_RESULT.finditer(NOT_RESULTS.sub("", "".join(c["source"])))]  # fmt: skip
    assert not typed, f"{name}: results typed into Markdown: {typed}"


@pytest.mark.parametrize("name", ["03_medical_fewshot", "04_remote_sensing_fewshot", "05_baseline_comparison",
                                  "06_reproduce_paper", "07_gap_ladder"])  # fmt: skip
def test_training_notebooks_store_their_readings_as_markdown(name):
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    rendered = ["".join(o["data"]["text/markdown"]) for c in nb["cells"] if c["cell_type"] == "code"
                for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]  # fmt: skip
    assert rendered, f"{name}: no reading rendered from the runs"
    if name == "07_gap_ladder":  # question 6 is a slope over pairs, read with its bootstrap interval
        assert any("pairs): **" in text and "bootstrap" in text for text in rendered)
    elif name != "06_reproduce_paper":
        assert any("paired run" in text for text in rendered)
