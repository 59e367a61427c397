"""The tuned protocol's sentences (srlora_utils.analysis.tuned_readings): each is built from the records, so a
perturbed record changes the words. Records are made by hand (tests/test_tuned_study.py's helpers): no run trains."""

import dataclasses

import pytest
from test_tuned_study import _tuned

from srlora_utils.analysis.baseline_study import StudyDesign
from srlora_utils.analysis.tuned_readings import (
    read_q3_power,
    read_q4_scaling,
    read_selected_epochs,
    read_shared_setting,
    read_test_resolution,
    read_ties,
    read_winners_curse,
)
from srlora_utils.analysis.tuned_study import (
    confirmation_runs,
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
    assert "is no method's validated choice; it leaves 3 of 3 LoRA-type methods below" in text
    assert "median of 5.0 validation points" in text and "chosen scales 1/sqrt(r)" in text
    flipped = _favour_paper(runs, 10.0)  # now 1/r wins: the shared setting is everyone's choice
    text = str(read_shared_setting(selection_curves(settings, flipped)))
    assert "the validated choice of `lora`, `srlora_budget`, `adalora` only; it leaves 0 of 3" in text
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
    assert "mean drop +0.0 validation points" in honest and "0 of them won selection with a perfect" in honest
    lucky = [{**r, "val": {"accuracy": r["val"]["accuracy"] + 30}} if r["config"]["seed"] >= 100
             and r["config"]["method"] == "lora" else r for r in runs]  # fmt: skip
    text = str(read_winners_curse(winners_curse_table(settings, lucky)))
    assert "mean drop +10.0" in text and "to +30.0)" in text


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
    assert text.startswith("1 choice was made by the tie rule")
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
