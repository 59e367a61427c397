"""What one run is: :class:`TrainConfig`, the single source of the kit's training defaults, and the run's key.

Presets, grid files and the command line's ``srlora train`` options are all written as overrides of these fields
(``srlora_utils.experiments.grids``, ``srlora_utils.cli``), so no default is written twice. This module imports no
torch, so the command line can build its options without it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..checks import check_run_values
from ..errors import SrLoraError
from .records import run_key


@dataclass
class TrainConfig:
    """Everything that defines one run; :data:`FIELD_HELP` says what each field means."""

    task: str = "digits"
    method: str = "srlora"
    shots: int = 5
    seed: int = 0
    exp: int | None = None
    backbone: str | None = None
    img_size: int = 56
    medmnist_size: int = 28
    augment: str = "official"
    normalize: str = "backbone"
    epochs: int = 20
    batch_size: int = 4
    lr: float | None = None
    weight_decay: float = 0.05
    warmup_iters: int = 20
    grad_clip: float = 1.0
    r: int = 8
    scaling: str = "paper"
    peers: str = "study"
    eva_whiten: bool = False
    select_after_warmup: bool = False
    eval_rank: str = "full"
    root: str | None = None
    workers: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        """Refuse a wrong type or range at once, in one line (:mod:`srlora_utils.checks`): a notebook, the Python API
        and the command line get the same message before any work."""
        check_run_values({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def resolved_lr(self) -> float:
        """The learning rate: ``lr``, or the method's official one when ``lr`` is None."""
        from .methods import get_spec  # the method table builds models: imported only when needed

        return self.lr if self.lr is not None else get_spec(self.method).lr


#: What each field of :class:`TrainConfig` means (the command line's help text, and the grid keys' descriptions).
FIELD_HELP = {
    "task": "digits | lfw | textures | vtab:<task> | medfmc:<task> | medmnist:<flag> | eurosat | imagefolder",
    "method": "fine-tuning method (the method table: srlora_utils.training.methods)",
    "shots": "K examples per class in the training split, and again (disjoint) in the validation split",
    "seed": "draws the splits (except MedFMC's), the initialisation and the data order",
    "exp": "MedFMC's official split (1-5): required for MedFMC tasks, refused for others",
    "backbone": "timm name, checkpoint path, or None for the offline DINOv2 ViT-S/14",
    "img_size": "side in px of the images the network sees",
    "medmnist_size": "side in px of the MedMNIST+ archive read (28, 64, 128 or 224; then resized to img_size): "
    "medmnist tasks only",
    "augment": "training augmentation: official (RandomResizedCrop + flip), mild or none",
    "normalize": "input mean/std: the backbone's own (backbone) or the official recipe's ImageNet ones (official)",
    "epochs": "epochs per run",
    "batch_size": "batch size",
    "lr": "learning rate (None: the method's official one)",
    "weight_decay": "AdamW weight decay",
    "warmup_iters": "linear warm-up steps before the cosine schedule",
    "grad_clip": "gradient norm clip (0: none)",
    "r": "LoRA's uniform rank, and the reference of the budget rule",
    "scaling": "LoRA update scale: paper (1/r, the official code's), rslora (1/sqrt(r)) or unit (1: lora_alpha = r, "
    "PiSSA's authors' setting)",
    "peers": "how AdaLoRA and EVA are set up: study (as the registered baseline study ran them) or authors (as their "
    "authors and PEFT recommend: docs/peers.md)",
    "eva_whiten": "EVA: whiten the initial singular vectors (PEFT's EvaConfig.whiten); eva only",
    "select_after_warmup": "the best epoch is chosen only among epochs that end after the warm-up",
    "eval_rank": "nested methods: full, or random (a random rank at evaluation, as the official code)",
    "root": "dataset folder; relative ones are read under the data folder ($SRLORA_DATA or the repository's data/)",
    "workers": "data-loading processes per run (part of the run: augmentations differ between settings)",
    "device": "auto (CUDA when available), cpu, cuda, cuda:1, ...: where the run executes, not part of its key",
}
#: The fields that name one run of a grid; the others are settings a preset or a grid file may override.
RUN_FIELDS = ("task", "method", "shots", "seed", "exp")
SETTING_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in RUN_FIELDS)
#: Config fields that say where a run executes, not what it is: they do not enter its key.
EXECUTION_FIELDS = ("device",)
#: Fields that configs had once, with the only value they ever held: they still enter every key, so records
#: written before their removal keep their keys (and count as done), and they are dropped when a record is read.
LEGACY_FIELDS: dict[str, object] = {"extra": {}}
#: Fields added after records were written, with their defaults: at its default such a field stays out of the key, so
#: a run whose config never set it keeps the key it had before the field existed.
ADDED_FIELDS: dict[str, object] = {
    "medmnist_size": 28,
    "peers": "study",
    "eva_whiten": False,
    "select_after_warmup": False,
}


def config_key(cfg: TrainConfig) -> str:
    """The run's key in records: its whole config except :data:`EXECUTION_FIELDS` (a run done on one GPU counts as
    done on any other), with :data:`LEGACY_FIELDS` at their old values and :data:`ADDED_FIELDS` left out at their
    defaults (keys do not change when a field goes or comes)."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items()
              if k not in EXECUTION_FIELDS and not (k in ADDED_FIELDS and v == ADDED_FIELDS[k])}  # fmt: skip
    return run_key({**LEGACY_FIELDS, **fields})


def upgrade_config(config: dict) -> dict:
    """A record's ``config`` in today's fields: legacy fields dropped (one-line error if one holds a value this
    version cannot honour), missing fields at today's defaults."""
    out = dict(config)
    for name, value in LEGACY_FIELDS.items():
        if name in out and out.pop(name) != value:
            raise SrLoraError(f"a record's config sets {name}={config[name]!r}, which this version no longer reads")
    unknown = set(out) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise SrLoraError(f"a record's config has fields {sorted(unknown)} that TrainConfig does not know")
    return dataclasses.asdict(TrainConfig(**out))
