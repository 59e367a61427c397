"""Small sweeps (methods x shots x seeds) and their summary tables (mean and std across seeds)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd

from .training import TrainConfig, train


def run_sweep(
    base: TrainConfig,
    methods: Iterable[str],
    seeds: Iterable[int],
    shots: Iterable[int] | None = None,
    records: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train every (shots, method, seed) combination; runs already in ``records`` are read back, not redone."""
    out = []
    for k in shots if shots is not None else [base.shots]:
        for method in methods:
            for seed in seeds:
                cfg = dataclasses.replace(base, method=method, seed=seed, shots=k)
                out.append(train(cfg, records=records, progress=progress))
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
