"""Results in words: the sentences the lessons show about their own runs, built from the runs.

No sentence about a result is typed by hand in a notebook. A lesson calls one of these functions in a code cell
whose output is Markdown (:class:`Reading`), so a re-execution with other numbers changes the words, and nbval,
which compares the stored Markdown, fails until the notebook is refreshed. Every comparison follows the course's one
standard (:func:`~srlora_utils.analysis.comparison.paired_interval`): a difference paired by seed with its 95% t
interval,
"ahead"/"behind" only when the interval excludes zero, and always the number of paired runs it rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..experiments.sweeps import summary_table
from ..training.methods import METHOD_SPECS
from .comparison import Interval, paired_interval, paired_values

#: SR-LoRA's variants and the peers the seed paper's claim is about (adaptive-rank) or that this kit adds
#: (initialisation from the weights or the data, and weight decomposition).
SRLORA_VARIANTS = ("srlora", "srlora_budget", "srlora_nested")
ADAPTIVE_PEERS = ("adalora", "dylora", "eva")
INIT_PEERS = ("pissa", "dora")


class Reading:
    """Markdown text that renders as Markdown in Jupyter and on the course site, and reads as plain text elsewhere."""

    def __init__(self, lines: str | Iterable[str]):
        self.text = lines if isinstance(lines, str) else "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __contains__(self, part: str) -> bool:
        return part in self.text


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _names(methods: Sequence[str]) -> str:
    return ", ".join(f"`{m}`" for m in methods) if methods else "none"


def compare(runs: list[dict], metric: str, method: str, reference: str) -> Interval:
    """:func:`~srlora_utils.analysis.comparison.paired_interval` of ``method - reference`` in test ``metric`` over
    ``runs``
    (one task and shot count)."""
    return paired_interval(paired_values(runs, metric, method, reference))


def _sentence(method: str, reference: str, iv: Interval) -> str:
    return f"`{method}` - `{reference}` = {iv.words()}: **{iv.verdict}**"


def _groups(runs: list[dict]) -> list[tuple[str, int, list[dict]]]:
    out: dict[tuple[str, int], list[dict]] = {}
    for r in runs:
        out.setdefault((r["task"], r["config"]["shots"]), []).append(r)
    return [(task, shots, part) for (task, shots), part in out.items()]


def _methods(runs: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["config"]["method"] for r in runs))


def read_ranking(runs: list[dict], metric: str) -> Reading:
    """Per task and shot count: the two highest mean test ``metric`` and their paired difference, then SR-LoRA's
    rule and its budget-matched form against LoRA, each with its interval and verdict."""
    lines = []
    for task, shots, part in _groups(runs):
        means = summary_table(part)[f"{metric} mean"].droplevel([0, 1]).sort_values(ascending=False)
        n = max(sum(r["config"]["method"] == m for r in part) for m in means.index)
        head = f"**{task}, {shots}-shot** ({n} runs per method)"
        if len(means) < 2:
            lines.append(f"* {head}: only `{means.index[0]}` ran ({_pct(means.iloc[0])}); nothing to compare.")
            continue
        best, second = means.index[0], means.index[1]
        iv = compare(part, metric, best, second)
        lines.append(f"* {head}: highest mean test {metric} `{best}` ({_pct(means[best])}), then `{second}` "
                     f"({_pct(means[second])}); {_sentence(best, second, iv)}.")  # fmt: skip
        for m in ("srlora_budget", "srlora"):
            if m in means.index and "lora" in means.index:
                lines.append(f"  * {_sentence(m, 'lora', compare(part, metric, m, 'lora'))}.")
    return Reading(lines)


def read_gain(gain: pd.DataFrame, metric: str) -> Reading:
    """The adaptation gain of :func:`~srlora_utils.analysis.study.adaptation_gain` in words: how far the best
    method that
    adapts the backbone is from the linear probe, with its interval."""
    lines = []
    for (task, shots), row in gain.iterrows():
        iv = Interval(row["gain (points)"], row["ci low"], row["ci high"], int(row["runs"]))
        size = {"ahead": "adapting the backbone adds", "behind": "adapting the backbone loses",
                "not resolved": "these runs do not resolve what adapting the backbone adds"}[iv.verdict]  # fmt: skip
        lines.append(f"* **{task}, {shots}-shot**: linear probe {_pct(row['linear probe'])}, best adapting method "
                     f"`{row['best adapting method']}` {_pct(row['its score'])} (test {metric}); {size}: "
                     f"{iv.words()}, **{iv.verdict}**.")  # fmt: skip
    return Reading(lines)


def _verdicts(part: list[dict], metric: str, methods: Iterable[str], reference: str) -> dict[str, Interval]:
    present = set(_methods(part))
    return {m: compare(part, metric, m, reference) for m in methods if m in present and reference in present}


def _split(ivs: dict[str, Interval]) -> str:
    by = {v: [m for m, iv in ivs.items() if iv.verdict == v] for v in ("ahead", "behind", "not resolved")}
    return "; ".join(f"{v}: {_names(ms)}" for v, ms in by.items())


def read_baselines(runs: list[dict], pixels: pd.DataFrame, metric: str = "accuracy") -> Reading:
    """Per task of ``runs``: which fine-tuned methods are ahead of, behind or not resolved against the linear probe
    in test ``metric``, and against the better raw-pixel baseline (``pixels`` from
    :func:`~srlora_utils.experiments.baselines.baseline_runs`, paired by seed)."""
    lines = []
    for task, shots, part in _groups(runs):
        tuned = [m for m in _methods(part) if METHOD_SPECS[m].kind != "head"]
        if "linear_probe" in _methods(part):
            text = f"* **{task}, {shots}-shot**, against the linear probe: "
            text += f"{_split(_verdicts(part, metric, tuned, 'linear_probe'))}."
        else:
            text = f"* **{task}, {shots}-shot** (no linear probe ran in this setting)."
        mine = pixels[(pixels["task"] == task) & (pixels["shots"] == shots)]
        if not mine.empty:
            cols = [c for c in mine.columns if c.endswith("(raw pixels)")]
            best = max(cols, key=lambda c: mine[c].mean())
            ref = mine.set_index(["seed", "exp"])[best]
            ivs = {}
            for m in tuned:
                own = pd.Series({(r["config"]["seed"], r["config"].get("exp") or 0): r["test"][metric]
                                 for r in part if r["config"]["method"] == m})  # fmt: skip
                own.index.names = ref.index.names  # pair by (seed, exp), whichever runs both have
                ivs[m] = paired_interval((own - ref).dropna())
            name = best.replace(" (raw pixels)", " on raw pixels")
            text += f" Against the better raw-pixel baseline, {name} ({_pct(ref.mean())}): {_split(ivs)}."
        lines.append(text)
    return Reading(lines)


def read_random_rank(runs: list[dict], metric: str = "accuracy") -> Reading:
    """Nested methods: test ``metric`` at a random rank (the official evaluation) minus at full rank, paired by run."""
    lines = []
    for task, shots, part in _groups(runs):
        for m in _methods(part):
            pairs = [r["test_random_rank"][metric] - r["test"][metric] for r in part
                     if r["config"]["method"] == m and "test_random_rank" in r]  # fmt: skip
            if pairs:
                iv = paired_interval(pairs)
                lines.append(f"* **{task}, {shots}-shot**, `{m}`: random rank - full rank = {iv.words()}: "
                             f"**{iv.verdict}**.")  # fmt: skip
    return Reading(lines)


def schedule_steps(record: dict) -> int:
    """Optimiser steps of a run's schedule (epochs x steps per epoch), whether or not training stopped early
    (see ``stop_at_perfect_val``); the steps taken for records older than the field, -1 when neither is recorded."""
    return record.get("schedule_steps", record.get("steps", -1))


def steps_per_run(runs: list[dict]) -> dict[str, int | None]:
    """Optimiser steps of one run's schedule per task (median over runs; None where the records predate the
    ``steps`` field)."""
    out: dict[str, list[int]] = {}
    for r in runs:
        out.setdefault(r["task"], []).append(schedule_steps(r))
    return {t: (int(np.median(v)) if min(v) >= 0 else None) for t, v in out.items()}


def _limits(runs: list[dict]) -> str:
    """What bounds a reading of ``runs``: stand-in or fixture data, the backbone, image size, steps per run."""
    from ..models.backbones import OFFLINE_BACKBONE

    c = runs[0]["config"]
    steps = ", ".join(f"{s if s is not None else 'not recorded'} on {t}" for t, s in steps_per_run(runs).items())
    data = (
        "stand-in tasks, not medical or remote-sensing data"
        if all(r.get("standin") for r in runs)
        else "synthetic fixtures, not results"
        if any(r.get("fixture") for r in runs)
        else "the tasks named above"
    )
    return (f"{data}; backbone {c.get('backbone') or OFFLINE_BACKBONE} at {c.get('img_size')} px; optimiser steps "
            f"per run: {steps}")  # fmt: skip


def read_fixture_results(runs: list[dict]) -> Reading:
    """For runs on synthetic fixtures: why their numbers are not results, from the runs themselves (steps per run,
    splits and seeds), and an explanation of every mean AUC below chance."""
    fixture = [r for r in runs if r.get("fixture")]
    if not fixture:
        return Reading("These runs read real data: the table above is the reproduction.")
    recorded = [r["steps"] for r in fixture if "steps" in r]
    fewest = min(recorded) if recorded else None
    low: dict[tuple[str, int, str], list[float]] = {}
    for r in fixture:
        if "AUC" in r["test"]:
            low.setdefault((r["config"]["task"], r["config"]["shots"], r["config"]["method"]), []).append(
                r["test"]["AUC"]
            )
    below = {k: float(np.mean(v)) for k, v in low.items() if np.mean(v) < 50}
    steps = f"{fewest if fewest is not None else 'an unrecorded number of'} optimiser step{'s' if fewest != 1 else ''}"
    lines = [
        f"These {len(fixture)} runs read synthetic fixtures: random class textures, trained for as few as {steps} per "
        "run. Their numbers show that the paper path runs; they are not results, and no row of theirs is comparable "
        "with the authors'. Where a fixture number lands near one of the authors' numbers, that is a coincidence, and "
        "a gap between two methods on a fixture is not a finding either.",
    ]
    if below:
        cells = "; ".join(f"{t} {k}-shot `{m}` {v:.1f}" for (t, k, m), v in below.items())
        few = sorted({r.get("steps", -1) for r in fixture if (r["config"]["task"], r["config"]["shots"],
                                                               r["config"]["method"]) in below})  # fmt: skip
        took = f"{', '.join(str(s) if s >= 0 else 'unrecorded' for s in few)} optimiser step{'s' if few != [1] else ''}"
        lines += [
            "",
            f"AUC below chance (50) on a fixture ({cells}) is not a finding either. Those runs took {took}, so their "
            "head is close "
            "to its random initialisation; the fixture's classes differ by colour, so such a head ranks the few test "
            "images almost all right or almost all wrong, and a random head is as likely to rank them backwards "
            "(AUC near 0) as forwards (near 100).",
        ]
    return Reading(lines)


def read_spearman(spearman: pd.DataFrame, prior: str = "srlora") -> Reading:
    """The data-driven allocations' Spearman correlation with the weight prior's ranks (``spearman`` from
    :func:`~srlora_utils.analysis.comparison.allocation_atlas`, first run of each method) and with each other."""
    data = [m for m in ("adalora", "eva") if m in spearman.index]
    if prior not in spearman.index or not data:
        return Reading("The runs hold no data-driven allocation beside the weight prior's: nothing to correlate.")
    with_prior = ", ".join(f"`{m}` {spearman.loc[prior, m]:.2f}" for m in data)
    text = f"* Spearman correlation of the per-module ranks with `{prior}`'s (one run each): {with_prior}"
    if len(data) == 2:
        text += f"; between `{data[0]}` and `{data[1]}`: {spearman.loc[data[0], data[1]]:.2f}"
    return Reading(text + ". A value of 1 would mean the data ranks the modules as the weight prior does; 0, no "
                   "relation. One run per method gives no interval.")  # fmt: skip


def lesson_takeaways(runs: list[dict], metric: str = "accuracy") -> Reading:
    """A training lesson's takeaways (lessons 03 and 04), built from its ``runs``: how the runs were chosen and
    tested, the budget-matched comparison's verdict with the seeds it rests on, and what stand-in data can show."""
    part = [r for r in runs if r["task"] == runs[0]["task"] and r["config"]["shots"] == runs[0]["config"]["shots"]]
    methods, seeds = _methods(part), sorted({(r["config"]["seed"], r["config"].get("exp")) for r in part})
    lines = [f"* Every one of the {len(part)} runs ({len(methods)} methods x {len(seeds)} seeds) chose its epoch on "
             "the validation split and read the test set once: nothing was chosen on the test set."]  # fmt: skip
    if {"srlora_budget", "lora"} <= set(methods):
        iv = compare(part, metric, "srlora_budget", "lora")
        lines.append(f"* At LoRA's parameter budget, the stable-rank allocation against uniform ranks: "
                     f"{_sentence('srlora_budget', 'lora', iv)}. With {iv.n} seeds an interval this wide "
                     f"({iv.high - iv.low:.1f} points) resolves only large differences: more seeds, not more "
                     "methods, is what a verdict needs.")  # fmt: skip
    lines.append("* A fine-tuned network has to clear simple raw-pixel baselines on the same images before its cost "
                 "is earned: the baseline table says whether it did here.")  # fmt: skip
    if any(r.get("standin") or r.get("fixture") for r in part):
        lines.append(f"* `{part[0]['task']}` is not the real task: these numbers demonstrate the pipeline; they are "
                     "not medical or remote-sensing results.")  # fmt: skip
    return Reading(lines)
