"""Notebook 05's second protocol (``grids/tuned-study.toml``) read beside the first: every method at its own validated
setting, the same questions, the same reading rules and Holm's correction, and which verdicts change.

The tuned study's records hold selection runs (the candidates on the selection seeds) and confirmation runs (the
chosen setting on fresh seeds). Only confirmation runs are read for verdicts: :func:`confirmation_runs` recomputes
the choice from the records by the grid's written rule, so a record that is not the rule's choice is never read as
one. Selection runs give the selection curves (validation score against learning rate) and nothing else; their test
scores are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.shipped import restore_how, shipped_path
from ..errors import SrLoraError
from ..experiments.tuning import CANDIDATE_FIELDS, TuningPlan, TuningState, selection_table, tuning_state
from ..training.config import config_key
from .baseline_study import StudyDesign, _read_all, cell_name
from .comparison import paired_interval, runs_for_half_width
from .readings import Reading

#: The tuned protocol's grid and its shipped records, relative to the repository (and inside the wheel).
TUNED_GRID = "grids/tuned-study.toml"
TUNED_RECORDS = "results/tuned-study/records.jsonl"


def tuned_files(records: str | None = None) -> tuple[Path, Path]:
    """The tuned protocol's grid and its records: ``records`` when given, else the shipped ones (one line when
    either is missing)."""
    grid = shipped_path(TUNED_GRID)
    if not grid.is_file():
        raise SrLoraError(f"tuned study grid {grid} is missing: restore it {restore_how('grids/')}")
    path = Path(records).resolve() if records is not None else shipped_path(TUNED_RECORDS)
    if not path.is_file():
        raise SrLoraError(f"the tuned study's records {path} are missing: restore them {restore_how(TUNED_RECORDS)}, "
                          "or run the study: srlora tune grids/tuned-study.toml --records FILE --jobs 2")  # fmt: skip
    return grid, path


@dataclass(frozen=True)
class Protocols:
    """The offline study under both protocols, as notebook 05's section 14 reads it: the official runs and design
    (``grids/baseline-study.toml``), and the tuned grid's settings, design and plan, all its records and the
    confirmation runs its rule chooses."""

    official: list[dict]
    official_design: StudyDesign
    settings: dict
    design: StudyDesign
    plan: TuningPlan
    records: list[dict]
    tuned: list[dict]

    @property
    def complete(self) -> bool:
        """Whether every method has a choice and every run the rule asks for is recorded."""
        return stage_progress(study_state(self.settings, self.records), self.records)[2]


def stage_progress(state: TuningState, records: list[dict]) -> tuple[int, int, bool]:
    """(runs ``state`` asks for that ``records`` hold, runs it asks for so far, whether the study is complete: every
    method has a choice and every run is recorded)."""
    done = {r["key"] for r in records}
    keys = {config_key(c) for c in state.configs()}
    recorded = len(keys & done)
    return recorded, len(keys), recorded == len(keys) and all(v is not None for v in state.chosen.values())


def load_protocols(official_records: str | None = None, tuned_records: str | None = None) -> Protocols:
    """The offline study's records under both protocols (the shipped ones unless a path is given): the stand-in
    study, whichever preset a lesson runs."""
    from ..experiments.grids import grid_settings
    from ..training.records import read_records
    from .baseline_study import study_files

    grid, path = study_files("offline", official_records)
    tuned_grid, tuned_path = tuned_files(tuned_records)
    settings = grid_settings(str(tuned_grid))
    records = read_records(tuned_path)
    return Protocols(official=read_records(path), official_design=StudyDesign.from_settings(grid_settings(str(grid))),
                     settings=settings, design=StudyDesign.from_settings(settings),
                     plan=TuningPlan.from_settings(settings), records=records,
                     tuned=confirmation_runs(settings, records))  # fmt: skip


def study_state(settings: dict, runs: list[dict]) -> TuningState:
    """Where the tuned study of ``settings`` stands given its recorded ``runs``: the choice per task and method,
    recomputed by the grid's rule."""
    return tuning_state(settings, {r["key"]: r for r in runs})


def confirmation_runs(settings: dict, runs: list[dict]) -> list[dict]:
    """The recorded confirmation runs of the settings the rule chooses from ``runs`` (the only runs a verdict
    reads)."""
    by_key = {r["key"]: r for r in runs}
    return [by_key[k] for k in dict.fromkeys(config_key(c) for c in study_state(settings, runs).confirmation)
            if k in by_key]  # fmt: skip


def progress_table(settings: dict, runs: list[dict]) -> pd.DataFrame:
    """Runs recorded and runs known per stage (selection, edge, confirmation): how far the tuned study has come."""
    state = study_state(settings, runs)
    done = {r["key"] for r in runs}
    stages = {"selection": [c for sel in state.selection.values() for c in sel],
              "edge": [c for e in state.edge.values() for c in e], "confirmation": state.confirmation}  # fmt: skip
    rows = [{"stage": s, "recorded": sum(config_key(c) in done for c in cs), "known so far": len(cs)}
            for s, cs in stages.items()]  # fmt: skip
    rows.append({"stage": "methods still selecting", "recorded": sum(v is None for v in state.chosen.values()),
                 "known so far": len(state.chosen)})  # fmt: skip
    return pd.DataFrame(rows).set_index("stage")


def selection_curves(settings: dict, runs: list[dict]) -> pd.DataFrame:
    """Every candidate's mean validation score over the selection seeds (grid and edge runs), per task and method,
    with whether the rule chose it: the data of the selection-curve figure."""
    state = study_state(settings, runs)
    by_key = {r["key"]: r for r in runs}
    parts = []
    for key, sel in state.selection.items():
        table = selection_table(sel + state.edge.get(key, []), by_key)
        chosen = state.chosen.get(key)
        table["chosen"] = (
            [tuple(row[list(CANDIDATE_FIELDS)]) == tuple(chosen[list(CANDIDATE_FIELDS)]) for _, row in table.iterrows()]
            if chosen is not None else False
        )  # fmt: skip
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def _base(task: str) -> str:
    """A task's family and name without its variant (``textures:large-test`` -> ``textures``): how the two
    protocols' settings are matched."""
    return task.replace(":large-test", "")


def protocol_table(
    official: list[dict], official_design: StudyDesign, tuned: list[dict], tuned_design: StudyDesign,
    metric: str = "accuracy",
) -> pd.DataFrame:  # fmt: skip
    """One row per comparison that either protocol reads (question, task, shots, method, reference) in test
    ``metric``: the paired difference, verdict and Holm flag of the ``official`` runs under ``official_design`` and
    of the ``tuned`` confirmation runs under ``tuned_design`` (each corrected over its own family), and whether the
    verdict changed. Tasks are matched without their variant (the tuned ``textures:large-test`` is ``textures``)."""

    def table(runs: list[dict], design: StudyDesign) -> pd.DataFrame:
        rows = [{"question": w["question"], "task": _base(w["task"]),
                 "shots": w["shots"], "method": w["method"], "reference": w["reference"], "pairs": iv.n,
                 "difference": iv.mean, "verdict": iv.verdict + (" (Holm)" if kept else "")}
                for w, iv, kept in _read_all(runs, design, metric)]  # fmt: skip
        columns = ["question", "task", "shots", "method", "reference", "pairs", "difference", "verdict"]
        return pd.DataFrame(rows, columns=columns).set_index(columns[:5])  # no rows while nothing pairs yet

    both = pd.merge(table(official, official_design), table(tuned, tuned_design), how="outer", left_index=True,
                    right_index=True, suffixes=(" official", " tuned"))  # fmt: skip
    both[["verdict official", "verdict tuned"]] = both[["verdict official", "verdict tuned"]].fillna("not read")
    both["changed"] = [
        a.removesuffix(" (Holm)") != b.removesuffix(" (Holm)") and "not read" not in (a, b)
        for a, b in zip(both["verdict official"], both["verdict tuned"], strict=True)
    ]
    return both


def read_protocol_changes(table: pd.DataFrame) -> Reading:
    """Which verdicts the tuned protocol changes, from :func:`protocol_table`, comparison by comparison; and which
    comparisons only one protocol reads."""
    both = table[(table["verdict official"] != "not read") & (table["verdict tuned"] != "not read")]
    changed = both[both["changed"]]
    lines = [f"Of the {len(both)} comparison{'s' if len(both) != 1 else ''} both protocols read, "
             f"**{len(changed)} change{'s' if len(changed) == 1 else ''} verdict** under the tuned protocol (each "
             "method at its own validated setting, the peers as their authors set them up, the larger textures test "
             "set, no selection inside the warm-up)" + (":" if len(changed) else ".")]  # fmt: skip
    for (q, task, shots, m, ref), row in changed.iterrows():
        lines.append(f"* {q}, `{m}` − `{ref}` on {task}, {shots}-shot: {row['verdict official']} "
                     f"({row['difference official']:+.1f} points) → **{row['verdict tuned']}** "
                     f"({row['difference tuned']:+.1f} points).")  # fmt: skip
    holm_moved = both[~both["changed"] & (both["verdict official"] != both["verdict tuned"])]
    if len(holm_moved):
        lines.append(f"* {len(holm_moved)} more keep their verdict but gain or lose Holm's correction: "
                     + "; ".join(f"`{m}` − `{ref}` on {t}, {k}-shot ({row['verdict official']} → "
                                 f"{row['verdict tuned']})" for (q, t, k, m, ref), row in holm_moved.iterrows())
                     + ".")  # fmt: skip
    official_only = table[table["verdict tuned"] == "not read"]
    q4 = sum(q == "Q4" for q, *_ in official_only.index)
    if q4:
        lines.append(f"* {q4} comparisons of Q4 are read by the official protocol only: the tuned one chooses the "
                     "scaling with the rate, so it has no rsLoRA cells; its answer to Q4 is the scaling each method's "
                     "choice holds.")  # fmt: skip
    missing = len(official_only) - q4
    if missing:
        questions = sorted({q for q, *_ in official_only.index if q != "Q4"})
        lines.append(f"* {missing} comparisons of {', '.join(questions)} have no tuned verdict: their confirmation "
                     "runs are not all recorded (the tuned study has not reached them).")  # fmt: skip
    tuned_only = len(table[table["verdict official"] == "not read"])
    if tuned_only:
        lines.append(f"* {tuned_only} comparisons are read by the tuned protocol only.")
    return Reading(lines)


def q3_power_table(runs: list[dict], design: StudyDesign, plan: TuningPlan, metric: str = "accuracy") -> pd.DataFrame:
    """Question 3's comparisons in the tuned ``runs`` (test ``metric``, read under ``design``): pairs, the spread of
    the paired differences, the half-width reached against ``plan``'s ``q3_half_width``, and the pairs that spread
    needs for it."""
    target = plan.q3_half_width or design.half_width
    rows = []
    for w, iv, _ in _read_all(runs, design, metric):
        if w["question"] != "Q3":
            continue
        need = runs_for_half_width(iv.sd, target, design.confidence) if iv.n > 1 else None
        half = (iv.high - iv.low) / 2
        rows.append({"task": w["task"], "method": w["method"], "reference": w["reference"], "pairs": iv.n,
                     "sd of differences": iv.sd, "half-width reached": half, "pairs needed": need,
                     "target met": bool(iv.n > 1 and half <= target)})  # fmt: skip
    columns = ["task", "method", "reference", "pairs", "sd of differences", "half-width reached", "pairs needed",
               "target met"]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns).set_index(columns[:3])
    table.attrs.update(target=target, planning_sd=plan.q3_planning_sd)  # what the reading compares with
    return table


def scale_table(runs: list[dict], design: StudyDesign | None = None) -> pd.DataFrame:
    """Per task and method of ``runs``: the setting it ran at (learning rate and scaling), its LoRA parameters, the
    scale its update is multiplied by (``update_scale``, median over modules) and how far its attention weights
    moved (``weight_change``, median over runs): budget matching in step size as well as in parameters."""
    rows = [{"task": r["task"], "method": cell_name(r, design), "lr": r["config"]["lr"],
             "scaling": r["config"]["scaling"], "LoRA params": r.get("lora_params", 0),
             "update scale": r.get("update_scale", np.nan), "weight change": r.get("weight_change", np.nan)}
            for r in runs]  # fmt: skip
    df = pd.DataFrame(rows)
    agg = {"lr": "first", "scaling": "first", "LoRA params": "median", "update scale": "median",
           "weight change": "median"}  # fmt: skip
    return df.groupby(["task", "method"], sort=False).agg(agg)


def last_epoch_table(runs: list[dict], metric: str = "accuracy", design: StudyDesign | None = None) -> pd.DataFrame:
    """Mean test ``metric`` of the selected epoch beside the last epoch's, per task and method (cells as
    :func:`cell_name` names them under ``design``) of ``runs``, and their paired difference with its interval: how
    much validation-based selection moved the test score."""
    rows = []
    for r in runs:
        if "test_last" in r:
            rows.append({"task": r["task"], "shots": r["config"]["shots"], "method": cell_name(r, design),
                         "selected": r["test"][metric], "last": r["test_last"][metric]})  # fmt: skip
    df = pd.DataFrame(rows, columns=["task", "shots", "method", "selected", "last"])
    out = []
    for (task, shots, method), part in df.groupby(["task", "shots", "method"], sort=False):
        iv = paired_interval(list(part["selected"] - part["last"]))
        out.append({"task": task, "shots": shots, "method": method, "runs": len(part),
                    "selected epoch": part["selected"].mean(), "last epoch": part["last"].mean(),
                    "selected - last": iv.mean, "ci low": iv.low, "ci high": iv.high})  # fmt: skip
    columns = ["task", "shots", "method", "runs", "selected epoch", "last epoch", "selected - last", "ci low",
               "ci high"]  # fmt: skip
    return pd.DataFrame(out, columns=columns).set_index(columns[:3])


def winners_curse_table(settings: dict, runs: list[dict]) -> pd.DataFrame:
    """Per task and method whose choice is confirmed (controls that inherit another method's choice left out: they
    won nothing): how many candidates it was chosen among (grid and edge), the chosen candidate's mean validation
    score on the selection seeds (the maximum over the candidates, so biased upwards), the same setting's mean
    validation score on the confirmation seeds (the primary pair's extra seeds left out, so every method's mean is over
    the same seeds), and the drop between them. Why selection and confirmation seeds are disjoint."""
    state = study_state(settings, runs)
    plan = TuningPlan.from_settings(settings)
    seeds = set(plan.confirmation_seeds)  # the primary pair's extra seeds would weigh two methods' means differently
    main_shots = {task: max(c.shots for c in sel) for (task, _), sel in state.selection.items()}
    rows = []
    for r in confirmation_runs(settings, runs):
        c = r["config"]
        chosen = state.chosen[(c["task"], c["method"])]
        if (chosen is None or c["method"] in plan.inherit or c["seed"] not in seeds
                or c["shots"] != main_shots[c["task"]]):  # fmt: skip
            continue
        cands = len(state.selection[c["task"], c["method"]]) // len(plan.selection_seeds)
        cands += len(state.edge.get((c["task"], c["method"]), [])) // len(plan.selection_seeds)
        rows.append({"task": r["task"], "method": c["method"], "selection val": float(chosen["val mean"]),
                     "confirmation val": next(iter(r["val"].values())), "candidates": cands})  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=["candidates", "selection val", "confirmation val", "drop", "confirmation runs"])
    df = pd.DataFrame(rows).groupby(["task", "method"], sort=False)
    out = df.agg(**{"selection val": ("selection val", "first"), "confirmation val": ("confirmation val", "mean"),
                    "confirmation runs": ("confirmation val", "size"),
                    "candidates": ("candidates", "first")})  # fmt: skip
    out["drop"] = (out["selection val"] - out["confirmation val"]).round(9)  # 1e-14 is no drop
    return out[["candidates", "selection val", "confirmation val", "drop", "confirmation runs"]]


def cell_means(runs: list[dict], metrics: tuple[str, ...] = ("accuracy", "AUC"),
               design: StudyDesign | None = None) -> pd.DataFrame:  # fmt: skip
    """Mean test value of each of ``metrics`` (and the number of runs) per cell (rows, :func:`cell_name` under
    ``design``) and setting (task, shots): the tuned cells at a glance, with the textures records' AUC."""
    rows = [{"cell": cell_name(r, design), "setting": f"{r['task']}, {r['config']['shots']}-shot", "runs": 1,
             **{m: r["test"].get(m, np.nan) for m in metrics}} for r in runs]  # fmt: skip
    df = pd.DataFrame(rows, columns=["cell", "setting", "runs", *metrics])
    table = df.pivot_table(index="cell", columns="setting", values=[*metrics, "runs"],
                           aggfunc={**{m: "mean" for m in metrics}, "runs": "sum"}, sort=False)  # fmt: skip
    runs = [c for c in table.columns if c[0] == "runs"]
    table[runs] = table[runs].astype("Int64")  # counts, blank where a cell did not run
    return table.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
