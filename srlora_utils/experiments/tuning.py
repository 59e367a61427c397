"""A tuned protocol (``grids/tuned-study.toml``): every method at its own validated setting, chosen by a rule written
before the runs, then confirmed on fresh seeds.

Three stages, each computed from the grid and the records so far (so a study resumes where it stopped):

1. **selection**: the grid's runs (its blocks' ``vary`` tables: learning rate x scaling, ...) on the selection seeds;
2. **edge**: where the chosen rate is the grid's smallest or largest for that method, one more rate ``edge_factor``
   beyond it (same scaling and whitening, same seeds), once;
3. **confirmation**: the chosen setting on the confirmation seeds (the primary pair on ``primary_seeds``), and at the
   fewer-shots setting.

The rule (:func:`choose`): the highest mean validation score over the selection seeds (each run's best epoch); ties
go to the smaller learning rate, then to the scaling listed first in :data:`~srlora_utils.training.methods.SCALINGS`,
then to no whitening. Selection runs' test scores are never read here. A method whose block gives a single candidate
has a fixed setting (a framing method, as the gap ladder's linear probe): it has no selection runs and no edge, and is
confirmed at that setting.

Two options of the second registration (``grids/registration-2/``): ``shared`` groups methods that take one setting
between them, the candidate with the highest sum of the group's mean validation scores (the same tie rule; the edge
rule on that choice, for every method of the group), so a pair differs in allocation only; ``reuse`` names records
files whose runs count as done (read, never written), so a registration builds on runs another one made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SrLoraError
from ..training.config import TrainConfig, config_key
from ..training.methods import SCALINGS
from ..training.metrics import selection_metric

#: What a candidate is, besides its method and task: the settings a tuned grid varies.
CANDIDATE_FIELDS = ("lr", "scaling", "eva_whiten")
#: Keys of a grid's ``[tuning]`` table.
TUNING_KEYS = ("selection_seeds", "confirmation_seeds", "primary_seeds", "edge_factor", "inherit", "fewer_shots",
               "fewer_shots_epochs", "fewer_shots_methods", "q3_half_width", "q3_planning_sd", "shared",
               "reuse")  # fmt: skip


@dataclass(frozen=True)
class TuningPlan:
    """A grid's ``[tuning]`` table: the seeds of each stage, the edge rule's factor, methods that take another's
    choice (``inherit``: control -> method), the fewer-shots setting (task -> shots, its epochs and methods), the
    precision planned for question 3 (half-width and planning standard deviation, points), groups of methods that
    share one setting (``shared``) and records files whose runs count as done (``reuse``)."""

    selection_seeds: tuple[int, ...]
    confirmation_seeds: tuple[int, ...]
    primary_seeds: tuple[int, ...] = ()
    edge_factor: float = 3.0
    inherit: dict[str, str] = field(default_factory=dict)
    fewer_shots: dict[str, int] = field(default_factory=dict)
    fewer_shots_epochs: int | None = None
    fewer_shots_methods: tuple[str, ...] = ()
    q3_half_width: float | None = None
    q3_planning_sd: float | None = None
    shared: tuple[tuple[str, ...], ...] = ()
    reuse: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: dict, where: str = "grid") -> TuningPlan:
        """The plan a grid's settings state; one-line errors for a missing table, unknown keys or overlapping seeds."""
        table = settings.get("tuning")
        if not isinstance(table, dict):
            raise SrLoraError(f"{where}: no [tuning] table: a tuned protocol states its selection and confirmation "
                              "seeds there (see grids/tuned-study.toml)")  # fmt: skip
        unknown = sorted(set(table) - set(TUNING_KEYS))
        if unknown:
            raise SrLoraError(f"{where}: [tuning] has unknown keys {unknown}; allowed: {', '.join(TUNING_KEYS)}")
        for key in ("selection_seeds", "confirmation_seeds"):
            if not table.get(key):
                raise SrLoraError(f"{where}: [tuning] needs {key} (a list of seeds)")
        plan = cls(**{k: _tuning_value(where, k, v) for k, v in table.items()})
        grouped = [m for group in plan.shared for m in group]
        if len(grouped) != len(set(grouped)):
            raise SrLoraError(f"{where}: [tuning] shared names a method in two groups: a method takes one setting")
        overlap = set(plan.selection_seeds) & (set(plan.confirmation_seeds) | set(plan.primary_seeds))
        if overlap:
            raise SrLoraError(f"{where}: seeds {sorted(overlap)} are both selection and confirmation seeds: the two "
                              "must be disjoint (a setting chosen on a seed would be confirmed on it)")  # fmt: skip
        return plan


#: The type each ``[tuning]`` key holds: seed and method lists, tables, numbers.
_TUNING_TYPES: dict[str, str] = {"selection_seeds": "seeds", "confirmation_seeds": "seeds", "primary_seeds": "seeds",
                                 "fewer_shots_methods": "names", "inherit": "table", "fewer_shots": "table",
                                 "edge_factor": "number", "fewer_shots_epochs": "number", "q3_half_width": "number",
                                 "q3_planning_sd": "number", "shared": "groups", "reuse": "names"}  # fmt: skip


def _tuning_value(where: str, key: str, value: Any) -> Any:
    """A ``[tuning]`` value checked against :data:`_TUNING_TYPES` (lists become tuples); one line otherwise."""
    kind = _TUNING_TYPES[key]
    ok = {
        "seeds": isinstance(value, list) and all(isinstance(v, int) and v >= 0 for v in value),
        "names": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "table": isinstance(value, dict),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
        "groups": isinstance(value, list) and all(isinstance(g, list) and len(g) >= 2 and
                                                  all(isinstance(m, str) for m in g) for g in value),
    }[kind]  # fmt: skip
    if not ok:
        raise SrLoraError(f"{where}: [tuning] {key} = {value!r} is not {_kind_text(kind)}")
    if kind == "groups":
        return tuple(tuple(g) for g in value)
    return tuple(value) if isinstance(value, list) else value


def _kind_text(kind: str) -> str:
    """How a ``[tuning]`` value's kind reads in an error."""
    return {"seeds": "a list of seeds (integers, 0 or more)", "names": "a list of method names",
            "table": "a table", "number": "a positive number",
            "groups": "a list of method groups, each a list of two or more method names"}[kind]  # fmt: skip


def candidate(cfg: TrainConfig | dict) -> tuple:
    """A run's candidate setting: (lr, scaling, eva_whiten)."""
    values = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    lr, scaling, whiten = (values.get(k) for k in CANDIDATE_FIELDS)
    return float(lr) if lr is not None else None, str(scaling), bool(whiten)


def _tie_order(cand: tuple) -> tuple:
    lr, scaling, whiten = cand
    return (lr, SCALINGS.index(scaling) if scaling in SCALINGS else len(SCALINGS), bool(whiten))


def _by_setting(configs: list[TrainConfig]) -> dict[tuple[str, str], list[TrainConfig]]:
    out: dict[tuple[str, str], list[TrainConfig]] = {}
    for c in configs:
        out.setdefault((c.task, c.method), []).append(c)
    return out


def selection_table(configs: list[TrainConfig], records: dict[str, dict]) -> pd.DataFrame:
    """One row per (task, method, candidate) of the selection ``configs``: mean validation score over the seeds
    recorded in ``records`` (key -> record), the seeds it has and needs, and the median weight change (how far the
    adapted weights moved: 0 means a linear probe)."""
    rows: dict[tuple, dict] = {}
    for c in configs:
        row = rows.setdefault((c.task, c.method, *candidate(c)), {"val": [], "seeds": 0, "change": []})
        row["seeds"] += 1
        rec = records.get(config_key(c))
        if rec is not None:
            row["val"].append(next(iter(rec["val"].values())))
            row["change"].append(rec.get("weight_change", np.nan))
    table = pd.DataFrame(
        [{"task": k[0], "method": k[1], **dict(zip(CANDIDATE_FIELDS, k[2:])), "val mean": np.mean(v["val"])
          if v["val"] else np.nan, "seeds run": len(v["val"]), "seeds": v["seeds"],
          "weight change": np.median(v["change"]) if v["change"] else np.nan} for k, v in rows.items()]
    )  # fmt: skip
    return table


def choose(rows: pd.DataFrame) -> pd.Series:
    """The rule: the candidate row with the highest ``val mean``; ties to the smaller lr, the scaling listed first,
    then no whitening. Every row must be complete (all its seeds run)."""
    if (rows["seeds run"] < rows["seeds"]).any():
        raise SrLoraError("a candidate has seeds still to run: choose once selection is complete")
    best = rows["val mean"].max()
    tied = rows[np.isclose(rows["val mean"], best, rtol=0, atol=1e-9)]
    order = sorted(tied.index, key=lambda i: _tie_order(tuple(tied.loc[i, list(CANDIDATE_FIELDS)])))
    return tied.loc[order[0]]


def _grid_lrs(configs: list[TrainConfig]) -> tuple[float, float]:
    lrs = [c.lr if c.lr is not None else c.resolved_lr() for c in configs]
    return min(lrs), max(lrs)


def _edge(chosen: pd.Series, configs: list[TrainConfig], factor: float) -> float | None:
    """The extra rate the edge rule asks for, or None: beyond the grid's smallest or largest rate."""
    low, high = _grid_lrs(configs)
    lr = float(chosen["lr"])
    if np.isclose(lr, high):
        return high * factor
    if np.isclose(lr, low):
        return low / factor
    return None


def _like(configs: list[TrainConfig], cand: tuple, **changes) -> list[TrainConfig]:
    """The configs of ``configs`` at candidate ``cand``, with ``changes``."""
    return [dataclasses.replace(c, **changes) for c in configs if candidate(c) == cand]


@dataclass
class TuningState:
    """Where a tuned study stands: per (task, method) the selection configs (grid and edge; none for a fixed setting),
    the chosen candidate (None while selection runs), and every config each stage asks for so far."""

    selection: dict[tuple[str, str], list[TrainConfig]]
    edge: dict[tuple[str, str], list[TrainConfig]]
    chosen: dict[tuple[str, str], pd.Series | None]
    confirmation: list[TrainConfig]

    def configs(self) -> list[TrainConfig]:
        """Every run known so far, in the order a queue should take them: confirmation of the settings already chosen,
        then method by method its selection and edge runs (a method's choice is made as early as it can be)."""
        out = list(self.confirmation)
        for key, sel in self.selection.items():
            out += sel + self.edge.get(key, [])
        return out


def tuning_state(settings: dict, records: dict[str, dict]) -> TuningState:
    """The stages of the tuned grid ``settings`` given ``records`` (key -> record): what selection and the edge rule
    ask for, what is chosen where selection is complete, and the confirmation runs of chosen settings."""
    from .grids import grid_configs

    plan = TuningPlan.from_settings(settings)
    grid = [c for c in grid_configs(settings) if c.seed in plan.selection_seeds]
    selection = _by_setting(grid)
    edge: dict[tuple[str, str], list[TrainConfig]] = {}
    chosen: dict[tuple[str, str], pd.Series | None] = {}
    fixed: set[tuple[str, str]] = set()
    group_of = {m: g for g in plan.shared for m in g}
    for key, configs in selection.items():
        table = selection_table(configs, records)
        if len(table) == 1:  # one candidate: a fixed setting (a framing method), nothing to select, no edge
            fixed.add(key)
            chosen[key] = table.iloc[0]
            continue
        if key[1] in group_of:  # chosen with its group below
            continue
        if (table["seeds run"] < table["seeds"]).any():
            chosen[key] = None
            continue
        first = choose(table)
        extra = _edge(first, configs, plan.edge_factor)
        if extra is not None:
            edge[key] = _like(configs, candidate(first.to_dict()), lr=extra)
            table = selection_table(configs + edge[key], records)
            if (table["seeds run"] < table["seeds"]).any():
                chosen[key] = None
                continue
        chosen[key] = choose(table)
    for group in plan.shared:
        for task in dict.fromkeys(t for t, m in selection if m in group and (t, m) not in fixed):
            _choose_shared(task, group, selection, records, plan, edge, chosen)
    for control, source in plan.inherit.items():
        for task, method in list(selection):
            if method == source and (task, control) not in chosen:
                chosen[(task, control)] = chosen[(task, method)]
    confirmation = _confirmation(settings, plan, selection, chosen)
    selection = {k: v for k, v in selection.items() if k not in fixed}
    return TuningState(selection, edge, chosen, confirmation)


def shared_table(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per candidate common to a group's per-method selection ``tables``: the sum of their ``val mean`` (what
    a shared choice maximises), the fewest seeds run, and the most seeds needed."""
    fields = list(CANDIDATE_FIELDS)
    parts = [t.set_index(fields)[["val mean", "seeds run", "seeds"]] for t in tables]
    joined = pd.concat(parts, axis=1, keys=range(len(parts)), join="inner")
    col = lambda name: pd.concat([joined[(i, name)] for i in range(len(parts))], axis=1)
    out = pd.DataFrame({"val mean": col("val mean").sum(axis=1, skipna=False),
                        "seeds run": col("seeds run").min(axis=1), "seeds": col("seeds").max(axis=1)})  # fmt: skip
    return out.reset_index()


def _choose_shared(task: str, group: tuple[str, ...], selection: dict, records: dict, plan: TuningPlan, edge: dict,
                   chosen: dict) -> None:  # fmt: skip
    """The shared choice of ``group`` on ``task`` (:func:`shared_table`, the tie rule, then the edge rule for every
    method of the group), written into ``edge`` and ``chosen``; None while any of its runs is missing."""
    keys = [(task, m) for m in group if (task, m) in selection]
    configs = {k: selection[k] for k in keys}
    table = shared_table([selection_table(configs[k], records) for k in keys])
    if (table["seeds run"] < table["seeds"]).any():
        chosen.update({k: None for k in keys})
        return
    first = choose(table)
    extra = _edge(first, configs[keys[0]], plan.edge_factor)
    if extra is not None:
        for k in keys:
            edge[k] = _like(configs[k], candidate(first.to_dict()), lr=extra)
        table = shared_table([selection_table(configs[k] + edge[k], records) for k in keys])
        if (table["seeds run"] < table["seeds"]).any():
            chosen.update({k: None for k in keys})
            return
    pick = candidate(choose(table).to_dict())
    for k in keys:  # each method's own row at the shared candidate (its own mean validation score)
        own = selection_table(configs[k] + edge.get(k, []), records)
        chosen[k] = own[[candidate(r.to_dict()) == pick for _, r in own.iterrows()]].iloc[0]


def _confirmation(settings: dict, plan: TuningPlan, selection: dict, chosen: dict) -> list[TrainConfig]:
    """The confirmation runs of every chosen setting: ``plan``'s confirmation seeds (the primary pair's own seeds),
    and its fewer-shots setting for the methods it names."""
    primary = settings.get("primary", {})
    pair = {primary.get("method"), primary.get("reference")} - {None}
    out = []
    for (task, method), row in chosen.items():
        if row is None:
            continue
        template = selection[(task, plan.inherit.get(method, method))][0]
        base = dataclasses.replace(template, method=method, lr=float(row["lr"]), scaling=str(row["scaling"]),
                                   eva_whiten=bool(row["eva_whiten"]))  # fmt: skip
        seeds = plan.primary_seeds if method in pair and plan.primary_seeds else plan.confirmation_seeds
        out += [dataclasses.replace(base, seed=s) for s in seeds]
        if task in plan.fewer_shots and method in plan.fewer_shots_methods:
            fewer = dataclasses.replace(base, shots=plan.fewer_shots[task],
                                        epochs=plan.fewer_shots_epochs or base.epochs)  # fmt: skip
            out += [dataclasses.replace(fewer, seed=s) for s in seeds]
    return out


def chosen_table(state: TuningState) -> pd.DataFrame:
    """The chosen setting per task and method (rows), with its mean validation score; '(selecting)' while not done."""
    rows = []
    for (task, method), row in state.chosen.items():
        if row is None:
            rows.append({"task": task, "method": method, "lr": np.nan, "scaling": "(selecting)"})
            continue
        rows.append({"task": task, "method": method, **{k: row[k] for k in CANDIDATE_FIELDS},
                     "val mean": row.get("val mean", np.nan), "edge run": (task, method) in state.edge})  # fmt: skip
    return pd.DataFrame(rows).set_index(["task", "method"])


def metric_of(run: dict) -> str:
    """The selection metric of a run's record (accuracy, or mAP for multi-label tasks)."""
    return next(iter(run["val"])) if run.get("val") else selection_metric(False)


def tuned_records(path) -> dict[str, dict]:
    """The records at ``path`` by key (none when it does not exist)."""
    from ..training.records import read_records

    return {r["key"]: r for r in read_records(path) if isinstance(r.get("key"), str)}


def run_tuned(
    grid: str, records: str, jobs: int = 1, progress: bool = True, reused: dict[str, dict] | None = None
) -> TuningState:
    """Run the tuned protocol of ``grid`` into ``records``, resuming from them: selection, the edge rule, and
    confirmation of each method as soon as its choice is made (``jobs`` local processes share one queue; ``progress``
    shows its bar; ``reused``: the runs of the grid's ``reuse`` files when already read). Returns where the study
    stands at the end."""
    from .grids import grid_settings
    from .launch import run_queue

    settings = grid_settings(grid)
    plan = TuningPlan.from_settings(settings, grid)
    if reused is None:
        reused = reused_records(plan)

    def left() -> list[TrainConfig]:
        state = tuning_state(settings, {**reused, **tuned_records(records)})
        return [c for c in state.configs() if config_key(c) not in reused]

    run_queue(left, records, jobs, progress=progress)
    return tuning_state(settings, {**reused, **tuned_records(records)})


def reused_records(plan: TuningPlan) -> dict[str, dict]:
    """The runs of the records files ``plan.reuse`` names (shipped paths, as ``results/gap-ladder/records.jsonl``),
    by key; a one-line error for a file that is not there."""
    from ..data.shipped import shipped_path

    out: dict[str, dict] = {}
    for path in plan.reuse:
        found = shipped_path(path)
        if not found.is_file():
            raise SrLoraError(f"[tuning] reuse names {path}, which is not there: name a shipped records file")
        out.update(tuned_records(found))
    return out
