"""Comparing methods across seeds: paired differences to a reference method with confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .sweeps import runs_table


def paired_differences(
    runs: list[dict], metric: str = "accuracy", reference: str = "lora", confidence: float = 0.95
) -> pd.DataFrame:
    """Per (task, shots, method): mean of ``method - reference`` in test ``metric`` over the runs both did, with a
    t interval at level ``confidence``.

    Pairing by seed (and MedFMC split) removes what they do to both (the split, the head's initialisation);
    ``resolved`` says whether the interval excludes zero. One pair gives no interval (NaN).
    """
    df = runs_table(runs)
    df["exp"] = df["exp"].fillna(0)  # no split: pair by seed alone
    col = f"test_{metric}"
    rows = []
    for (task, shots), group in df.groupby(["task", "shots"], sort=False):
        ref = group[group["method"] == reference].set_index(["seed", "exp"])[col]
        for method, g in group.groupby("method", sort=False):
            if method == reference:
                continue
            d = (g.set_index(["seed", "exp"])[col] - ref).dropna()
            n = len(d)
            half = stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
            low, high = d.mean() - half, d.mean() + half
            rows.append({"task": task, "shots": shots, "method": method, "runs": n, "mean diff": d.mean(),
                         "ci low": low, "ci high": high,
                         "resolved": bool(n > 1 and (low > 0 or high < 0))})  # fmt: skip
    return pd.DataFrame(rows).set_index(["task", "shots", "method"])


def describe_differences(diffs: pd.DataFrame, metric: str = "accuracy", reference: str = "lora") -> str:
    """Plain words on ``diffs`` (from :func:`paired_differences` of test ``metric``): which differences to
    ``reference`` the seeds resolve, and which they cannot."""
    lines = []
    for (task, shots, method), row in diffs.iterrows():
        ci = f"95% CI {row['ci low']:+.1f} to {row['ci high']:+.1f}"
        span = f"{row['mean diff']:+.1f} points ({ci}, {row['runs']} paired runs)"
        if row["resolved"]:
            side = "above" if row["mean diff"] > 0 else "below"
            lines.append(f"{task}, {shots}-shot: {method} is {side} {reference} by {span}: resolved.")
        else:
            lines.append(f"{task}, {shots}-shot: {method} vs {reference}: {span}: these seeds cannot tell them apart.")
    return "\n".join(lines)


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
