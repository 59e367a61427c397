"""Question 6 of the gap ladder (``grids/gap-ladder.toml``, lesson 07): does budget-matched SR-LoRA's advantage over
LoRA grow with the measured domain gap?

The runs are the tuned protocol's confirmation runs (:func:`~srlora_utils.analysis.tuned_study.confirmation_runs`:
the same rule and records as notebook 05's tuned study); the gaps are the records of
:mod:`srlora_utils.experiments.domain_gap`, measured before any run. The estimand is the least-squares slope of the
paired differences ``srlora_budget - lora`` (test accuracy, pairs by seed) on the gap, over every pair of every rung;
its interval comes from resampling the seeds within each rung (:func:`gap_slope`), so it speaks of these rungs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.gap_ladder import parse_ladder
from ..data.shipped import restore_how, shipped_path
from ..errors import SrLoraError
from ..experiments.tuning import TuningPlan, TuningState
from .comparison import paired_interval
from .readings import Reading
from .tuned_study import confirmation_runs, stage_progress, study_state

LADDER_GRID = "grids/gap-ladder.toml"
LADDER_RECORDS = "results/gap-ladder/records.jsonl"
#: The framing methods every rung also reports (fixed settings, fewer seeds).
FRAMING = ("linear_probe", "full_ft")


@dataclass(frozen=True)
class Ladder:
    """The gap ladder as lesson 07 reads it: the grid's ``settings`` and tuning ``plan``, all ``records``, the
    confirmation ``runs`` the rule chooses, and the ``gaps`` by task."""

    settings: dict
    plan: TuningPlan
    records: list[dict]
    runs: list[dict]
    gaps: dict[str, dict]

    @property
    def primary(self) -> tuple[str, str]:
        """(method, reference) of the registered pair."""
        p = self.settings["primary"]
        return p["method"], p["reference"]

    @cached_property
    def state(self) -> TuningState:
        """Where the rule stands on these records: the choice per rung and method, and every run it asks for."""
        return study_state(self.settings, self.records)

    @property
    def complete(self) -> bool:
        """Whether every run the rule asks for is recorded (and every method has a choice)."""
        return stage_progress(self.state, self.records)[2]

    def progress(self) -> tuple[int, int]:
        """(runs recorded that the rule asks for, runs it asks for so far)."""
        return stage_progress(self.state, self.records)[:2]


def load_ladder(records: str | None = None, gaps: str | None = None) -> Ladder:
    """The gap ladder's records and gaps (the shipped ones unless paths are given); one line when a file is
    missing."""
    from ..experiments.domain_gap import read_gaps
    from ..experiments.grids import grid_settings
    from ..training.records import read_records

    grid = shipped_path(LADDER_GRID)
    if not grid.is_file():
        raise SrLoraError(f"gap ladder grid {grid} is missing: restore it {restore_how('grids/')}")
    settings = grid_settings(str(grid))
    path = Path(records).resolve() if records is not None else shipped_path(LADDER_RECORDS)
    if not path.is_file():
        raise SrLoraError(f"the gap ladder's records {path} are missing: restore them {restore_how(LADDER_RECORDS)}, "
                          f"or run it: srlora tune {LADDER_GRID} --records FILE --jobs 2")  # fmt: skip
    gap_path = Path(gaps).resolve() if gaps is not None else shipped_path(settings["ladder"]["gaps"])
    found = read_gaps(gap_path)
    tasks = list(settings["tasks"])
    missing = [t for t in tasks if t not in found]
    if missing:
        raise SrLoraError(f"{gap_path} has no gap for {', '.join(missing)}: measure it with `srlora gap --out FILE`")
    recs = read_records(path)
    return Ladder(settings, TuningPlan.from_settings(settings), recs, confirmation_runs(settings, recs), found)


def _mean(runs: list[dict], task: str, method: str, metric: str) -> float:
    values = [r["test"][metric] for r in runs if r["config"]["task"] == task and r["config"]["method"] == method]
    return float(np.mean(values)) if values else float("nan")


def pair_differences(ladder: Ladder, method: str, reference: str, metric: str = "accuracy") -> dict[str, pd.Series]:
    """Per rung of ``ladder`` (the grid's task name): test ``metric`` of ``method`` minus ``reference``'s by seed,
    over the seeds both ran (confirmation runs)."""
    out = {}
    for task in ladder.settings["tasks"]:
        runs = [r for r in ladder.runs if r["config"]["task"] == task]
        by = {m: {r["config"]["seed"]: r["test"][metric] for r in runs if r["config"]["method"] == m}
              for m in (method, reference)}  # fmt: skip
        seeds = sorted(set(by[method]) & set(by[reference]))
        out[task] = pd.Series([by[method][k] - by[reference][k] for k in seeds], index=pd.Index(seeds, name="seed"),
                              dtype=float)  # fmt: skip
    return out


def rung_table(ladder: Ladder, metric: str = "accuracy") -> pd.DataFrame:
    """One row per rung: its source and rung, the gap and the two 5-NN accuracies it is made of, each method's mean
    test ``metric`` (confirmation runs), the chosen rates, and the pair's mean difference with its 95% t interval."""
    method, reference = ladder.primary
    state = ladder.state
    diffs = pair_differences(ladder, method, reference, metric)
    rows = []
    for task in ladder.settings["tasks"]:
        source, rung = parse_ladder(task.partition(":")[2])
        gap = ladder.gaps[task]
        iv = paired_interval(diffs[task])
        row = {"task": task, "source": source, "rung": rung, "gap": gap["gap"], "raw 5-NN": gap["raw_knn"],
               "feature 5-NN": gap["feature_knn"]}  # fmt: skip
        for m in (reference, method, *FRAMING):
            row[m] = _mean(ladder.runs, task, m, metric)
        for m in (reference, method):
            chosen = state.chosen.get((task, m))
            row[f"{m} lr"] = float(chosen["lr"]) if chosen is not None else float("nan")
        row.update({"pairs": iv.n, "difference": iv.mean, "ci low": iv.low, "ci high": iv.high,
                    "verdict": iv.verdict})  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows).set_index("task")


@dataclass(frozen=True)
class Slope:
    """The least-squares slope of the pair's differences on the gap (points of difference per point of gap), its
    percentile bootstrap interval ``low``..``high`` at ``confidence``, the ``intercept`` (the difference at gap 0),
    the ``pairs`` and ``rungs`` it rests on, the ``resamples`` and the rungs' ``tasks``."""

    slope: float
    low: float
    high: float
    intercept: float
    pairs: int
    rungs: int
    confidence: float = 0.95
    resamples: int = 0
    tasks: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """ "grows with the gap" (interval above 0), "shrinks with the gap" (below 0) or "not resolved"."""
        if self.low > 0:
            return "grows with the gap"
        if self.high < 0:
            return "shrinks with the gap"
        return "not resolved"


def _slope(gaps: np.ndarray, means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Least-squares slope over pairs whose rung means are ``means`` (..., rungs): each rung weighs its pair count."""
    w = counts / counts.sum()
    g = gaps - (w * gaps).sum()
    return (w * g * means).sum(axis=-1) / (w * g * g).sum()


def source_tasks(ladder: Ladder, source: str) -> list[str]:
    """The ladder's tasks of label source ``source``."""
    return [t for t in ladder.settings["tasks"] if parse_ladder(t.partition(":")[2])[0] == source]


def gap_slope(
    ladder: Ladder,
    metric: str = "accuracy",
    tasks: list[str] | None = None,
    resamples: int | None = None,
    seed: int = 0,
    clustered: bool = False,
) -> Slope:
    """Q6's estimate on ``ladder``: the pair's differences (test ``metric``) regressed on the gap over the rungs
    (``tasks`` only, when given) that have at least two pairs, with a 95% percentile interval from ``resamples``
    (default: the grid's ``bootstrap``) resamples drawn by ``seed``: of the seeds within each rung (the registered
    interval), or with ``clustered``, one draw of seeds applied to every rung (a seed shares its training images
    across a source's rungs: the sensitivity check keeps that correlation; rungs then use the seeds they all
    share)."""
    method, reference = ladder.primary
    diffs = pair_differences(ladder, method, reference, metric)
    tasks = list(ladder.settings["tasks"]) if tasks is None else list(tasks)
    by_task = {t: diffs[t] for t in tasks}
    kept = [t for t in tasks if len(by_task[t]) >= 2]
    if clustered and kept:  # every rung on the seeds all of them have, so that one draw of seeds fits every rung
        common = sorted(set.intersection(*(set(by_task[t].index) for t in kept)))
        by_task = {t: by_task[t].loc[common] for t in kept}
        kept = kept if len(common) >= 2 else []
    if len(kept) < 3:
        raise SrLoraError(f"the slope needs at least 2 pairs on each of at least 3 rungs; {len(kept)} have them")
    per_rung = [by_task[t].sort_index().to_numpy(float) for t in kept]
    gaps = np.array([ladder.gaps[t]["gap"] for t in kept], dtype=float)
    if np.ptp(gaps) == 0:
        raise SrLoraError("every rung kept has the same gap: a slope on the gap is undefined")
    counts = np.array([len(d) for d in per_rung], dtype=float)
    means = np.array([d.mean() for d in per_rung])
    slope = float(_slope(gaps, means, counts))
    w = counts / counts.sum()
    intercept = float((w * means).sum() - slope * (w * gaps).sum())
    n_boot = int(resamples if resamples is not None else ladder.settings["ladder"].get("bootstrap", 10_000))
    rng = np.random.default_rng(seed)
    if clustered:
        pick = rng.integers(0, len(per_rung[0]), (n_boot, len(per_rung[0])))
        boot = np.stack([d[pick].mean(axis=1) for d in per_rung], axis=1)
    else:
        boot = np.stack([d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1) for d in per_rung], axis=1)
    low, high = np.quantile(_slope(gaps, boot, counts), [0.025, 0.975])
    return Slope(slope, float(low), float(high), intercept, int(counts.sum()), len(kept), 0.95, n_boot,
                 tuple(kept))  # fmt: skip


def _per10(x: float) -> str:
    return f"{10 * x:+.2f}"


def read_q6(ladder: Ladder, metric: str = "accuracy") -> Reading:
    """Question 6 in words, from the records: the slope per 10 points of gap with its interval and verdict, against
    the precision the grid planned, what the line implies over the rungs' span, the clustered-bootstrap check, the
    per-rung verdicts, and the same slope within each label source (where it has 3 rungs with pairs)."""
    method, reference = ladder.primary
    table = rung_table(ladder, metric)
    s = gap_slope(ladder, metric)
    used = table.loc[list(s.tasks), "gap"]
    span = float(used.max() - used.min())
    planned = float(ladder.settings["ladder"]["slope_half_width"])
    half = (s.high - s.low) / 2
    done, known = ladder.progress()
    c = gap_slope(ladder, metric, clustered=True)
    lines = [
        f"**Q6** ({'complete' if ladder.complete else f'{done} of {known} runs so far'}; controlled stand-ins). "
        f"Across {s.rungs} rungs whose gaps run from {used.min():+.1f} to {used.max():+.1f} points, "
        f"`{method}` − `{reference}` changes by **{_per10(s.slope)} points per 10 points of gap** (95% bootstrap "
        f"interval {_per10(s.low)} to {_per10(s.high)}, {s.pairs} pairs): **{s.verdict}**.",
        f"- The interval's half-width is {_per10(half)[1:]} per 10 points of gap; the grid planned "
        f"{10 * planned:.2f} ({'as planned or better' if half <= planned else 'wider than planned'}). That figure is a "
        "precision, not a power: a true slope as large as it would be resolved only about half the time.",
        f"- Over the rungs' span of {span:.0f} points of gap the fitted line moves by {s.slope * span:+.1f} points "
        f"(interval {s.low * span:+.1f} to {s.high * span:+.1f}); where pixels and frozen features do equally well "
        f"(gap 0) it gives {s.intercept:+.1f} points.",
        f"- Sensitivity check, not registered: resampling seeds jointly across rungs (a seed draws the same training "
        f"images on every rung of a source) gives {_per10(c.low)} to {_per10(c.high)} per 10 points: {c.verdict}.",
    ]
    counts = table["verdict"].value_counts()
    lines.append(f"- Rung by rung (95% t intervals over seeds, uncorrected: they count rungs, they do not test a "
                 f"trend): `{method}` ahead on {counts.get('ahead', 0)}, behind on {counts.get('behind', 0)}, not "
                 f"resolved on {counts.get('not resolved', 0)} of {len(table)}.")  # fmt: skip
    for source in dict.fromkeys(table["source"]):
        try:
            part = gap_slope(ladder, metric, tasks=source_tasks(ladder, source))
        except SrLoraError as err:
            lines.append(f"- Within `{source}` alone: no slope yet ({err}).")
            continue
        lines.append(f"- Within `{source}` alone ({part.rungs} rungs): {_per10(part.slope)} per 10 points "
                     f"({_per10(part.low)} to {_per10(part.high)}): {part.verdict}.")  # fmt: skip
    return Reading(lines)


def leverage_table(ladder: Ladder, metric: str = "accuracy") -> pd.DataFrame:
    """Each rung's share of the slope's leverage (its pairs times its squared distance from the mean gap, over the
    sum): a rung with a large share can decide the slope alone."""
    s = gap_slope(ladder, metric, resamples=1)
    table = rung_table(ladder, metric).loc[list(s.tasks)]
    w = table["pairs"] / table["pairs"].sum()
    far = table["pairs"] * (table["gap"] - (w * table["gap"]).sum()) ** 2
    return pd.DataFrame({"gap": table["gap"], "pairs": table["pairs"], "leverage share": (far / far.sum()).round(3)})


def read_framing(ladder: Ladder, metric: str = "accuracy") -> Reading:
    """How the pair compares with the framing methods rung by rung (paired over the framing seeds): on how many
    rungs each of the pair is ahead of the linear probe, and how full fine-tuning compares with LoRA."""
    method, reference = ladder.primary
    lines = []
    for m, ref in ((reference, "linear_probe"), (method, "linear_probe"), ("full_ft", reference)):
        d = pair_differences(ladder, m, ref, metric)
        verdicts = [paired_interval(v).verdict for v in d.values()]
        n = min((len(v) for v in d.values()), default=0)
        lines.append(f"- `{m}` against `{ref}` ({n} paired seeds a rung): ahead on {verdicts.count('ahead')}, behind "
                     f"on {verdicts.count('behind')}, not resolved on {verdicts.count('not resolved')} of "
                     f"{len(verdicts)} rungs.")  # fmt: skip
    return Reading(lines)
