"""The tuned protocol's results in words (notebook 05, section 15): why one shared rate is not neutral, the winner's
curse, what the tuned scalings answer to question 4, whether question 3 reached its planned precision and what a
test set of a given size can resolve. Every sentence is built from the tables of :mod:`.tuned_study`, so it changes
with the records.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..training.methods import METHOD_SPECS
from .readings import Reading, _names

#: How the kit's ``scaling`` settings read in prose.
SCALING_WORDS = {"paper": "1/r", "rslora": "1/sqrt(r)", "unit": "1"}


def _task_name(task: str) -> str:
    return task.replace(":large-test", "")


def read_shared_setting(curves: pd.DataFrame, lr: float = 1e-3, scaling: str = "paper") -> Reading:
    """Per task of the selection ``curves`` (:func:`~.tuned_study.selection_curves`): how many LoRA-type methods the
    one shared setting (rate ``lr``, ``scaling``: the official protocol's) leaves below their own best candidate in
    mean validation accuracy, by how much, and how far apart the chosen settings lie."""
    lines = []
    lora_type = [m for m in curves["method"].unique() if METHOD_SPECS[m].kind == "lora"]
    for task, part in curves[curves["method"].isin(lora_type)].groupby("task", sort=False):
        shared = part[np.isclose(part["lr"], lr) & (part["scaling"] == scaling) & ~part["eva_whiten"].astype(bool)]
        chosen = part[part["chosen"]].set_index("method")
        gaps = {m: float(chosen.loc[m, "val mean"] - row["val mean"]) for _, row in shared.iterrows()
                if (m := row["method"]) in chosen.index}  # fmt: skip
        if not gaps:
            continue
        below = {m: g for m, g in gaps.items() if g > 1e-9}
        rates = sorted(chosen["lr"].unique())
        scales = [SCALING_WORDS.get(s, s) for s in dict.fromkeys(chosen["scaling"])]
        level = [m for m in gaps if m not in below]
        whose = f"the validated choice of {_names(level)} only" if level else "no method's validated choice"
        text = (f"* **{_task_name(task)}**: the shared setting (rate {lr:g}, scale "
                f"{SCALING_WORDS.get(scaling, scaling)}) is {whose}; it leaves {len(below)} of {len(gaps)} LoRA-type "
                "methods below their own best candidate")  # fmt: skip
        if below:
            text += (f", by a median of {np.median(list(below.values())):.1f} validation points (up to "
                     f"{max(below.values()):.1f}, `{max(below, key=lambda m: below[m])}`)")  # fmt: skip
        text += (f". The chosen rates span {', '.join(f'{r:g}' for r in rates)} and the chosen scales "
                 f"{', '.join(scales)}.")  # fmt: skip
        lines.append(text)
    return Reading(lines or ["No LoRA-type method has both the shared setting and a choice recorded yet."])


def read_winners_curse(table: pd.DataFrame) -> Reading:
    """From :func:`~.tuned_study.winners_curse_table`: how much the chosen settings' validation scores fall from the
    selection seeds (where they won) to fresh confirmation seeds, per task."""
    if table.empty:
        return Reading("No chosen setting has confirmation runs yet.")
    lines = []
    for task, part in table.groupby(level="task", sort=False):
        drops = part["drop"]
        fell, perfect = int((drops > 1e-9).sum()), int((part["selection val"] >= 100 - 1e-9).sum())
        lines.append(f"* **{_task_name(task)}**: the chosen setting scores lower on the fresh seeds than on the seeds "
                     f"that chose it for {fell} of {len(part)} methods; mean drop {drops.mean():+.1f} validation "
                     f"points (from {drops.min():+.1f} to {drops.max():+.1f}); {perfect} of them won selection with a "
                     "perfect validation score" + (" (the curse shows)." if drops.mean() > 0 else
                                                   " (no upward bias shows: the fresh seeds score as high or higher).")
                     )  # fmt: skip
    return Reading(lines)


def read_ties(curves: pd.DataFrame) -> Reading:
    """From :func:`~.tuned_study.selection_curves`: the methods whose choice was made by the tie rule (several
    candidates level with the best mean validation score), how many tied, and how far the weights moved under the
    chosen candidate against the tied ones: where validation could not tell the settings apart."""
    lines = []
    for (task, method), part in curves.groupby(["task", "method"], sort=False):
        chosen = part[part["chosen"]]
        if chosen.empty:
            continue
        best = float(chosen["val mean"].iloc[0])
        tied = part[np.isclose(part["val mean"], best)]
        if len(tied) < 2:
            continue
        moved, scaling = tied["weight change"], chosen["scaling"].iloc[0]
        scale = f", scale {SCALING_WORDS.get(scaling, scaling)}" if METHOD_SPECS[method].kind == "lora" else ""
        lines.append(f"* `{method}` on {_task_name(task)}: {len(tied)} candidates tie at {best:.1f}; the tie rule took "
                     f"rate {float(chosen['lr'].iloc[0]):g}{scale}, under which the weights moved "
                     f"{float(chosen['weight change'].iloc[0]):.1e} (the tied candidates: {moved.min():.1e} to "
                     f"{moved.max():.1e}).")  # fmt: skip
    n = len(lines)
    if not lines:
        return Reading("No choice was made by the tie rule.")
    head = (f"{n} choice{'s were' if n != 1 else ' was'} made by the tie rule (the smaller rate, then 1/r), where "
            "validation could not tell the tied settings apart:")  # fmt: skip
    return Reading([head, *lines])


def read_q4_scaling(chosen: pd.DataFrame, methods: tuple[str, ...] = ("lora", "srlora_budget", "srlora")) -> Reading:
    """Question 4 under the tuned protocol, from :func:`~srlora_utils.experiments.tuning.chosen_table`: the scaling
    (and rate) validation chose for each of ``methods`` on each task."""
    lines = []
    done = chosen[chosen["lr"].notna()]
    for task, part in done.groupby(level="task", sort=False):
        rows = [part.loc[(task, m)] for m in methods if (task, m) in part.index]
        picks = [f"`{row.name[1]}` {SCALING_WORDS.get(row['scaling'], row['scaling'])} at {row['lr']:g}"
                 for row in rows]  # fmt: skip
        if picks:
            lines.append(f"* **{_task_name(task)}**: validation chose {'; '.join(picks)}.")
    return Reading(lines or ["No scaling is chosen yet."])


def read_q3_power(table: pd.DataFrame) -> Reading:
    """From :func:`~.tuned_study.q3_power_table`: how many of question 3's comparisons reached the planned half-width
    (the table's ``target``, points), the spread they showed against the planning standard deviation, and the pairs
    the rest need."""
    if table.empty:
        return Reading("No comparison of question 3 has pairs yet.")
    target, planning_sd = table.attrs.get("target"), table.attrs.get("planning_sd")
    lines = []
    for task, part in table.groupby(level="task", sort=False):
        missed = part[~part["target met"]]
        lo, hi = int(part["pairs"].min()), int(part["pairs"].max())
        sd_lo, sd_hi = (f"{v:.1f}" for v in (part["sd of differences"].min(), part["sd of differences"].max()))
        spread = sd_lo if sd_lo == sd_hi else f"{sd_lo}-{sd_hi}"
        text = (f"* **{_task_name(task)}**: {len(part) - len(missed)} of {len(part)} comparisons reached ±{target:g} "
                f"points with {lo if lo == hi else f'{lo}-{hi}'} pairs; the spread of paired differences was "
                f"{spread} points")  # fmt: skip
        if planning_sd is not None:
            text += f" (planned: {planning_sd:g})"
        if len(missed):
            text += (f"; the other {len(missed)} would need up to {int(missed['pairs needed'].max())} pairs "
                     "(not run: the plan was fixed before the runs)")  # fmt: skip
        lines.append(text + ".")
    return Reading(lines)


def read_test_resolution(runs: list[dict], metric: str = "accuracy") -> Reading:
    """Per task of ``runs``: the test images each run is scored on, what one image is worth in points, and the
    binomial standard error of one run's test ``metric`` at the task's mean: what its test set can resolve."""
    lines = []
    for task, shots in dict.fromkeys((r["task"], r["config"]["shots"]) for r in runs):
        part = [r for r in runs if r["task"] == task and r["config"]["shots"] == shots and "test_images" in r]
        if not part:
            continue
        n = int(np.median([r["test_images"] for r in part]))
        p = float(np.mean([r["test"][metric] for r in part])) / 100
        se = 100 * math.sqrt(p * (1 - p) / n)
        lines.append(f"* **{_task_name(task)}, {shots}-shot**: {n:,} test images, so one image is {100 / n:.2f} "
                     f"points; at its mean test {metric} ({100 * p:.1f}%) one run's score has a binomial standard "
                     f"error of {se:.1f} points from the test sample alone.")  # fmt: skip
    return Reading(lines)


def read_selected_epochs(runs: list[dict]) -> Reading:
    """Per task and shot count of ``runs``: which epochs validation selected (median), how many runs took the first
    epoch that ends after the warm-up (the earliest one the rule allows) and how many took the last: whether selection
    stops training early."""
    lines = []
    for task, shots in dict.fromkeys((r["task"], r["config"]["shots"]) for r in runs):
        part = [r for r in runs if r["task"] == task and r["config"]["shots"] == shots]
        first = [math.floor(r["config"]["warmup_iters"] / (r["steps"] / r["config"]["epochs"])) + 1 for r in part]
        best = [r["best_epoch"] for r in part]
        at_first = sum(b == f for b, f in zip(best, first, strict=True))
        at_last = sum(r["best_epoch"] == r["last_epoch"] for r in part)
        lines.append(f"* **{_task_name(task)}, {shots}-shot** ({len(part)} runs of {part[0]['config']['epochs']} "
                     f"epochs): median selected epoch {np.median(best):g}; {at_first} runs took the first epoch after "
                     f"the warm-up (epoch {min(first)}), {at_last} the last.")  # fmt: skip
    return Reading(lines)
