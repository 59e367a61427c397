"""The paper's result tables from this kit's records, next to the numbers the official authors committed.

MedFMC: per task (chest and endo: mAP and AUC; colon: accuracy and AUC) and the mean AUC over the three tasks,
per shot count, mean ± std over the official splits and seeds that ran (the header names them). VTAB-1k: test
accuracy per task, mean ± std over seeds. Any other task (MedMNIST, EuroSAT, the stand-ins): every test metric.
The authors' rows are labelled as theirs, with how they were selected;
beside synthetic fixture records they go in tables of their own, never in the same rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..data.fewshot import FIXTURE_LABEL
from ..errors import SrLoraError
from ..training.records import read_records
from .reference import AUTHORS_MEDFMC, AUTHORS_VTAB_1SHOT, VTAB_ALIASES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MEDFMC_COLUMNS = {"chest": ("mAP", "AUC"), "colon": ("accuracy", "AUC"), "endo": ("mAP", "AUC")}
AUTHORS_MEDFMC_LABEL = "SR-LoRA, authors (exp1 only, val-selected)"
AUTHORS_VTAB_LABEL = "SR-LoRA, authors (mean of 5, test-selected)"
#: Config fields that may differ between the runs of one report (what a grid varies, or what follows from it).
_VARIED = {"task", "method", "shots", "seed", "exp", "root", "device", "lr", "weight_decay", "extra"}


def _parse_where(where: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in where:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SrLoraError(f"--where {item!r} is not key=value (e.g. epochs=20)")
        out[key] = value
    return out


def select_records(records: list[dict], where: Iterable[str] = ()) -> list[dict]:
    """The records whose config matches every ``key=value`` of ``where`` (values compared as text); refuses a
    mix of settings (e.g. two image sizes), which would average unlike runs, and names what differs."""
    conditions = _parse_where(where)
    chosen = [r for r in records if all(str(r["config"].get(k)) == v for k, v in conditions.items())]
    if not chosen:
        raise SrLoraError(f"no records match {' '.join(where) or 'anything'}: check the file and --where")
    settings: dict[str, dict] = {}
    for r in chosen:
        fixed = {k: v for k, v in r["config"].items() if k not in _VARIED}
        settings.setdefault(repr(sorted(fixed.items())), fixed)
    if len(settings) > 1:
        first, *others = settings.values()
        differ = sorted({k for o in others for k in first if o.get(k) != first.get(k)})
        hints = ", ".join(f"{k} in {sorted({str(s.get(k)) for s in settings.values()})}" for k in differ[:3])
        raise SrLoraError(f"the records mix {len(settings)} settings ({hints}): pick one with --where {differ[0]}=...")
    return chosen


def _cell(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "n/a"
    std = f" ± {v.std():.2f}" if len(v) > 1 else ""
    return f"{v.mean():.2f}{std} ({len(v)})"


def _label(method: str, fixture: bool) -> str:
    return f"{method} ({FIXTURE_LABEL})" if fixture else f"{method} (this kit)"


def _frame(records: list[dict]) -> pd.DataFrame:
    rows = []
    for r in records:
        c = r["config"]
        kind, _, sub = c["task"].partition(":")
        rows.append({"kind": kind, "task": VTAB_ALIASES.get(sub, sub) if kind == "vtab" else sub,
                     "method": _label(c["method"], bool(r.get("fixture"))), "shots": c["shots"],
                     **{f"test {k}": v for k, v in r["test"].items()}})  # fmt: skip
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["kind", "task", "method", "shots"])


def medfmc_table(records: list[dict], authors: bool = True) -> pd.DataFrame:
    """Rows (shots, method), columns ``<task> <metric>``: mean ± std (runs) over splits and seeds; with ``authors``,
    the authors' SR-LoRA rows (exp1 only) beside ours."""
    df = _frame(records)
    df = df[df["kind"] == "medfmc"]
    rows: dict[tuple[int, str], dict[str, str]] = {}
    for (shots, method), g in df.groupby(["shots", "method"], sort=True):
        row = {}
        for task, metrics in MEDFMC_COLUMNS.items():
            t = g[g["task"] == task]
            for m in metrics:
                row[f"{task} {m}"] = _cell(t[f"test {m}"]) if f"test {m}" in t and not t.empty else "—"
        rows[(shots, method)] = row
    for shots in sorted({k for k, _ in rows} or AUTHORS_MEDFMC):
        if authors and shots in AUTHORS_MEDFMC:
            theirs = AUTHORS_MEDFMC[shots]
            rows[(shots, AUTHORS_MEDFMC_LABEL)] = {f"{t} {m}": f"{theirs[t][m]:.2f}" for t, ms in MEDFMC_COLUMNS.items()
                                                   for m in ms}  # fmt: skip
    table = pd.DataFrame.from_dict(rows, orient="index").sort_index(level=0, sort_remaining=False)
    table.index.names = ["shots", "method"]
    return table


def medfmc_mean_auc(records: list[dict], authors: bool = True) -> pd.DataFrame:
    """Mean AUC over chest, colon and endo per shot count (columns) and method (rows): the mean over tasks of
    each task's mean over runs (n/a until all three tasks ran); with ``authors``, their row from their exp1 numbers."""
    df = _frame(records)
    df = df[df["kind"] == "medfmc"]
    out: dict[str, dict[str, str]] = {}
    for (method, shots), g in df.groupby(["method", "shots"], sort=False):
        per_task = g.groupby("task")["test AUC"].mean() if "test AUC" in g else pd.Series(dtype=float)
        complete = set(per_task.dropna().index) >= set(MEDFMC_COLUMNS)
        out.setdefault(method, {})[f"{shots}-shot"] = f"{per_task.mean():.2f}" if complete else "n/a"
    if authors:
        out[AUTHORS_MEDFMC_LABEL] = {
            f"{k}-shot": f"{np.mean([v[t]['AUC'] for t in MEDFMC_COLUMNS]):.2f}" for k, v in AUTHORS_MEDFMC.items()
        }
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("mean AUC over chest, colon, endo")


def vtab_table(records: list[dict], authors: bool = True, tasks: Iterable[str] | None = None) -> pd.DataFrame:
    """Rows method, columns VTAB-1k task (``tasks``, default: those in the records, or all the authors report):
    test accuracy mean ± std (runs), per shot count; with ``authors``, their 1-shot SR-LoRA row (test-selected)."""
    df = _frame(records)
    df = df[df["kind"] == "vtab"]
    out: dict[str, dict[str, str]] = {}
    for (method, shots, task), g in df.groupby(["method", "shots", "task"], sort=False):
        out.setdefault(f"{method}, {shots}-shot", {})[task] = _cell(g["test accuracy"])
    tasks = (
        list(tasks) if tasks is not None else sorted(set(df["task"])) if not df.empty else sorted(AUTHORS_VTAB_1SHOT)
    )
    if authors:
        theirs = {t: f"{AUTHORS_VTAB_1SHOT[t]:.2f}" for t in tasks if t in AUTHORS_VTAB_1SHOT}
        out[AUTHORS_VTAB_LABEL + ", 1-shot"] = theirs
    return pd.DataFrame.from_dict(out, orient="index").reindex(columns=tasks).fillna("—")


#: Task kinds with a table of the paper's; every other kind goes to :func:`task_table`.
PAPER_KINDS = ("medfmc", "vtab")


def task_table(records: list[dict]) -> pd.DataFrame:
    """Rows (task, shots, method) of every task outside the paper's tables (MedMNIST, EuroSAT, stand-ins...), columns
    every test metric the records carry (accuracy, macro-F1, AUC; MedMNIST's own ACC and AUC): mean ± std (runs)."""
    df = _frame(records)
    df = df[~df["kind"].isin(PAPER_KINDS)].copy()
    df["task"] = [f"{k}:{t}" if t else k for k, t in zip(df["kind"], df["task"])]
    metrics = [c for c in df.columns if c.startswith("test ")]
    rows = {key: {m.removeprefix("test "): _cell(g[m]) for m in metrics}
            for key, g in df.groupby(["task", "shots", "method"], sort=True)}  # fmt: skip
    table = pd.DataFrame.from_dict(rows, orient="index")
    if not table.empty:
        table.index.names = ["task", "shots", "method"]
    return table.fillna("—")


def report_tables(records: list[dict]) -> dict[str, pd.DataFrame]:
    """The tables of :func:`format_report` as data frames (keys ``medfmc``, ``medfmc_mean_auc``, ``vtab`` and
    ``other``: :func:`task_table`)."""
    return {"medfmc": medfmc_table(records), "medfmc_mean_auc": medfmc_mean_auc(records), "vtab": vtab_table(records),
            "other": task_table(records)}  # fmt: skip


def _over(records: list[dict], kind: str) -> str:
    """The splits and seeds that ``records`` of ``kind`` ran, in words (e.g. ``splits exp1-2, seed 0``)."""
    cfgs = [r["config"] for r in records if r["config"]["task"].startswith(kind + ":")]
    exps = sorted({c["exp"] for c in cfgs if c.get("exp") is not None})
    seeds = sorted({c["seed"] for c in cfgs})

    def span(xs: list[int], prefix: str = "") -> str:
        contiguous = len(xs) > 2 and xs == list(range(xs[0], xs[-1] + 1))
        return f"{prefix}{xs[0]}-{xs[-1]}" if contiguous else ", ".join(f"{prefix}{x}" for x in xs)

    splits = f"splits {span(exps, 'exp')}, " if exps else ""
    return f"{splits}seed{'s' if len(seeds) > 1 else ''} {span(seeds)}"


def format_report(records: list[dict]) -> str:
    """The paper's tables as text: cells are mean ± std (runs) in %; authors' cells are single numbers, in the same
    rows as real results, and in tables of their own beside synthetic fixture records."""
    kinds = {r["config"]["task"].partition(":")[0] for r in records}
    fixture = any(r.get("fixture") for r in records)
    head = [f"{len(records)} runs" + (f"; {FIXTURE_LABEL.upper()}: synthetic fixture data" if fixture else "")]
    parts, theirs = [], []
    wide = dict(display_width=200, display_max_columns=None)
    with pd.option_context(*[x for k, v in wide.items() for x in (k.replace("_", "."), v)]):
        if "medfmc" in kinds:
            parts += [f"MedFMC (test %, mean ± std over {_over(records, 'medfmc')}; runs in brackets)",
                      medfmc_table(records, not fixture).to_string(), "",
                      medfmc_mean_auc(records, not fixture).to_string()]  # fmt: skip
            theirs += ["MedFMC", medfmc_table([]).to_string(), "", medfmc_mean_auc([]).to_string()]
        if "vtab" in kinds:
            parts += ["", f"VTAB-1k (test accuracy %, mean ± std over {_over(records, 'vtab')}; runs in brackets)",
                      vtab_table(records, not fixture).to_string()]  # fmt: skip
            tasks = sorted(set(_frame(records).query("kind == 'vtab'")["task"]))
            theirs += ["", "VTAB-1k", vtab_table([], tasks=tasks).to_string()]
    if kinds - set(PAPER_KINDS):
        parts += ["", "Other tasks (test %, mean ± std over seeds; runs in brackets; MedMNIST tasks add the MedMNIST "
                  "evaluator's ACC and AUC)", task_table(records).to_string()]  # fmt: skip
    if not parts:
        parts = ["no runs in these records"]
    if fixture and theirs:  # the authors' numbers, apart: a fixture number beside them would read as a reproduction
        parts += ["", "=" * 40, "The authors' numbers, for reference only: the rows above are synthetic fixtures, "
                  "not results, and are not comparable with these.", *theirs]  # fmt: skip
    notes = ["", "Authors' numbers: SR-LoRA ViT-B/16 from the official repository's history; MedFMC on split exp1 "
             "only, selected on validation; VTAB-1k the best test-set epoch (selection on the test set). This kit "
             "selects on validation only and evaluates at full rank."]  # fmt: skip
    return "\n".join(head + parts + notes)


def report_file(paths: Iterable[str | os.PathLike], where: Iterable[str] = ()) -> str:
    """:func:`format_report` of the records in ``paths`` that match ``where``."""
    from ..experiments.sweeps import check_run

    records = []
    for path in paths:
        for r in read_records(path):
            check_run(r, str(path))  # a record of another tool, or edited by hand: one line, not a KeyError
            records.append(r)
    if not records:
        raise SrLoraError(f"no records in {', '.join(map(str, paths))}: run a grid first (srlora sweep)")
    return format_report(select_records(records, where))


def plot_medfmc_auc(records: list[dict], ax: Axes | None = None) -> Axes:
    """Mean MedFMC AUC over chest, colon and endo against shots, one line per method, with the authors' SR-LoRA
    (exp1) as a dashed reference; records from synthetic fixtures are drawn without the authors' line (their
    numbers would read as a reproduction) and the title says so."""
    import matplotlib.pyplot as plt  # only for the figure: `srlora report` prints tables without it

    fixture = any(r.get("fixture") for r in records)
    table = medfmc_mean_auc(records, authors=not fixture).apply(pd.to_numeric, errors="coerce")
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3.5))[1]
    shots = [int(c.split("-")[0]) for c in table.columns]
    for method, row in table.iterrows():
        style: dict[str, Any] = (
            dict(marker="o") if fixture or "authors" not in str(method) else dict(ls="--", color="black")
        )
        ax.plot(shots, row.values, label=method, **style)
    ax.set_xticks(shots)
    ax.set_xlabel("shots per class")
    ax.set_ylabel("mean test AUC over chest, colon, endo (%)")
    title = (f"MedFMC ({FIXTURE_LABEL}; the authors' numbers are not drawn here)" if fixture
             else "MedFMC: this kit vs the authors' SR-LoRA")  # fmt: skip
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax
