"""The pre-registered baseline study of notebook 05 (``grids/baseline-study.toml``): which comparisons each of its
questions reads, one verdict per comparison, Holm's correction over all of them, the power of the primary
comparison, and the readings in words.

A *cell* is a method under one LoRA scaling (``lora``, ``lora (rsLoRA)``) at one task and shot count. A
*comparison* pairs two cells of the same task and shot count by seed (and MedFMC split): the same training images and
head initialisation. Its verdict follows the grid's reading rules
(:attr:`~srlora_utils.analysis.comparison.Interval.verdict`):
"ahead"/"behind" when the 95% interval excludes zero, "equivalent within ±margin" when the 90% interval lies inside
±margin (two one-sided tests at 5%), otherwise "not resolved". For each task, the largest shot count is the main
setting (questions 1-4) and smaller ones are the fewer-shots setting (question 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.shipped import output_path, restore_how, shipped_path
from ..errors import SrLoraError
from .comparison import Interval, holm, paired_interval, runs_for_half_width
from .readings import ADAPTIVE_PEERS, INIT_PEERS, Reading, _limits, schedule_steps

#: How a cell trained with rsLoRA's 1/sqrt(r) scaling is named.
RSLORA = " (rsLoRA)"
#: The SR-LoRA rules question 3 sets against the peers: budget-matched, and the paper's rule.
Q3_VARIANTS = ("srlora_budget", "srlora")


def cell_name(run: dict, design: StudyDesign | None = None) -> str:
    """The run's cell: its method, marked when it trained with rsLoRA scaling; under a tuned ``design`` the method
    alone (there the scaling is chosen on validation with the learning rate, not a factor of the study)."""
    c = run["config"]
    if design is not None and design.tuned:
        return c["method"]
    return c["method"] + (RSLORA if c.get("scaling") == "rslora" else "")


@dataclass(frozen=True)
class StudyDesign:
    """What a study registered before it ran: its questions and its primary comparison (``method`` against
    ``reference``), the interval half-width it must reach (points), the equivalence margin, the confidence, the
    standard deviation of paired differences the run counts were planned for (``planning_sd``, points), and whether
    each method ran at its own validated setting (``tuned``: a grid with a ``[tuning]`` table)."""

    questions: dict[str, str] = field(default_factory=dict)
    method: str = "srlora_budget"
    reference: str = "lora"
    half_width: float = 2.5
    margin: float = 2.0
    confidence: float = 0.95
    planning_sd: float | None = None
    tuned: bool = False

    @classmethod
    def from_settings(cls, settings: dict) -> StudyDesign:
        """The design a grid's settings state (``questions`` and ``primary``), defaults where they say nothing."""
        return cls(questions=dict(settings.get("questions", {})), tuned="tuning" in settings,
                   **settings.get("primary", {}))  # fmt: skip


def _groups(runs: list[dict]) -> dict[tuple[str, int], list[dict]]:
    out: dict[tuple[str, int], list[dict]] = {}
    for r in runs:
        out.setdefault((r["config"]["task"], r["config"]["shots"]), []).append(r)
    return out


def _planned(cells: set[str], main: bool, design: StudyDesign) -> list[tuple[str, str, str]]:
    """(question, method cell, reference cell) for one task and shot count, where both cells ran."""
    primary = (design.method, design.reference)
    if main:
        pairs = [("Q1", *primary), ("Q2", "srlora", "lora"), ("Q2", "srlora_nested", "lora")]
        pairs += [("Q3", v, p) for v in Q3_VARIANTS for p in ADAPTIVE_PEERS + INIT_PEERS]
        pairs += [("Q4", m + RSLORA, m) for m in ("lora", "srlora_budget", "srlora")]
        pairs += [("Q4", m + RSLORA, "lora" + RSLORA) for m in ("srlora_budget", "srlora")]
    else:
        pairs = [("Q5", *primary), ("Q5", "srlora", "lora"), ("Q5", "srlora_nested", "lora")]
    return [p for p in pairs if p[1] in cells and p[2] in cells]


def _paired(part: list[dict], metric: str, method: str, reference: str, design: StudyDesign) -> list[float]:
    by_cell: dict[str, dict[tuple, float]] = {}
    for r in part:
        by_cell.setdefault(cell_name(r, design), {})[(r["config"]["seed"], r["config"].get("exp"))] = r["test"][metric]
    a, b = by_cell[method], by_cell[reference]
    return [a[k] - b[k] for k in sorted(set(a) & set(b), key=str)]


def study_intervals(runs: list[dict], design: StudyDesign, metric: str = "accuracy") -> list[tuple[dict, Interval]]:
    """Every comparison ``design`` reads in ``runs`` (test ``metric``), in question order: (what is compared, its
    interval)."""
    groups = _groups(runs)
    largest = {task: max(k for t, k in groups if t == task) for task, _ in groups}
    out = []
    for (task, shots), part in groups.items():
        cells = {cell_name(r, design) for r in part}
        for question, method, reference in _planned(cells, shots == largest[task], design):
            iv = paired_interval(_paired(part, metric, method, reference, design), design.confidence, design.margin)
            where = {"question": question, "task": part[0]["task"], "shots": shots, "method": method,
                     "reference": reference}  # fmt: skip
            out.append((where, iv))
    return sorted(out, key=lambda x: x[0]["question"])


def _read_all(runs: list[dict], design: StudyDesign, metric: str) -> list[tuple[dict, Interval, bool]]:
    """Every comparison with its interval and whether it survives Holm's correction over all of them (family-wise
    at 1 - confidence; only "ahead"/"behind" can survive)."""
    found = study_intervals(runs, design, metric)
    survive = holm([iv.p if not np.isnan(iv.p) else 1.0 for _, iv in found], 1 - design.confidence)
    return [(w, iv, bool(s and iv.verdict in ("ahead", "behind"))) for (w, iv), s in zip(found, survive, strict=True)]


def comparison_table(runs: list[dict], design: StudyDesign, metric: str = "accuracy") -> pd.DataFrame:
    """One row per comparison ``design`` reads in ``runs``: the paired difference in test ``metric`` points, its 95%
    interval, the 90% equivalence interval, the paired t test's p-value, the verdict, and whether it survives Holm's
    correction over every comparison of the table (family-wise 5%; only "ahead"/"behind" can survive)."""
    rows = [
        {**where, "pairs": iv.n, "difference": iv.mean, "ci low": iv.low, "ci high": iv.high,
         "eq low (90%)": iv.eq_low, "eq high (90%)": iv.eq_high, "p": iv.p, "verdict": iv.verdict, "holm": kept}
        for where, iv, kept in _read_all(runs, design, metric)
    ]  # fmt: skip
    return pd.DataFrame(rows).set_index(["question", "task", "shots", "method", "reference"])


def power_table(runs: list[dict], design: StudyDesign, metric: str = "accuracy") -> pd.DataFrame:
    """The primary comparison of ``design`` per task and shot count of ``runs`` (test ``metric``): pairs run, the
    spread of the paired differences, the half-width its interval reached, and the pairs that spread needs for the
    registered half-width."""
    rows = []
    for (_, shots), part in _groups(runs).items():
        cells = {cell_name(r, design) for r in part}
        if design.method not in cells or design.reference not in cells:
            continue
        iv = paired_interval(_paired(part, metric, design.method, design.reference, design), design.confidence)
        need = runs_for_half_width(iv.sd, design.half_width, design.confidence) if iv.n > 1 else None
        rows.append({"task": part[0]["task"], "shots": shots, "pairs": iv.n, "sd of differences": iv.sd,
                     "half-width reached": (iv.high - iv.low) / 2, "pairs needed": need,
                     "target met": bool(iv.n > 1 and (iv.high - iv.low) / 2 <= design.half_width)})  # fmt: skip
    return pd.DataFrame(rows).set_index(["task", "shots"])


def seconds_per_run(runs: list[dict]) -> pd.DataFrame:
    """Median seconds of training per run (as run: with early stopping where the grid asks for it), by cell (rows)
    and setting (columns: task and shot count)."""
    df = pd.DataFrame(
        {"cell": cell_name(r), "setting": f"{r['task']}, {r['config']['shots']}-shot", "s": r["total_s"]} for r in runs
    )  # fmt: skip
    table = df.pivot_table(index="cell", columns="setting", values="s", aggfunc="median", sort=False)
    return table.round(1)


def steps_table(runs: list[dict]) -> pd.DataFrame:
    """Per setting: epochs and optimiser steps of the schedule, the median steps actually taken, and how many runs
    stopped once validation was perfect (their test numbers are the whole schedule's: see ``stop_at_perfect_val``)."""
    df = pd.DataFrame(
        {"setting": f"{r['task']}, {r['config']['shots']}-shot", "epochs": r["config"]["epochs"],
         "optimiser steps": schedule_steps(r), "steps taken (median)": r.get("steps", schedule_steps(r)),
         "runs stopped early": r.get("stopped_at_epoch") is not None, "runs": 1} for r in runs
    )  # fmt: skip
    grouped = df.groupby("setting", sort=False)
    table = grouped[["epochs", "optimiser steps", "steps taken (median)"]].median().astype(int)
    return table.join(grouped[["runs stopped early", "runs"]].sum())


def _fmt(where: dict, iv: Interval, holm_ok: bool) -> str:
    eq = f"; 90% interval {iv.eq_low:+.1f} to {iv.eq_high:+.1f}" if iv.n > 1 else ""
    verdict = iv.verdict + (", survives Holm" if holm_ok else "")
    return (f"`{where['method']}` − `{where['reference']}` on {where['task']}, {where['shots']}-shot: "
            f"{iv.words()}{eq}: **{verdict}**")  # fmt: skip


def _parameter_cost(runs: list[dict], method: str, reference: str, design: StudyDesign) -> str:
    cost: dict[tuple[str, str], list[int]] = {}
    for r in runs:
        if design.tuned or r["config"].get("scaling", "paper") == "paper":
            cost.setdefault((r["task"], cell_name(r, design)), []).append(r["lora_params"])
    ratios = [f"{np.median(cost[(t, method)]) / np.median(cost[(t, reference)]):.1f}x on {t}"
              for t, m in cost if m == method and (t, reference) in cost]  # fmt: skip
    return ", ".join(dict.fromkeys(ratios))


def _stance(adaptive: list[tuple[Interval, bool]]) -> str:
    """What comparisons with the adaptive peers (interval, survives Holm) say of the paper's claim."""
    if not adaptive:
        return "these runs hold no comparison with an adaptive peer"
    count = {v: sum(iv.verdict.startswith(v) for iv, _ in adaptive) for v in ("ahead", "behind", "equivalent")}
    kept = {v: sum(h and iv.verdict == v for iv, h in adaptive) for v in ("ahead", "behind")}
    n = len(adaptive)
    if count["ahead"] == n:
        return f"consistent with it: all {n} comparisons with an adaptive peer are ahead ({kept['ahead']} survive Holm)"
    if kept["behind"]:
        verb = "is" if count["behind"] == 1 else "are"
        return (f"contradicted: {count['behind']} of the {n} comparisons with an adaptive peer {verb} behind, "
                f"{kept['behind']} of them surviving Holm's correction")  # fmt: skip
    return (f"not supported: of the {n} comparisons with an adaptive peer, {count['ahead']} are ahead, "
            f"{count['behind']} behind and {count['equivalent']} equivalent within the margin; "
            f"{kept['ahead'] + kept['behind']} of them survive Holm's correction")  # fmt: skip


def read_design(design: StudyDesign) -> Reading:
    """The study's reading rules and its planned precision, in words, from what the grid registered."""
    level, eq_level = 100 * design.confidence, 100 * (2 * design.confidence - 1)
    alpha = 100 * (1 - design.confidence)
    lines = [
        "Each comparison is a difference in test accuracy points, paired by seed. Its verdict is",
        "",
        f"* **ahead** or **behind** when the {level:.0f}% t interval excludes zero;",
        f"* **equivalent within ±{design.margin:g} points** when the {eq_level:.0f}% interval lies inside "
        f"±{design.margin:g} (two one-sided tests at {alpha:.0f}% each: the runs rule out a difference of "
        f"{design.margin:g} points or more in either direction);",
        "* **not resolved** otherwise: the runs cannot tell, which is not evidence of equality.",
        "",
        f"The primary comparison is `{design.method}` − `{design.reference}`; its {level:.0f}% interval must be no "
        f"wider than ±{design.half_width:g} points on each task.",
    ]
    if design.planning_sd:
        need = runs_for_half_width(design.planning_sd, design.half_width, design.confidence)
        lines[-1] += (f" The plan assumed paired differences with a standard deviation of {design.planning_sd:g} "
                      f"points (this lesson's earlier three-seed runs), which needs {need} pairs.")  # fmt: skip
    return Reading(lines)


def read_question(runs: list[dict], design: StudyDesign, question: str, metric: str = "accuracy") -> Reading:
    """The answer in ``runs`` (test ``metric``) to ``question`` of ``design``, comparison by comparison, with a count
    of the verdicts."""
    found = [(w, iv, kept) for w, iv, kept in _read_all(runs, design, metric) if w["question"] == question]
    text = design.questions.get(question, "")
    lines = [f"**{question}.** {text}" if text else f"**{question}.**", ""]
    if not found:
        return Reading(lines + ["These runs hold none of the cells this question compares."])
    verdicts = pd.Series([iv.verdict for _, iv, _ in found]).value_counts()
    count = ", ".join(f"{n} {v}" for v, n in verdicts.items())
    lines += [f"{len(found)} comparison{'s' if len(found) != 1 else ''} ({count}):", ""]
    shown = found if len(found) <= 10 else [f for f in found if f[1].verdict != "not resolved"]
    lines += [f"* {_fmt(w, iv, kept)}." for w, iv, kept in shown]
    if len(found) > 10:
        lines += [f"* The other {len(found) - len(shown)} are not resolved (the table above lists them all)."]
    if question == "Q3":
        adaptive = [(iv, kept) for w, iv, kept in found if w["reference"] in ADAPTIVE_PEERS]
        lines += [f"* On the paper's claim that SR-LoRA \"consistently outperforms recent adaptive LoRA variants\": "
                  f"{_stance(adaptive)}."]  # fmt: skip
    if question in ("Q2", "Q5"):
        settings = {(w["task"], w["shots"]) for w, _, _ in found}
        part = [r for r in runs if (r["task"], r["config"]["shots"]) in settings]
        cost = _parameter_cost(part, "srlora", "lora", design)
        if cost:
            lines += [
                f"* Parameter cost of the paper's rule: `srlora`'s LoRA parameters are {cost}, as a multiple "
                "of LoRA r=8's."
            ]
    return Reading(lines)


def read_multiplicity(runs: list[dict], design: StudyDesign, metric: str = "accuracy") -> Reading:
    """How many comparisons ``design`` reads in ``runs`` (test ``metric``), how many chance alone would resolve, and
    which survive Holm."""
    table = comparison_table(runs, design, metric)
    resolved = table[table["verdict"].isin(["ahead", "behind"])]
    alpha = 1 - design.confidence
    kept = table[table["holm"]]
    names = "; ".join(f"`{m}` {table.loc[(q, t, k, m, ref), 'verdict']} `{ref}` ({t}, {k}-shot)"
                      for q, t, k, m, ref in kept.index)  # fmt: skip
    return Reading([
        f"The study read **{len(table)} comparisons**. With no difference anywhere, about {alpha * len(table):.1f} of "
        f"them would come out ahead or behind at the {100 * design.confidence:.0f}% level by chance; "
        f"{len(resolved)} did. Holm's step-down correction holds the chance of even one false \"ahead\" or "
        f"\"behind\" among all {len(table)} at {100 * alpha:.0f}%: **{len(kept)} survive it**"
        + (f": {names}." if len(kept) else "."),
        "",
        "Equivalence verdicts are not corrected: each says the 90% interval lies inside "
        f"±{design.margin:g} points, a statement about that comparison's precision.",
    ])  # fmt: skip


def read_power(runs: list[dict], design: StudyDesign, metric: str = "accuracy") -> Reading:
    """Did the primary comparison of ``design`` reach the registered precision in ``runs`` (test ``metric``), and how
    many pairs its spread needs."""
    power = power_table(runs, design, metric)
    lines = [f"The registered target: a {100 * design.confidence:.0f}% interval of `{design.method}` − "
             f"`{design.reference}` no wider than ±{design.half_width:g} points on each task.", ""]  # fmt: skip
    for (task, shots), row in power.iterrows():
        met = "met" if row["target met"] else "**not met**"
        lines += [
            f"* {task}, {shots}-shot: {row['pairs']} pairs, standard deviation of the differences "
            f"{row['sd of differences']:.1f} points, so ±{row['half-width reached']:.1f} points reached; "
            f"that spread needs {row['pairs needed']} pairs for ±{design.half_width:g}: target {met}."
        ]
    steps = ", ".join(f"{int(np.median([schedule_steps(r) for r in part]))} on {part[0]['task']} {shots}-shot"
                      for (_, shots), part in _groups(runs).items())  # fmt: skip
    lines += ["", f"Bounds of every reading here: {_limits(runs).split('; optimiser steps')[0]}; optimiser steps per "
              f"run: {steps}."]  # fmt: skip
    return Reading(lines)


#: Each preset's study grid (in the repository's ``grids/``, shipped in the wheel too).
STUDY_GRIDS = {"offline": "baseline-study.toml", "tutorial": "baseline-study-tutorial.toml",
               "paper": "baseline-study-paper.toml"}  # fmt: skip
#: Where the offline study's records are shipped, relative to the repository (and inside the wheel).
SHIPPED_RECORDS = "results/baseline-study/records.jsonl"


def study_files(preset: str = "offline", records: str | None = None, rerun: bool = False) -> tuple[Path, Path]:
    """The study grid of ``preset`` and the records it reads and extends: ``records`` when given; else a fresh file
    under ``build/`` when ``rerun`` (the whole study trains again; any earlier rerun there is removed); else the
    shipped records (offline) or ``results/baseline-study-<preset>.jsonl``. Grids and shipped records are the
    checkout's, or the installed package's when there is no checkout; ``build/`` and ``results/`` are the checkout's,
    or the current directory's (:mod:`srlora_utils.data.shipped`)."""
    if preset not in STUDY_GRIDS:
        raise SrLoraError(f"unknown preset {preset!r} for the baseline study: use one of {', '.join(STUDY_GRIDS)}")
    grid = shipped_path(f"grids/{STUDY_GRIDS[preset]}")
    if not grid.is_file():
        raise SrLoraError(f"study grid {grid} is missing: restore it {restore_how('grids/')}")
    if records is not None:
        return grid, Path(records).resolve()
    if rerun:
        fresh = output_path(f"build/baseline-study-{preset}-rerun/records.jsonl")
        fresh.unlink(missing_ok=True)
        return grid, fresh
    if preset != "offline":
        return grid, output_path(f"results/baseline-study-{preset}.jsonl")
    shipped = shipped_path(SHIPPED_RECORDS)
    if not shipped.is_file():
        raise SrLoraError(
            f"the shipped study records {shipped} are missing: restore them {restore_how(SHIPPED_RECORDS)}, or train "
            "the study again with rerun=True (~82 min on 2 cores; `make study` also trains the tuned protocol, ~4.5 h)"
        )
    return grid, shipped


def design_table(settings: dict) -> pd.DataFrame:
    """The study's blocks as registered: question, tasks with shot counts, methods, seeds, epochs, scaling, and the
    runs each block adds to the ones above it (a block may repeat earlier runs: each run trains once)."""
    from ..experiments.grids import grid_blocks, grid_configs
    from ..training.config import config_key

    rows: list[dict] = []
    seen: set[str] = set()
    for part in grid_blocks(settings):
        tasks = part.get("tasks") or {part["task"]: part["shots"]}
        keys = {config_key(c) for c in grid_configs({k: v for k, v in part.items() if k != "blocks"})}
        rows.append({"block": part.get("name", "grid"), "question": part.get("question", ""),
                     "tasks (shots)": ", ".join(f"{t} ({k})" for t, k in tasks.items()),
                     "methods": len(part["methods"]), "seeds": len(part["seeds"]), "epochs": part["epochs"],
                     "scaling": part.get("scaling", "paper"), "new runs": len(keys - seen)})  # fmt: skip
        seen |= keys
    return pd.DataFrame(rows).set_index("block")


def cell_table(runs: list[dict], metric: str = "accuracy", design: StudyDesign | None = None) -> pd.DataFrame:
    """Mean, standard deviation and number of runs of test ``metric`` per cell (rows; :func:`cell_name` under
    ``design``) and setting (task, shots)."""
    df = pd.DataFrame(
        {"cell": cell_name(r, design), "setting": f"{r['task']}, {r['config']['shots']}-shot",
         metric: r["test"][metric]} for r in runs
    )  # fmt: skip
    table = df.pivot_table(index="cell", columns="setting", values=metric, aggfunc=["mean", "std", "count"],
                           sort=False)  # fmt: skip
    return table.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)


def official_scaling(runs: list[dict]) -> list[dict]:
    """The runs with the official 1/r scaling (every method's own cell; drops the rsLoRA cells of question 4)."""
    return [r for r in runs if r["config"].get("scaling", "paper") == "paper"]


def study_wall_time(runs: list[dict]) -> float:
    """Hours from the first run's start to the last run's end, from the records' finishing times (all workers)."""
    import datetime

    ends = [datetime.datetime.fromisoformat(r["finished_at"]) for r in runs]
    starts = [e - datetime.timedelta(seconds=r["total_s"]) for e, r in zip(ends, runs, strict=True)]
    return (max(ends) - min(starts)).total_seconds() / 3600


def study_pixel_baselines(runs: list[dict], settings: dict) -> pd.DataFrame:
    """Raw-pixel baselines (:func:`~srlora_utils.experiments.baselines.baseline_runs`) for each task and shot count of
    ``runs``,
    on the seeds (or MedFMC splits) that every cell of that setting ran, so that each method pairs with them."""
    from ..experiments.baselines import baseline_runs
    from ..experiments.grids import base_config, task_exps

    parts = []
    for (task, shots), part in _groups(runs).items():
        by_cell: dict[str, set[int]] = {}
        for r in part:
            by_cell.setdefault(cell_name(r), set()).add(r["config"]["seed"])
        seeds = sorted(set.intersection(*by_cell.values()))
        size = base_config(settings, task).medmnist_size  # the grid's size holds for its MedMNIST tasks only
        exps = task_exps(settings, task)
        parts.append(baseline_runs(task, shots, seeds, settings["img_size"], settings["root"], exps, size))
    return pd.concat(parts, ignore_index=True)
