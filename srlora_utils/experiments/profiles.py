"""Run profiles of the training notebooks: ``offline`` (CI, stand-ins), ``tutorial`` (online, laptop), ``paper``.

The augmentation belongs to the profile: the official RandomResizedCrop (scale 0.08-1) suits 384 px scans and
photographs and destroys an 8x8 digit or a 48 px texture patch, so the offline and tutorial profiles use a mild
affine jitter and the paper profile the official recipe. The offline medical stand-in is ``textures`` (grey
texture patches, like histology patches): on scikit-learn's digits, raw-pixel nearest neighbours (86%) beat
every fine-tuned ViT-S/14 the CPU budget allows, so digits cannot show what fine-tuning does.
"""

from __future__ import annotations

from ..data.fewshot import FewShotTask
from ..data.medfmc import MEDFMC_EXPS as OFFICIAL_SPLITS
from ..data.tasks import load_task
from ..errors import SrLoraError
from ..models.backbones import PAPER_BACKBONE
from ..models.normalization import resolve_normalization
from ..training.config import SETTING_FIELDS, TrainConfig, config_key
from ..training.methods import METHODS
from .grids import grid_blocks, merge_grid, read_grid
from .sweeps import sweep_configs

#: The methods notebooks 03 and 04 train (notebook 05 compares all of :data:`~srlora_utils.training.methods.METHODS`).
CORE_METHODS = ["linear_probe", "full_ft", "lora", "srlora", "srlora_budget"]

_OFFLINE = dict(
    backbone=None,
    img_size=56,
    shots=[5],
    epochs=10,
    batch_size=4,
    weight_decay=0.05,
    root=None,
    augment="mild",
    normalize="backbone",
    exps=None,
    warmup_iters=10,
    methods=CORE_METHODS,
)
# The paper profile follows the official recipe, normalisation included. Its backbone is not verified to be the
# official checkpoint (see PAPER_BACKBONE and `srlora check-backbone`). (ImageNet mean/std, not the 0.5/0.5 the
# ViT-B/16 in21k weights were trained with): pass normalize="backbone" to correct it.
_PAPER = dict(
    backbone=PAPER_BACKBONE,
    img_size=384,
    epochs=20,
    batch_size=4,
    augment="official",
    normalize="official",
    root=None,
    exps=None,
    warmup_iters=20,
    workers=4,  # data-loading processes per run: keeps a GPU fed at 384 px (part of the run's config)
    methods=CORE_METHODS,
)
#: MedFMC's official few-shot splits, as the presets list them.
MEDFMC_EXPS = list(OFFICIAL_SPLITS)

# Roots: None reads each dataset from its folder under the data folder (srlora_utils.data.paths).
PROFILES: dict[str, dict[str, dict]] = {
    "medical": {
        "offline": {**_OFFLINE, "task": "textures", "seeds": [0, 1, 2]},
        "tutorial": {**_OFFLINE, "task": "medmnist:dermamnist", "img_size": 112, "shots": [5, 10], "seeds": [0, 1, 2]},
        # MedFMC: the official splits exp1-exp5 fix train and val; one initialisation seed per split.
        "paper": {**_PAPER, "task": "medfmc:chest", "shots": [1, 5, 10], "seeds": [0], "exps": MEDFMC_EXPS,
                  "weight_decay": 0.3},
    },
    "remote_sensing": {
        "offline": {**_OFFLINE, "task": "lfw", "seeds": [0, 1, 2]},
        "tutorial": {**_OFFLINE, "task": "eurosat", "img_size": 112, "shots": [5], "seeds": [0, 1, 2]},
        "paper": {**_PAPER, "task": "vtab:eurosat", "shots": [1], "seeds": [0, 1, 2, 3, 4], "weight_decay": 0.05},
    },
    # Notebook 05's baseline study starts from these (grids/baseline-study*.toml sets its epochs, seeds and blocks).
    "comparison": {
        "offline": {**_OFFLINE, "tasks": {"textures": 3, "lfw": 5}, "seeds": [0, 1, 2], "methods": list(METHODS)},
        "tutorial": {**_OFFLINE, "img_size": 112, "tasks": {"medmnist:dermamnist": 5, "eurosat": 5},
                     "seeds": [0, 1, 2], "methods": list(METHODS)},
        "paper": {**_PAPER, "tasks": {"medfmc:colon": 5, "vtab:eurosat": 1}, "seeds": [0, 1, 2, 3, 4],
                  "methods": list(METHODS), "weight_decay": 0.05},
    },
    # Notebook 06 and `srlora report`: the paper's full grid, per table (MedFMC: 3 tasks x 1/5/10 shots x exp1-5;
    # VTAB-1k 1-shot: the remote-sensing tasks, 5 seeds).
    "reproduction": {
        "paper": {**_PAPER, "tasks": {"medfmc:chest": [1, 5, 10], "medfmc:colon": [1, 5, 10],
                                      "medfmc:endo": [1, 5, 10], "vtab:eurosat": [1], "vtab:resisc45": [1]},
                  "seeds": [0], "exps": MEDFMC_EXPS, "vtab_seeds": [0, 1, 2, 3, 4],
                  "weight_decay": {"medfmc": 0.3, "vtab": 0.05}, "methods": ["lora", "srlora"]},
    },
}  # fmt: skip


#: What a CI run of a paper profile on synthetic fixtures overrides: the offline backbone at 28 px, one epoch,
#: two MedFMC splits and two seeds, so that every code path runs in seconds per run (the numbers mean nothing).
FIXTURE_OVERRIDES = dict(backbone="dinov2_vits14_imgfocus", img_size=28, epochs=1, exps=[1, 2], seeds=[0],
                         vtab_seeds=[0, 1], warmup_iters=2, workers=0)  # fmt: skip


def experiment_profile(domain: str, profile: str) -> dict:
    """Settings of a training notebook's profile (a copy: callers may override keys)."""
    if domain not in PROFILES or profile not in PROFILES[domain]:
        raise SrLoraError(f"unknown profile {profile!r} for {domain!r}: use offline, tutorial or paper")
    settings = PROFILES[domain][profile]
    return {**settings, "methods": list(settings["methods"])}


def notebook_settings(domain: str, profile: str, **overrides) -> dict:
    """A profile's settings with a notebook's parameters on top (a parameter left at None keeps the profile's)."""
    settings = experiment_profile(domain, profile)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def base_config(settings: dict, task: str | None = None, **changes) -> TrainConfig:
    """The :class:`~srlora_utils.training.config.TrainConfig` a profile's settings describe (before methods, seeds,
    shots and splits vary), for ``task`` (default: the profile's, or its first): the settings override the fields
    they name (:data:`~srlora_utils.training.config.SETTING_FIELDS`), ``changes`` override them in turn, and every
    other field keeps TrainConfig's default."""
    task = task or settings.get("task") or next(iter(settings["tasks"]))
    fields = {k: settings[k] for k in SETTING_FIELDS if k in settings}
    if isinstance(fields.get("weight_decay"), dict):  # per dataset family, as the official configs
        fields["weight_decay"] = fields["weight_decay"][task.partition(":")[0]]
    return TrainConfig(task=task, **{**fields, **changes})


def task_exps(settings: dict, task: str) -> list[int] | None:
    """The MedFMC splits a profile sweeps for ``task`` (default all five; None for tasks that draw splits by seed)."""
    return (settings.get("exps") or MEDFMC_EXPS) if task.startswith("medfmc:") else None


def example_task(settings: dict) -> FewShotTask:
    """The profile's task for its first shot count and seed (or MedFMC split), read as training reads it."""
    cfg = base_config(settings)
    exps = task_exps(settings, cfg.task)
    norm = resolve_normalization(cfg.normalize, cfg.backbone)
    exp = exps[0] if exps else None
    return load_task(cfg.task, settings["shots"][0], settings["seeds"][0], cfg.root, cfg.img_size, cfg.augment,
                     exp=exp, norm=norm)  # fmt: skip


def profile_tasks(settings: dict) -> dict[str, list[int]]:
    """Task -> shot counts of a profile (``task`` with ``shots``, or a ``tasks`` mapping)."""
    if "tasks" not in settings:
        return {settings["task"]: list(settings["shots"])}
    return {t: [k] if isinstance(k, int) else list(k) for t, k in settings["tasks"].items()}


def profile_configs(settings: dict) -> list[TrainConfig]:
    """Every run of a profile's grid: per task, shots x MedFMC splits x methods x seeds (VTAB tasks use
    ``vtab_seeds`` when the profile has them); a grid with ``blocks`` is the union of its blocks, each run once."""
    configs, seen = [], set()
    for part in grid_blocks(settings):
        for task, shots in profile_tasks(part).items():
            seeds = part.get("vtab_seeds", part["seeds"]) if task.startswith("vtab:") else part["seeds"]
            for cfg in sweep_configs(base_config(part, task), part["methods"], seeds, shots, task_exps(part, task)):
                key = config_key(cfg)
                if key not in seen:
                    seen.add(key)
                    configs.append(cfg)
    return configs


def grid_settings(grid: str, tiny: bool = False, **overrides) -> dict:
    """Settings of a grid: a ``.toml`` grid file (:mod:`srlora_utils.experiments.grids`) or a built-in
    ``domain:profile``
    (e.g. ``reproduction:paper``), at CI size when ``tiny``
    (:data:`FIXTURE_OVERRIDES`), with non-None ``overrides`` on top. ``shots`` applies to every task; ``seeds``
    replaces VTAB's seeds too."""
    if grid.endswith(".toml"):
        spec = read_grid(grid)
        settings = merge_grid(grid, spec, grid_settings(spec["base"]) if "base" in spec else None)
    else:
        domain, sep, profile = grid.partition(":")
        if not sep:
            raise SrLoraError(
                f"grid {grid!r} is neither a .toml grid file nor domain:profile (e.g. reproduction:paper)"
            )
        settings = experiment_profile(domain, profile)
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
