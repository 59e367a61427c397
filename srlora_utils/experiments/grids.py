"""Grid files: a TOML description of a sweep (tasks x shots x MedFMC splits or seeds x methods, plus fixed
settings), optionally starting from a preset (:mod:`srlora_utils.experiments.presets`), and the runs a grid holds.

Example (``grids/paper-medfmc.toml``)::

    base = "reproduction:paper"          # optional: start from a preset's settings
    methods = ["lora", "srlora", "srlora_budget"]
    exps = [1, 2, 3, 4, 5]
    [tasks]
    "medfmc:chest" = [1, 5, 10]
    "medfmc:colon" = [1, 5, 10]

Keys are the settings of a run and the grid's structure (:data:`GRID_KEYS`); anything else is refused with the
list of allowed keys.

A study that is more than one rectangle (some methods under another scaling, some tasks at more seeds) lists
``[[blocks]]``: each block is a sub-grid whose keys (:data:`BLOCK_KEYS`) override the file's top-level settings,
and the grid is the union of its blocks' runs, each run once. A pre-registered study also states its
``questions`` and its ``primary`` comparison before any result exists (see ``grids/baseline-study.toml``)::

    [primary]
    method = "srlora_budget"
    reference = "lora"
    half_width = 2.5        # the 95% interval of the paired difference the study must reach, in points
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..data.fewshot import FewShotTask
from ..data.medmnist import MEDMNIST_SIZES
from ..data.shipped import kit_file
from ..data.tasks import load_task, task_options
from ..errors import SrLoraError, read_user_text
from ..models.normalization import resolve_normalization
from ..training.config import FIELD_HELP, SETTING_FIELDS, TrainConfig, config_key
from ..training.methods import METHODS, SCALINGS
from .presets import FIXTURE_OVERRIDES, MEDFMC_EXPS, preset
from .sweeps import sweep_configs

#: Keys a grid file may set, with what each means: the grid's structure, and any setting of a run
#: (:data:`~srlora_utils.training.config.SETTING_FIELDS`, described by TrainConfig's own help).
GRID_KEYS = {
    "base": "a preset to start from, domain:preset (e.g. reproduction:paper)",
    "tasks": "table task -> list of shot counts (or one shot count)",
    "task": "one task (with 'shots')",
    "shots": "shot counts for 'task'",
    "methods": "list of methods",
    "seeds": "seeds (initialisation and data order; they draw the splits of non-MedFMC tasks)",
    "vtab_seeds": "seeds for VTAB-1k tasks, when they differ",
    "exps": "MedFMC official splits (1-5)",
    **{name: FIELD_HELP[name] for name in SETTING_FIELDS},
    "weight_decay": "AdamW weight decay (a number, or a table per dataset family: medfmc, vtab, ...)",
    "stop_at_perfect_val": "true: a run stops once validation is perfect (later epochs cannot be selected, so its "
    "test numbers are the whole schedule's); not part of a run's key",
    "questions": "table: question id -> the question, as registered before the study ran (read by reports)",
    "primary": "table: the primary comparison (method, reference, half_width in points, margin, confidence)",
    "blocks": "array of sub-grids ([[blocks]]) that override the settings above; the grid is their union",
    "vary": "table: setting -> list of values; a block runs every combination (e.g. lr and scaling: candidates to "
    "select from)",
    "tuning": "table: how a tuned protocol selects and confirms (srlora_utils.experiments.tuning.TuningPlan)",
    "ladder": "table: the gap ladder's registered question 6 (its gap records and planned slope precision; "
    "srlora_utils.analysis.gap_ladder)",
}
#: Old spellings of grid keys, still read: old -> today's.
KEY_ALIASES = {"warmup": "warmup_iters"}
#: Keys of a study's ``[primary]`` table (see :class:`~srlora_utils.analysis.baseline_study.StudyDesign`).
PRIMARY_KEYS = ("method", "reference", "half_width", "margin", "confidence", "planning_sd")
#: Keys a ``[[blocks]]`` entry may set: what varies between the parts of one study.
BLOCK_KEYS = ("name", "question", "tasks", "methods", "seeds", "epochs", "scaling", "exps", "vtab_seeds", "vary")
#: A grid without ``base`` starts from TrainConfig's defaults, one seed and no MedFMC splits.
_DEFAULTS = {**{f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name in SETTING_FIELDS},
             "seeds": [TrainConfig.seed], "exps": None}  # fmt: skip


def read_grid(path: str | Path) -> dict:
    """The keys a TOML grid file sets, checked against :data:`GRID_KEYS` (``base`` not yet resolved: see
    :func:`grid_settings`); one-line errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise SrLoraError(f"grid file {path} does not exist: give a .toml file or a preset such as reproduction:paper")
    text = read_user_text(path, "grid file", f"a grid file is UTF-8 TOML (see {kit_file('grids')}/*.toml)")
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SrLoraError(f"{path}: not valid TOML ({' '.join(str(err).split())})") from None
    except RecursionError:
        raise SrLoraError(f"{path}: not valid TOML (nested too deep)") from None
    spec = {KEY_ALIASES.get(k, k): v for k, v in spec.items()}
    unknown = sorted(set(spec) - set(GRID_KEYS))
    if unknown:
        raise SrLoraError(f"{path}: unknown keys {unknown}; allowed: {', '.join(GRID_KEYS)}")
    _check_types(str(path), spec)
    for i, block in enumerate(spec.get("blocks", [])):
        if not isinstance(block, dict):
            raise SrLoraError(f"{path}: blocks[{i}] is not a table: write it as [[blocks]] with keys "
                              f"{', '.join(BLOCK_KEYS)}")  # fmt: skip
        _check_types(f"{path}: blocks[{i}]", block)  # keys a block may not set: refused by merge_grid
    return spec


Check = Callable[[object], bool]


def _int(value: object, low: int, high: int | None = None) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return value >= low and (high is None or value <= high)


def _ints(low: int, high: int | None = None) -> Check:
    """A check: a non-empty list of integers in ``[low, high]``."""
    return lambda v: isinstance(v, list) and bool(v) and all(_int(x, low, high) for x in v)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: object) -> bool:
    return isinstance(value, str)


def _primary(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    names = ("method", "reference")
    return all(_text(x) if k in names else _number(x) for k, x in value.items())


#: What each structural grid key must hold: a check, and the words for the error when it fails.
_KEY_TYPES: dict[str, tuple[Check, str]] = {
    "base": (lambda v: isinstance(v, str) and ":" in v and not v.endswith(".toml"), "a preset, domain:preset"),
    "task": (_text, "a task name"),
    "tasks": (lambda v: isinstance(v, dict) and bool(v) and all(_int(k, 1) or _ints(1)(k) for k in v.values()),
              "a table task -> shot count or list of shot counts (each at least 1)"),
    "shots": (_ints(1), "a list of shot counts (each at least 1)"),
    "methods": (lambda v: isinstance(v, list) and all(_text(m) for m in v), "a list of method names"),
    "seeds": (_ints(0), "a list of seeds (integers, 0 or more)"),
    "vtab_seeds": (_ints(0), "a list of seeds (integers, 0 or more)"),
    "exps": (_ints(min(MEDFMC_EXPS), max(MEDFMC_EXPS)), "a list of MedFMC splits, each one of 1-5"),
    "weight_decay": (lambda v: _number(v) or (isinstance(v, dict) and all(_number(x) for x in v.values())),
                     "a number, or a table dataset family -> number"),
    "medmnist_size": (lambda v: v in MEDMNIST_SIZES, f"a MedMNIST+ size: one of {', '.join(map(str, MEDMNIST_SIZES))}"),
    "stop_at_perfect_val": (lambda v: isinstance(v, bool), "true or false"),
    "questions": (lambda v: isinstance(v, dict) and all(_text(x) for x in v.values()), "a table question id -> text"),
    "primary": (_primary, "a table of method and reference (names) and numbers (half_width, margin, ...)"),
    "blocks": (lambda v: isinstance(v, list), "an array of tables ([[blocks]])"),
    "vary": (lambda v: isinstance(v, dict) and bool(v) and all(isinstance(x, list) and x for x in v.values()),
             "a table setting -> non-empty list of values"),
    "tuning": (lambda v: isinstance(v, dict), "a table (see srlora_utils.experiments.tuning)"),
    "ladder": (lambda v: isinstance(v, dict), "a table (see srlora_utils.analysis.gap_ladder)"),
    "name": (_text, "a text"),
    "question": (_text, "a text"),
}  # fmt: skip
#: The checks of a run's settings by their TrainConfig field's type (TOML has no null: never None in a grid).
_FIELD_TYPES: dict[str, tuple[Check, str]] = {
    "int": (lambda v: _int(v, 0), "an integer, 0 or more"), "float": (_number, "a number"), "str": (_text, "a text"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
}  # fmt: skip


def _check_types(where: str, spec: dict) -> None:
    """One-line error naming ``where`` and the key when a value of ``spec`` has the wrong type for its key."""
    fields = {f.name: str(f.type).removesuffix(" | None") for f in dataclasses.fields(TrainConfig)}
    for key, value in spec.items():
        check, words = _KEY_TYPES.get(key) or _FIELD_TYPES.get(fields.get(key, ""), (lambda v: True, ""))
        if not check(value):
            shown = repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:60]}..."
            raise SrLoraError(f"{where}: {key} = {shown} is not {words}")


def merge_grid(path: str | Path, spec: dict, base: dict | None) -> dict:
    """The settings of grid file ``path``: its keys ``spec`` over ``base`` (the settings its ``base`` names; None:
    the grid defaults), checked as a whole."""
    spec = {k: v for k, v in spec.items() if k != "base"}
    settings: dict[str, Any] = dict(base) if base is not None else dict(_DEFAULTS)
    if "tasks" in spec or "task" in spec:
        settings.pop("task" if "tasks" in spec else "tasks", None)
    settings.update(spec)
    if "tasks" not in settings and "task" not in settings:
        raise SrLoraError(f"{path}: no tasks: add a [tasks] table (task = [shots, ...]) or task and shots")
    if "task" in settings and "shots" not in settings:
        raise SrLoraError(f"{path}: 'task' needs 'shots' (a list of shot counts)")
    if not isinstance(settings.get("stop_at_perfect_val", False), bool):
        raise SrLoraError(f"{path}: stop_at_perfect_val must be true or false")
    primary = settings.get("primary", {})
    if not isinstance(primary, dict) or set(primary) - set(PRIMARY_KEYS):
        raise SrLoraError(f"{path}: [primary] may set only {', '.join(PRIMARY_KEYS)}")
    for i, block in enumerate(settings.get("blocks", [])):
        where = f"{path}: blocks[{i}]"
        if not isinstance(block, dict):
            raise SrLoraError(f"{where} is not a table: write it as [[blocks]] with keys {', '.join(BLOCK_KEYS)}")
        extra = sorted(set(block) - set(BLOCK_KEYS))
        if extra:
            raise SrLoraError(f"{where}: keys {extra} cannot vary per block; allowed: {', '.join(BLOCK_KEYS)}")
        _check_methods(where, {**settings, **block})
    if not settings.get("blocks"):
        _check_methods(str(path), settings)
    decay = settings.get("weight_decay")
    if isinstance(decay, dict):  # a value per dataset family: every task of the grid needs its family's
        families = {t.partition(":")[0] for part in grid_blocks(settings) for t in grid_tasks(part)}
        if families - set(decay):
            raise SrLoraError(f"{path}: weight_decay has no value for {', '.join(sorted(families - set(decay)))}: "
                              f"add it to the table (it has {', '.join(decay) or 'none'})")  # fmt: skip
    return settings


def _check_methods(where: str, settings: dict) -> None:
    bad = sorted(set(settings.get("methods", [])) - set(METHODS))
    if bad or not settings.get("methods"):
        raise SrLoraError(f"{where}: methods {bad or '(none)'} unknown or missing; use some of {', '.join(METHODS)}")
    vary = settings.get("vary", {})
    unknown = sorted(set(vary) - set(SETTING_FIELDS))
    if unknown:
        raise SrLoraError(f"{where}: vary names {unknown}, which are not settings; use some of "
                          f"{', '.join(SETTING_FIELDS)}")  # fmt: skip
    for name, values in vary.items():
        for value in values:
            _check_types(f"{where}: vary.{name}", {name: value})
    for scaling in vary.get("scaling", [settings.get("scaling", "paper")]):
        if scaling not in SCALINGS:
            raise SrLoraError(f"{where}: scaling {scaling!r} unknown; use one of {', '.join(SCALINGS)}")


def grid_blocks(settings: dict) -> list[dict]:
    """The rectangles of a grid: each ``[[blocks]]`` entry over the top-level settings, or the settings alone."""
    top = {k: v for k, v in settings.items() if k != "blocks"}
    blocks = settings.get("blocks") or [{}]
    merged = []
    for block in blocks:
        part = {**top, **block}
        if "tasks" in block:
            part.pop("task", None)
        merged.append(part)
    return merged


def base_config(settings: dict, task: str | None = None, **changes) -> TrainConfig:
    """The :class:`~srlora_utils.training.config.TrainConfig` a grid's settings describe (before methods, seeds,
    shots and splits vary), for ``task`` (default: the grid's, or its first): the settings override the fields
    they name (:data:`~srlora_utils.training.config.SETTING_FIELDS`), ``changes`` override them in turn, and every
    other field keeps TrainConfig's default."""
    task = task or settings.get("task") or next(iter(settings["tasks"]))
    fields = {k: settings[k] for k in SETTING_FIELDS if k in settings}
    if isinstance(fields.get("weight_decay"), dict):  # per dataset family, as the official configs
        family, table = task.partition(":")[0], fields["weight_decay"]
        if family not in table:
            raise SrLoraError(f"weight_decay names no value for task {task!r}: add {family} = <number> to its table "
                              f"(it has {', '.join(table) or 'none'})")  # fmt: skip
        fields["weight_decay"] = table[family]
    if not task.startswith("medmnist:"):  # a grid's MedMNIST size holds for its MedMNIST tasks only
        fields.pop("medmnist_size", None)
    return TrainConfig(task=task, **{**fields, **changes})


def task_exps(settings: dict, task: str) -> list[int] | None:
    """The MedFMC splits a grid sweeps for ``task`` (default all five; None for tasks that draw splits by seed)."""
    return (settings.get("exps") or MEDFMC_EXPS) if task.startswith("medfmc:") else None


def example_task(settings: dict) -> FewShotTask:
    """The grid's task for its first shot count and seed (or MedFMC split), read as training reads it."""
    cfg = base_config(settings)
    exps = task_exps(settings, cfg.task)
    norm = resolve_normalization(cfg.normalize, cfg.backbone)
    exp = exps[0] if exps else None
    return load_task(cfg.task, settings["shots"][0], settings["seeds"][0], cfg.root, cfg.img_size, cfg.augment,
                     exp=exp, norm=norm, **task_options(cfg.task, cfg.medmnist_size))  # fmt: skip


def grid_tasks(settings: dict) -> dict[str, list[int]]:
    """Task -> shot counts of a grid (``task`` with ``shots``, or a ``tasks`` mapping)."""
    if "tasks" not in settings:
        return {settings["task"]: list(settings["shots"])}
    return {t: [k] if isinstance(k, int) else list(k) for t, k in settings["tasks"].items()}


def grid_configs(settings: dict) -> list[TrainConfig]:
    """Every run of a grid: per task, shots x MedFMC splits x methods x seeds (VTAB tasks use
    ``vtab_seeds`` when the grid has them); a grid with ``blocks`` is the union of its blocks, each run once."""
    configs, seen = [], set()
    for part in grid_blocks(settings):
        for task, shots in grid_tasks(part).items():
            seeds = part.get("vtab_seeds", part["seeds"]) if task.startswith("vtab:") else part["seeds"]
            for changes in vary_settings(part):
                base = base_config(part, task, **changes)
                for cfg in sweep_configs(base, part["methods"], seeds, shots, task_exps(part, task)):
                    key = config_key(cfg)
                    if key not in seen:
                        seen.add(key)
                        configs.append(cfg)
    return configs


def vary_settings(part: dict) -> list[dict]:
    """Every combination of a block's ``vary`` table (setting -> values), in the table's order: [{}] without one."""
    import itertools

    vary = part.get("vary") or {}
    return [dict(zip(vary, values)) for values in itertools.product(*vary.values())]


def grid_settings(grid: str, tiny: bool = False, **overrides) -> dict:
    """Settings of a grid: a ``.toml`` grid file (see this module's docstring) or a preset, ``domain:preset``
    (e.g. ``reproduction:paper``), at CI size when ``tiny`` (:data:`FIXTURE_OVERRIDES`), with non-None ``overrides``
    on top. ``shots`` applies to every task; ``seeds``
    replaces VTAB's seeds too."""
    if grid.endswith(".toml"):
        spec = read_grid(grid)
        try:
            base = grid_settings(spec["base"]) if "base" in spec else None
        except SrLoraError as err:
            raise SrLoraError(f"{grid}: base = {spec['base']!r}: {err}") from None
        settings = merge_grid(grid, spec, base)
    else:
        domain, sep, name = grid.partition(":")
        if not sep:
            raise SrLoraError(f"grid {grid!r} is neither a .toml grid file nor domain:preset (e.g. reproduction:paper)")
        settings = preset(domain, name)
    if tiny:
        settings.update(FIXTURE_OVERRIDES)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    shots = overrides.pop("shots", None)
    if shots is not None:
        if "tasks" in settings:
            settings["tasks"] = {t: list(shots) for t in settings["tasks"]}
        else:
            settings["shots"] = list(shots)
    if "seeds" in overrides:
        settings.pop("vtab_seeds", None)
    settings.update(overrides)
    # What CI size or the caller overrides holds in every block of a study too (a block's own seeds, epochs, ...).
    forced = set(overrides) | (set(FIXTURE_OVERRIDES) if tiny else set())
    if "seeds" in overrides:
        forced.add("vtab_seeds")
    blocks = []
    for block in settings.get("blocks", []):
        block = {k: v for k, v in block.items() if k not in forced}
        if shots is not None and "tasks" in block:
            block["tasks"] = {t: list(shots) for t in block["tasks"]}
        blocks.append(block)
    if blocks:
        settings["blocks"] = blocks
    return settings
