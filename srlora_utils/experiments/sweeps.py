"""Small sweeps (methods x shots x seeds) and their summary tables (mean and std across seeds)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

import pandas as pd
from tqdm.auto import tqdm

from ..data.outputs import check_records
from ..data.shipped import display_path, writable_records
from ..errors import SrLoraError
from ..training.config import TrainConfig, config_key
from ..training.records import read_records
from ..training.run import check_config, train


def sweep_configs(
    base: TrainConfig,
    methods: Iterable[str],
    seeds: Iterable[int],
    shots: Iterable[int] | None = None,
    exps: Iterable[int] | None = None,
) -> list[TrainConfig]:
    """Every (shots, exp, method, seed) combination of ``base``, in that nesting order: ``methods`` and ``seeds``
    to run, ``shots`` (None: ``base.shots``) and MedFMC splits ``exps`` (None: no split)."""
    splits: list[int | None] = [None] if exps is None else list(exps)
    return [
        dataclasses.replace(base, method=m, seed=s, shots=k, exp=e)
        for k in (shots if shots is not None else [base.shots])
        for e in splits
        for m in methods
        for s in seeds
    ]


def shard(configs: list[TrainConfig], spec: str | None) -> list[TrainConfig]:
    """The runs of shard ``i/n`` (``i`` from 0): every n-th run from the i-th, so shards get similar mixes; None:
    all runs. Workers of one grid append to one records file safely (see :mod:`srlora_utils.training.records`)."""
    if spec is None:
        return configs
    i, sep, n = spec.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)):
        raise SrLoraError(f"shard {spec!r} is not i/n with 0 <= i < n (e.g. 0/4)")
    return configs[int(i) :: int(n)]


def run_configs(
    configs: list[TrainConfig],
    records: str | None = None,
    progress: bool = True,
    stop_at_perfect_val: bool = False,
    shipped: str | os.PathLike | None = None,
) -> list[dict]:
    """Train every config of ``configs`` in order; runs already in ``records`` are read back, not redone, so an
    interrupted grid resumes where it stopped. ``shipped``: records read first and never written (a lesson's shipped
    runs, :mod:`~srlora_utils.experiments.lesson_runs`). With ``progress``, one bar names the run in progress; a
    summary line ends it and says where each run came from. ``stop_at_perfect_val``: as
    :func:`~srlora_utils.training.run.train` (same test numbers, less time)."""
    sources: list[tuple[str, dict[str, dict]]] = []
    installed = None
    if records:  # the installed package's shipped copy is read, never written: new runs go under this folder
        installed, written = writable_records(records)
        records = str(written) if installed is not None else records
        check_records(records)  # before the first run: a sweep never trains for nothing
    for cfg in configs:  # every run's names and combinations, before the first one trains
        check_config(cfg)
    for where in (shipped, installed, records):  # read once, not once per run
        if where:
            sources.append((str(where), {r["key"]: r for r in read_records(where) if isinstance(r.get("key"), str)}))
    out, counts = [], {where: 0 for where, _ in sources}
    trained = 0
    bar = tqdm(configs, desc="sweep", disable=not progress)
    for cfg in bar:
        key = config_key(cfg)
        where, found = next(((w, known[key]) for w, known in sources if key in known), (None, None))
        if found is not None and where is not None:
            check_run(found, where)
            counts[where] += 1
        else:  # name the run being trained (runs read back pass without a redraw)
            split = f"exp{cfg.exp}" if cfg.exp is not None else f"seed {cfg.seed}"
            bar.set_postfix_str(f"{cfg.task} {cfg.method} {cfg.shots}-shot {split}")
            found = train(cfg, records=records, progress=False, stop_at_perfect_val=stop_at_perfect_val)
            trained += 1
        out.append(found)
    if progress:
        read = "".join(f", {n} read from {display_path(w)}" for w, n in counts.items() if n)
        total = sum(r["total_s"] for r in out)
        print(f"sweep: {len(out)} runs ({trained} trained now{read}), {total:.0f} s of training in all")
    return out


#: What :func:`runs_table` and :func:`run_configs` read of a run's record: field -> the JSON types it may have.
RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "task": (str,), "config": (dict,), "test": (dict,), "trainable_params": (int,), "step_s_median": (int, float),
    "total_s": (int, float),
}  # fmt: skip


def check_run(run: object, where: str) -> None:
    """One-line error unless ``run`` (a record found in ``where``) has the fields a summary reads (:data:`RECORD_FIELDS`
    and the config's method, shots and seed), with JSON types that fit."""
    key = run.get("key") if isinstance(run, dict) else None
    what = f"{where}: the record of run {key!r}" if key is not None else f"{where}: a record"
    fix = "delete it from the records and rerun (its run is trained again)"
    if not isinstance(run, dict):
        raise SrLoraError(f"{where}: a record is a {type(run).__name__}, not a JSON object; {fix}")
    fields = {**RECORD_FIELDS, "config.method": (str,), "config.shots": (int,), "config.seed": (int,)}
    for name, types in fields.items():
        parent, _, field = name.rpartition(".")
        holder = run.get(parent) if parent else run
        value = holder.get(field) if isinstance(holder, dict) else None
        if not isinstance(value, types) or isinstance(value, bool):
            got = "none" if value is None else f"{type(value).__name__} {value!r}"[:60]
            raise SrLoraError(f"{what} has no valid {name!r} (got {got}): not a record of this kit; {fix}")
    bad = [k for k, v in run["test"].items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
    if bad:
        raise SrLoraError(f"{what} has a test metric {bad[0]!r} that is not a number: not a record of this kit; {fix}")


def run_sweep(
    base: TrainConfig,
    methods: Iterable[str],
    seeds: Iterable[int],
    shots: Iterable[int] | None = None,
    records: str | None = None,
    progress: bool = True,
    exps: Iterable[int] | None = None,
    shipped: str | os.PathLike | None = None,
) -> list[dict]:
    """Train every (shots, exp, method, seed) combination of ``base`` (``methods``, ``seeds``, ``shots`` and
    ``exps`` as :func:`sweep_configs`; ``exps``: MedFMC's official splits, None for other tasks). ``records``: a
    ``.jsonl`` file or a directory that keeps each run and lets the sweep resume; ``shipped``: records read first,
    never written (:func:`run_configs`); ``progress``: a bar over runs."""
    return run_configs(sweep_configs(base, methods, seeds, shots, exps), records, progress, shipped=shipped)


def first_repeat(runs: list[dict]) -> list[dict]:
    """The runs that share the first run's task, shots, seed and MedFMC split: one of each method, for curves."""
    keys = ("task", "shots", "seed", "exp")
    first = {k: runs[0]["config"].get(k) for k in keys}
    return [r for r in runs if all(r["config"].get(k) == v for k, v in first.items())]


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: task, method, shots, seed, MedFMC split (exp), test metrics, trainable parameters, times."""
    rows = []
    for r in runs:
        check_run(r, "runs")
        c = r["config"]
        rows.append(
            {
                "task": r["task"], "method": c["method"], "shots": c["shots"], "seed": c["seed"],
                "exp": c.get("exp"), **{f"test_{k}": v for k, v in r["test"].items()},
                "trainable_params": r["trainable_params"], "step_ms": 1000 * r["step_s_median"],
                "total_s": r["total_s"],
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def summary_table(runs: list[dict]) -> pd.DataFrame:
    """Mean and standard deviation across runs (seeds, and MedFMC splits) of every test metric, per
    (task, shots, method); ``runs`` counts them."""
    df = runs_table(runs)
    metrics = [c for c in df.columns if c.startswith("test_")]
    grouped = df.groupby(["task", "shots", "method"], sort=False)
    table = grouped[metrics].agg(["mean", "std"])
    table.columns = [f"{m.removeprefix('test_')} {s}" for m, s in table.columns]
    table["runs"] = grouped.size()
    table["trainable_params"] = grouped["trainable_params"].first()
    table["step_ms"] = grouped["step_ms"].median()
    return table
