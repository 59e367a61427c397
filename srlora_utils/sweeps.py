"""Small sweeps (methods x shots x seeds) and their summary tables (mean and std across seeds)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd
from tqdm.auto import tqdm

from .training import TrainConfig, train


def run_sweep(
    base: TrainConfig,
    methods: Iterable[str],
    seeds: Iterable[int],
    shots: Iterable[int] | None = None,
    records: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train every (shots, method, seed) combination; runs already in ``records`` are read back, not redone.

    One progress bar over the runs shows the last run's test metric; a summary line ends the sweep.
    """
    combos = [(k, m, s) for k in (shots if shots is not None else [base.shots]) for m in methods for s in seeds]
    out = []
    bar = tqdm(combos, desc="sweep", disable=not progress)
    for k, method, seed in bar:
        bar.set_postfix_str(f"{method} {k}-shot seed {seed}")
        rec = train(dataclasses.replace(base, method=method, seed=seed, shots=k), records=records, progress=False)
        out.append(rec)
    if progress:
        total = sum(r["total_s"] for r in out)
        print(f"sweep: {len(out)} runs, {total:.0f} s of training in all")
    return out


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: task, method, shots, seed, test metrics, trainable parameters and times."""
    rows = []
    for r in runs:
        c = r["config"]
        rows.append(
            {
                "task": r["task"], "method": c["method"], "shots": c["shots"], "seed": c["seed"],
                **{f"test_{k}": v for k, v in r["test"].items()},
                "trainable_params": r["trainable_params"], "step_ms": 1000 * r["step_s_median"],
                "total_s": r["total_s"],
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def summary_table(runs: list[dict]) -> pd.DataFrame:
    """Mean and standard deviation across seeds of every test metric, per (task, shots, method)."""
    df = runs_table(runs)
    metrics = [c for c in df.columns if c.startswith("test_")]
    grouped = df.groupby(["task", "shots", "method"], sort=False)
    table = grouped[metrics].agg(["mean", "std"])
    table.columns = [f"{m.removeprefix('test_')} {s}" for m, s in table.columns]
    table["seeds"] = grouped.size()
    table["trainable_params"] = grouped["trainable_params"].first()
    table["step_ms"] = grouped["step_ms"].median()
    return table


def describe_comparison(summary: pd.DataFrame, metric: str) -> str:
    """A plain-words reading of a summary table: which method leads and whether seeds can tell them apart."""
    means, stds = summary[f"{metric} mean"], summary[f"{metric} std"].fillna(0.0)
    order = means.sort_values(ascending=False).index
    best, second = order[0], order[1]
    gap = means[best] - means[second]
    noise = stds[best] + stds[second]
    seeds = int(summary["seeds"].min())
    verdict = (
        "larger than the two standard deviations together, so this set of seeds separates them"
        if gap > noise
        else "within the spread across seeds, so these runs cannot tell them apart"
    )
    lines = [
        f"Best mean test {metric}: {best[2]} ({means[best]:.1f}%), ahead of {second[2]} ({means[second]:.1f}%) by "
        f"{gap:.1f} points; that gap is {verdict} ({seeds} seeds).",
    ]
    for key in ("srlora", "srlora_budget", "lora"):
        rows = [i for i in summary.index if i[2] == key]
        if rows:
            r = rows[0]
            lines.append(f"{key}: {means[r]:.1f} ± {stds[r]:.1f}% with {int(summary.loc[r, 'trainable_params']):,} "
                         "trainable parameters.")  # fmt: skip
    return "\n".join(lines)
