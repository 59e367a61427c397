"""Comparing methods across seeds, under the one statistical standard of the course: the difference of two methods
paired by seed (and MedFMC split), with a 95% t interval. "Ahead" or "behind" means the interval excludes zero;
anything else is "not resolved". Every lesson and report reads comparisons through :func:`paired_interval`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..experiments.sweeps import runs_table


@dataclass(frozen=True)
class Interval:
    """Mean of paired differences ``mean`` with its t interval ``low``..``high`` at ``confidence``, from ``n``
    pairs (no interval, NaN ends, for fewer than two); ``p`` is the paired t test's two-sided p-value. With an
    equivalence ``margin``, ``eq_low``..``eq_high`` is the interval of the two one-sided tests at the same level
    (90% for 95%): inside ±margin means the two methods are equivalent within it. ``sd`` is the differences'
    standard deviation."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    p: float = float("nan")
    margin: float | None = None
    eq_low: float = float("nan")
    eq_high: float = float("nan")
    sd: float = float("nan")

    @property
    def verdict(self) -> str:
        """ "ahead" (interval above zero), "behind" (below zero), "equivalent within ±margin" (with a margin, the
        equivalence interval inside it) or "not resolved"."""
        if self.n > 1 and self.low > 0:
            return "ahead"
        if self.n > 1 and self.high < 0:
            return "behind"
        if self.margin is not None and self.n > 1 and -self.margin < self.eq_low and self.eq_high < self.margin:
            return f"equivalent within ±{self.margin:g}"
        return "not resolved"

    def words(self, unit: str = "points") -> str:
        """The difference with its interval and the number of pairs it rests on, e.g. ``+1.3 points (95% interval
        -0.8 to +3.4, 3 paired runs)``."""
        level = f"{100 * self.confidence:.0f}% interval"
        ci = f"{level} {self.low:+.1f} to {self.high:+.1f}" if self.n > 1 else "no interval from one pair"
        return f"{self.mean:+.1f} {unit} ({ci}, {self.n} paired run{'s' if self.n != 1 else ''})"


def paired_interval(differences: Iterable[float], confidence: float = 0.95, margin: float | None = None) -> Interval:
    """The t interval at level ``confidence`` of the mean of paired ``differences`` (NaNs dropped), the paired t
    test's p-value and, with an equivalence ``margin`` (points), the two one-sided tests' interval."""
    d = np.asarray([x for x in differences if not pd.isna(x)], dtype=float)
    n = len(d)
    nan = float("nan")
    if n < 2:
        return Interval(float(d.mean()) if n else nan, nan, nan, n, confidence, margin=margin)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / float(np.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * se)
    eq_half = float(stats.t.ppf(confidence, n - 1) * se)  # two one-sided tests at (1 - confidence) / 2 each
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1)) if se > 0 else (0.0 if mean != 0 else 1.0)
    return Interval(mean, mean - half, mean + half, n, confidence, p, margin, mean - eq_half, mean + eq_half, sd)


def holm(pvalues: Iterable[float], alpha: float = 0.05) -> list[bool]:
    """Which of ``pvalues`` survive Holm's step-down correction at family-wise level ``alpha`` (in input order)."""
    p = list(pvalues)
    survive = [False] * len(p)
    for i, k in enumerate(sorted(range(len(p)), key=lambda j: p[j])):
        if not p[k] <= alpha / (len(p) - i):
            break
        survive[k] = True
    return survive


def runs_for_half_width(sd: float, half_width: float, confidence: float = 0.95, most: int = 1000) -> int:
    """The fewest paired runs whose t interval at ``confidence`` is at most ±``half_width`` when the differences
    have standard deviation ``sd`` (``most`` if none up to it is enough)."""
    for n in range(2, most + 1):
        if stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n) <= half_width:
            return n
    return most


def paired_values(runs: list[dict], metric: str, method: str, reference: str) -> pd.Series:
    """Per (task, shots, seed, exp): test ``metric`` of ``method`` minus ``reference``'s, on the repeats of ``runs``
    that both ran."""
    df = runs_table(runs)
    df["exp"] = df["exp"].fillna(0)  # no split: pair by seed alone
    col = f"test_{metric}"
    index = ["task", "shots", "seed", "exp"]
    a = df[df["method"] == method].set_index(index)[col]
    b = df[df["method"] == reference].set_index(index)[col]
    return (a - b).dropna()


def paired_differences(
    runs: list[dict], metric: str = "accuracy", reference: str = "lora", confidence: float = 0.95
) -> pd.DataFrame:
    """Per (task, shots, method): mean of ``method - reference`` in test ``metric`` over the runs both did, with a
    t interval at level ``confidence`` (:func:`paired_interval`) and its ``verdict``.

    Pairing by seed (and MedFMC split) removes what they do to both (the split, the head's initialisation).
    """
    df = runs_table(runs)
    rows = []
    for (task, shots), group in df.groupby(["task", "shots"], sort=False):
        if reference not in set(group["method"]):
            continue
        for method in dict.fromkeys(group["method"]):
            if method == reference:
                continue
            d = paired_values(runs, metric, method, reference)
            at = (d.index.get_level_values("task") == task) & (d.index.get_level_values("shots") == shots)
            iv = paired_interval(d[at], confidence)
            rows.append({"task": task, "shots": shots, "method": method, "runs": iv.n, "mean diff": iv.mean,
                         "ci low": iv.low, "ci high": iv.high, "verdict": iv.verdict})  # fmt: skip
    columns = ["task", "shots", "method", "runs", "mean diff", "ci low", "ci high", "verdict"]
    return pd.DataFrame(rows, columns=columns).set_index(["task", "shots", "method"])


#: The allocations notebook 05 compares: the weight prior's, the data-driven ones and uniform LoRA.
ATLAS_METHODS = ("lora", "srlora", "srlora_budget", "adalora", "eva")


def allocation_atlas(runs: list[dict], methods: tuple[str, ...] = ATLAS_METHODS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-module ranks actually used (one column per method, from the first run of each) and their pairwise
    Spearman rank correlations (NaN where a method's ranks are all equal, as uniform LoRA's)."""
    first: dict[str, dict] = {}
    for r in runs:
        first.setdefault(r["config"]["method"], r)
    ranks = pd.DataFrame({m: pd.Series(first[m]["ranks"]) for m in methods if m in first})
    spearman = ranks.corr(method="spearman")
    return ranks, spearman


def cost_table(runs: list[dict], reference: str = "lora") -> pd.DataFrame:
    """Per method (medians over runs): trainable parameters, LoRA parameters at evaluation, step time and its
    ratio to ``reference``, initialisation time, peak memory (process maximum RSS on CPU: an upper bound)."""
    df = pd.DataFrame(
        {
            "method": r["config"]["method"], "trainable_params": r["trainable_params"],
            "lora_params_at_eval": r["lora_params"], "step_ms": 1000 * r["step_s_median"], "init_s": r["init_s"],
            "peak_memory_mb": r["peak_memory_mb"],
        }
        for r in runs
    )  # fmt: skip
    table = df.groupby("method", sort=False).median()
    table[["trainable_params", "lora_params_at_eval"]] = table[["trainable_params", "lora_params_at_eval"]].astype(int)
    if reference in table.index:  # a study without the reference method has no ratio column
        table.insert(3, f"step x {reference}", table["step_ms"] / table.loc[reference, "step_ms"])
    return table


def random_rank_evaluation(runs: list[dict], metric: str = "accuracy") -> pd.DataFrame:
    """Nested methods evaluated twice on the same weights: full rank (this kit) and a random rank (official code)."""
    rows = [
        {"task": r["task"], "method": r["config"]["method"], "seed": r["config"]["seed"],
         "full rank": r["test"][metric], "random rank (official)": r["test_random_rank"][metric]}
        for r in runs if "test_random_rank" in r
    ]  # fmt: skip
    df = pd.DataFrame(rows)
    table = df.groupby(["task", "method"], sort=False)[["full rank", "random rank (official)"]].agg(["mean", "std"])
    table.columns = [f"{a} {b}" for a, b in table.columns]
    return table
