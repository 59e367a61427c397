"""The tuned protocol's results in words (notebook 05, section 14): why one shared rate is not neutral, the winner's
curse, what the tuned scalings answer to question 4, whether question 3 reached its planned precision and what a
test set of a given size can resolve. Every sentence is built from the tables of :mod:`.tuned_study`, so it changes
with the records.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.peft_config import SCALE_FACTORS as SCALING_WORDS
from ..training.methods import METHOD_SPECS
from .readings import Reading


def _task_name(task: str) -> str:
    return task.replace(":large-test", "")


def _and(names: list[str]) -> str:
    """Backticked names joined as prose: `a`, `b` and `c`."""
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _tied(part: pd.DataFrame, best: float) -> pd.DataFrame:
    """The candidates of one method and task level with the ``best`` mean validation score."""
    return part[np.isclose(part["val mean"], best)]


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
        by_tie = [m for m in level if len(_tied(part[part["method"] == m], chosen.loc[m, "val mean"])) > 1]
        whose = f"the choice of {_and(level)} only" if level else "no method's choice"
        if by_tie:
            whose += " (by the tie rule)" if by_tie == level else f" ({_and(by_tie)} by the tie rule)"
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
    """From :func:`~.tuned_study.winners_curse_table`: per task, how much the chosen settings' validation scores fall
    from the selection seeds (where they won) to the fresh confirmation seeds, and the same for the linear probe, the
    method chosen among the fewest candidates: the fall that seed sets of different difficulty give with little
    selection, against which the methods chosen among more candidates are read."""
    if table.empty:
        return Reading("No chosen setting has confirmation runs yet.")
    lines = []
    for task, part in table.groupby(level="task", sort=False):
        drops = part["drop"]
        fell, perfect = int((drops > 1e-9).sum()), int((part["selection val"] >= 100 - 1e-9).sum())
        text = (f"* **{_task_name(task)}**: selection minus confirmation validation score, mean {drops.mean():+.1f} "
                f"points over {len(part)} methods (from {drops.min():+.1f} to {drops.max():+.1f}); {fell} of them "
                f"score lower on the fresh seeds; {perfect} won selection with a perfect validation score, which "
                "fresh seeds can only match or fall from")  # fmt: skip
        methods = part.index.get_level_values("method")
        if "linear_probe" in methods and "candidates" in part:
            probe = part[methods == "linear_probe"].iloc[0]
            others = part[(methods != "linear_probe") & (part["candidates"] > probe["candidates"])]
            if len(others):
                excess = others["drop"].mean() - probe["drop"]
                text += (f". The linear probe, chosen among {int(probe['candidates'])} candidates, falls by "
                         f"{probe['drop']:+.1f}; the {len(others)} methods chosen among more candidates "
                         f"({int(others['candidates'].min())}-{int(others['candidates'].max())}) fall by "
                         f"{others['drop'].mean():+.1f} on average, {excess:+.1f} points beyond the probe: the "
                         "curse's share, if the two seed sets differ as much for every method as for the "
                         "probe")  # fmt: skip
        lines.append(text + ".")
    return Reading(lines)


def read_ties(curves: pd.DataFrame) -> Reading:
    """From :func:`~.tuned_study.selection_curves`: the methods whose choice was made by the tie rule (several
    candidates level with the best mean validation score), how many tied, and how far the weights moved under the
    chosen candidate against the tied ones: where validation could not tell the settings apart."""
    lines = []
    decided = 0
    for (task, method), part in curves.groupby(["task", "method"], sort=False):
        chosen = part[part["chosen"]]
        if chosen.empty:
            continue
        decided += 1
        best = float(chosen["val mean"].iloc[0])
        tied = _tied(part, best)
        if len(tied) < 2:
            continue
        moved, scaling = tied["weight change"], chosen["scaling"].iloc[0]
        adapter = METHOD_SPECS[method].kind != "head"  # a linear probe moves no backbone weight
        scale = f", scale {SCALING_WORDS.get(scaling, scaling)}" if METHOD_SPECS[method].kind == "lora" else ""
        text = (f"* `{method}` on {_task_name(task)}: {len(tied)} candidates tie at {best:.1f}; the tie rule took "
                f"rate {float(chosen['lr'].iloc[0]):g}{scale}")  # fmt: skip
        if adapter:
            text += (f", under which the weights moved {float(chosen['weight change'].iloc[0]):.1e} (the tied "
                     f"candidates: {moved.min():.1e} to {moved.max():.1e})")  # fmt: skip
        lines.append(text + ".")
    n = len(lines)
    if not lines:
        return Reading("No choice was made by the tie rule.")
    head = (f"{n} of {decided} choices {'were' if n != 1 else 'was'} made by the tie rule (the smaller rate, then "
            "1/r), where validation could not tell the tied settings apart:")  # fmt: skip
    return Reading([head, *lines])


def read_q4_scaling(
    chosen: pd.DataFrame, curves: pd.DataFrame | None = None,
    methods: tuple[str, ...] = ("lora", "srlora_budget", "srlora"),
) -> Reading:  # fmt: skip
    """Question 4 under the tuned protocol, from the ``chosen`` settings
    (:func:`~srlora_utils.experiments.tuning.chosen_table`): the scaling (and rate) the rule chose for each of
    ``methods`` on each task and, given the selection ``curves``, whether another scaling tied with it at the top
    (then the tie rule, not validation, chose the scaling)."""
    lines = []
    done = chosen[chosen["lr"].notna()]
    for task, part in done.groupby(level="task", sort=False):
        picks = []
        for m in methods:
            if (task, m) not in part.index:
                continue
            row = part.loc[(task, m)]
            pick = f"`{m}` {SCALING_WORDS.get(row['scaling'], row['scaling'])} at {row['lr']:g}"
            if curves is not None:
                mine = curves[(curves["task"] == task) & (curves["method"] == m)]
                pick += _tie_words(row, _tied(mine, row["val mean"]))
            picks.append(pick)
        if picks:
            lines.append(f"* **{_task_name(task)}**: the rule chose {'; '.join(picks)}.")
    return Reading(lines or ["No scaling is chosen yet."])


def tie_decided(chosen: pd.Series, other: pd.Series) -> str | None:
    """What the tie rule decided between the ``chosen`` candidate and a tied ``other`` one: the first setting, in the
    rule's order (rate, then scaling, then whitening), on which the two differ; None when they are the same."""
    if not np.isclose(float(chosen["lr"]), float(other["lr"])):
        return "rate"
    if chosen["scaling"] != other["scaling"]:
        return "scale"
    if bool(chosen.get("eva_whiten", False)) != bool(other.get("eva_whiten", False)):
        return "whitening"
    return None


def _tie_words(chosen: pd.Series, tied: pd.DataFrame) -> str:
    """Words for the candidates with another scaling tied with ``chosen`` at the top: each named with its rate, and
    what the tie rule decided between them (:func:`tie_decided`), computed from the two candidates."""
    mine = SCALING_WORDS.get(chosen["scaling"], chosen["scaling"])
    others = [row for _, row in tied.iterrows() if SCALING_WORDS.get(row["scaling"], row["scaling"]) != mine]
    if not others:
        return ""
    named = ", ".join(f"{SCALING_WORDS.get(r['scaling'], r['scaling'])} at {float(r['lr']):g}" for r in others)
    decided = sorted({d for r in others if (d := tie_decided(chosen, r)) is not None})
    return f" (tied with {named}: the tie rule chose the {' and the '.join(decided)})"


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


def read_weak_references(table: pd.DataFrame, runs: list[dict], metric: str = "accuracy", name: str = "") -> Reading:
    """Which "ahead" verdicts of a comparison ``table`` (:func:`~.baseline_study.comparison_table` of ``runs``) are
    against a reference that is not itself ahead of the linear probe on the same task and shots (paired by seed, test
    ``metric``): a win over an adapter not separated from a linear probe says little about the winner's allocation.
    ``name`` heads the sentence (a protocol's name)."""
    from .readings import compare

    head = f"**{name}.** " if name else ""
    ahead = table[table["verdict"] == "ahead"]
    if not len(ahead):
        return Reading(head + 'No comparison reads "ahead".')
    weak: dict[tuple[str, int, str], bool] = {}
    flagged = []
    for (_q, task, shots, method, ref), _row in ahead.iterrows():
        if (task, shots, ref) not in weak:
            part = [r for r in runs if r["task"] == task and r["config"]["shots"] == shots]
            probe = ref != "linear_probe" and any(r["config"]["method"] == "linear_probe" for r in part)
            weak[task, shots, ref] = probe and compare(part, metric, ref, "linear_probe").verdict != "ahead"
        if weak[task, shots, ref]:
            flagged.append(f"`{method}` − `{ref}` on {_task_name(task)}, {shots}-shot")
    refs = sorted({f"`{ref}` on {_task_name(task)}, {shots}-shot" for (task, shots, ref), w in weak.items() if w})
    n = len(flagged)
    text = (f"{head}Of the {len(ahead)} \"ahead\" verdicts, {n} {'is' if n == 1 else 'are'} against a reference that "
            "is not ahead of the linear probe on the same task")  # fmt: skip
    if flagged:
        text += (f" ({'; '.join(refs)}): {'; '.join(flagged)}. Those show a win over an adapter not separated from a "
                 "linear probe under its setting, not that the winner's allocation helps.")  # fmt: skip
    return Reading(text + ("" if flagged else "."))


def read_last_epoch(table: pd.DataFrame) -> Reading:
    """From :func:`~.tuned_study.last_epoch_table`: in how many cells the selected epoch's test score is below the
    last epoch's (the paired interval entirely below zero), above it, or not separated, and the largest cost."""
    if table.empty:
        return Reading("No run records its last epoch's test score.")
    below, above = table[table["ci high"] < 0], table[table["ci low"] > 0]
    text = (f"Of {len(table)} cells, the selected epoch tests **below** the last epoch in {len(below)}, above it in "
            f"{len(above)}, and is not separated from it in {len(table) - len(below) - len(above)}")  # fmt: skip
    if len(below):
        (task, shots, method), worst = min(below.iterrows(), key=lambda kv: kv[1]["selected - last"])
        text += (f"; the largest cost is {worst['selected - last']:+.1f} points (`{method}`, {_task_name(task)}, "
                 f"{shots}-shot)")  # fmt: skip
    if len(below) > len(above):
        text += (". On these validation sets, choosing an epoch stopped training too early more often than it saved a "
                 "model from over-fitting")  # fmt: skip
    return Reading(text + ".")
