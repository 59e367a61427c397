"""The tuned protocol's sentences (srlora_utils.analysis.tuned_readings): each is built from the records, so a
perturbed record changes the words. Records are made by hand (tests/test_tuned_study.py's helpers): no run trains."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_tuned_study import _tuned

from srlora_utils.analysis.baseline_study import StudyDesign, comparison_table
from srlora_utils.analysis.tuned_readings import (
    read_last_epoch,
    read_q3_power,
    read_q4_scaling,
    read_selected_epochs,
    read_shared_setting,
    read_test_resolution,
    read_ties,
    read_weak_references,
    read_winners_curse,
)
from srlora_utils.analysis.tuned_study import (
    confirmation_runs,
    last_epoch_table,
    q3_power_table,
    selection_curves,
    study_state,
    winners_curse_table,
)
from srlora_utils.experiments.tuning import TuningPlan, chosen_table


def _favour_paper(runs, points):
    """The same records with every 1/r candidate's validation score raised by ``points``."""
    out = []
    for r in runs:
        if r["config"]["scaling"] == "paper":
            r = {**r, "val": {"accuracy": r["val"]["accuracy"] + points}}
        out.append(r)
    return out


def test_the_shared_setting_reading_counts_the_methods_it_leaves_below_their_best(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    text = str(read_shared_setting(selection_curves(settings, runs)))
    assert "is no method's choice; it leaves 3 of 3 LoRA-type methods below" in text
    assert "median of 5.0 validation points" in text and "chosen scales 1/sqrt(r)" in text
    flipped = _favour_paper(runs, 10.0)  # now 1/r wins: the shared setting is everyone's choice
    text = str(read_shared_setting(selection_curves(settings, flipped)))
    assert "the choice of `lora`, `srlora_budget` and `adalora` only; it leaves 0 of 3" in text
    assert "chosen scales 1/r." in text


def test_q4_reads_the_scaling_validation_chose(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    assert "`lora` 1/sqrt(r) at 0.001; `srlora_budget` 1/sqrt(r) at 0.001" in str(
        read_q4_scaling(chosen_table(study_state(settings, runs)))
    )
    flipped = _favour_paper(runs, 10.0)
    assert "`lora` 1/r at 0.001" in str(read_q4_scaling(chosen_table(study_state(settings, flipped))))


def test_the_winners_curse_reading_follows_the_drop(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    honest = str(read_winners_curse(winners_curse_table(settings, runs)))
    assert "mean +0.0 points over 3 methods" in honest and "0 won selection with a perfect" in honest
    lucky = [{**r, "val": {"accuracy": r["val"]["accuracy"] + 30}} if r["config"]["seed"] >= 100
             and r["config"]["method"] == "lora" else r for r in runs]  # fmt: skip
    text = str(read_winners_curse(winners_curse_table(settings, lucky)))
    assert "mean +10.0 points over 3 methods" in text and "to +30.0)" in text


def test_q3_power_and_test_resolution_readings(tmp_path):
    settings, runs = _tuned(tmp_path, {"srlora_budget": 2.0})
    design, plan = StudyDesign.from_settings(settings), TuningPlan.from_settings(settings)
    read = confirmation_runs(settings, runs)
    text = str(read_q3_power(q3_power_table(read, design, dataclasses.replace(plan, q3_planning_sd=5.5))))
    assert "1 of 1 comparisons reached ±4 points with 10 pairs" in text and "(planned: 5.5)" in text
    tight = str(read_q3_power(q3_power_table(read, design, dataclasses.replace(plan, q3_half_width=0.01))))
    assert "0 of 1 comparisons" in tight and "would need up to" in tight
    sized = [{**r, "test_images": 100} for r in read]
    text = str(read_test_resolution(sized))
    assert "100 test images, so one image is 1.00 points" in text
    mean = sum(r["test"]["accuracy"] for r in sized) / len(sized) / 100
    assert f"standard error of {100 * (mean * (1 - mean) / 100) ** 0.5:.1f} points" in text
    assert str(read_test_resolution([{**r, "test_images": 1200} for r in read])).count("0.08 points") == 1
    with pytest.raises(StopIteration):  # no test_images recorded: nothing to say
        next(iter(str(read_test_resolution(read)).split("*")[1:]))


def test_the_ties_reading_names_choices_the_tie_rule_made(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    assert str(read_ties(selection_curves(settings, runs))) == "No choice was made by the tie rule."
    level = [
        {**r, "val": {"accuracy": 90.0}}
        if r["config"]["method"] == "adalora" and r["config"]["seed"] >= 100 and r["config"]["lr"] == 1e-3
        else r
        for r in runs
    ]  # both scales of the middle rate level at the top
    text = str(read_ties(selection_curves(settings, level)))
    assert text.startswith("1 of 3 choices was made by the tie rule")
    assert "`adalora` on textures: 2 candidates tie at 90.0; the tie rule took rate 0.001, scale 1/r" in text


def test_the_selected_epochs_reading_counts_the_earliest_and_the_last(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    read = confirmation_runs(settings, runs)  # 100 steps over 20 epochs, 10 warm-up steps: epoch 3 is the earliest
    timed = [{**r, "best_epoch": 3 if i % 2 else 20, "last_epoch": 20} for i, r in enumerate(read)]
    text = str(read_selected_epochs(timed))
    assert f"({len(read)} runs of 20 epochs)" in text
    assert (
        f"{len(read) // 2} runs took the first epoch after the warm-up (epoch 3), {len(read) - len(read) // 2} the last"
        in text
    )


def test_ahead_verdicts_against_a_reference_at_probe_level_are_flagged(tmp_path):
    settings, runs = _tuned(tmp_path, {"srlora_budget": 5.0, "adalora": -8.0})
    design = StudyDesign.from_settings(settings)
    read = [{**r, "trainable_params": 800, "step_s_median": 0.1} for r in confirmation_runs(settings, runs)]
    table = comparison_table(read, design)
    assert "no comparison" not in str(read_weak_references(table, read)).lower()
    assert str(read_weak_references(table, read)).endswith(
        "against a reference that is not ahead of the linear probe on the same task."
    )  # no probe ran: none flagged

    def probe(of, shift):  # a linear probe scoring like `of` plus `shift` points, paired by seed
        return [
            {
                **r,
                "config": {**r["config"], "method": "linear_probe"},
                "test": {"accuracy": r["test"]["accuracy"] + shift},
            }
            for r in read
            if r["config"]["method"] == of
        ]

    text = str(read_weak_references(table, read + probe("adalora", 0.1), name="Tuned protocol"))
    assert text.startswith('**Tuned protocol.** Of the 2 "ahead" verdicts, 1 is against a reference')
    assert "`srlora_budget` − `adalora` on textures:large-test (stand-in), 3-shot" not in text  # names are short
    assert "`srlora_budget` − `adalora` on textures (stand-in), 3-shot. Those show" in text
    assert "0 are against" in str(read_weak_references(table, read + probe("adalora", -20.0)))


def test_q4_says_when_the_tie_rule_chose_the_scale(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    level = _favour_paper(runs, 5.0)  # 1/r now scores exactly as 1/sqrt(r) at every rate
    text = str(read_q4_scaling(chosen_table(study_state(settings, level)), selection_curves(settings, level)))
    assert "`lora` 1/r at 0.001 (tied with 1/sqrt(r) at 0.001: the tie rule chose the scale)" in text
    text = str(read_q4_scaling(chosen_table(study_state(settings, runs)), selection_curves(settings, runs)))
    assert "tied" not in text


def test_q4_says_the_rate_when_the_tied_scale_ran_at_another_rate(tmp_path):
    """The opposite fact planted: the candidate with the other scale that ties runs at a larger rate, so the tie rule
    decided on the rate (it looks at the rate first), not on the scale."""
    settings, runs = _tuned(tmp_path, {})
    curves = selection_curves(settings, runs)
    chosen = chosen_table(study_state(settings, runs))
    lora = (curves["method"] == "lora") & (curves["task"] == curves["task"].iloc[0])
    best = curves.loc[lora & curves["chosen"], "val mean"].iloc[0]
    planted = curves.copy()
    other = lora & (planted["scaling"] == "paper") & (planted["lr"] > 0.001)
    assert other.any()
    planted.loc[other[other].index[:1], "val mean"] = best
    text = str(read_q4_scaling(chosen, planted))
    assert "`lora` 1/sqrt(r) at 0.001 (tied with 1/r at 0.003: the tie rule chose the rate)" in text
    assert "chose the scale" not in text


def test_the_winners_curse_is_read_against_the_probe_chosen_among_fewest_candidates():
    index = pd.MultiIndex.from_tuples([("t (stand-in)", m) for m in ("linear_probe", "lora", "eva")],
                                      names=["task", "method"])  # fmt: skip
    table = pd.DataFrame({"candidates": [3, 6, 12], "selection val": [70.0, 90.0, 95.0],
                          "confirmation val": [72.0, 86.0, 89.0]}, index=index)  # fmt: skip
    table["drop"] = table["selection val"] - table["confirmation val"]
    text = str(read_winners_curse(table))
    assert "The linear probe, chosen among 3 candidates, falls by -2.0" in text
    assert "the 2 methods chosen among more candidates (6-12) fall by +5.0 on average, +7.0 points beyond" in text


def test_the_last_epoch_reading_counts_cells_where_selection_cost_test_accuracy(tmp_path):
    settings, runs = _tuned(tmp_path, {})
    design, read = StudyDesign.from_settings(settings), confirmation_runs(settings, runs)
    gap = np.random.default_rng(1).normal(1.0, 0.2, size=len(read))  # last epochs about a point below the selected
    early = [{**r, "test_last": {"accuracy": r["test"]["accuracy"] - g}} for r, g in zip(read, gap, strict=True)]
    text = str(read_last_epoch(last_epoch_table(early, design=design)))
    assert text.startswith("Of 3 cells, the selected epoch tests **below** the last epoch in 0, above it in 3")
    assert "stopped training too early" not in text
    late = [{**r, "test_last": {"accuracy": r["test"]["accuracy"] + 5.0 + g}} for r, g in zip(read, gap, strict=True)]
    text = str(read_last_epoch(last_epoch_table(late, design=design)))
    assert "below** the last epoch in 3, above it in 0" in text and "the largest cost is -6.0 points" in text
    assert "stopped training too early more often" in text
