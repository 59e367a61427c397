"""Presets: named sets of training settings, written as overrides of :class:`~srlora_utils.training.config.TrainConfig`
(``offline``: CI and stand-ins; ``tutorial``: online, a laptop; ``paper``: the paper's recipe), per domain.

The augmentation belongs to the preset: the official RandomResizedCrop (scale 0.08-1) suits 384 px scans and
photographs and destroys an 8x8 digit or a 48 px texture patch, so the offline and tutorial presets use a mild
affine jitter and the paper preset the official recipe. The offline medical stand-in is ``textures`` (grey
texture patches, like histology patches): on scikit-learn's digits, raw-pixel nearest neighbours (86%) beat
every fine-tuned ViT-S/14 the CPU budget allows, so digits cannot show what fine-tuning does.

The tutorial preset reads MedMNIST+ at 64 px (``medmnist_size``, :data:`TUTORIAL_MEDMNIST_SIZE`): the network sees
112 px, and the 28 px archive would be blown up four times, from thumbnails that lose a skin lesion's border and
texture. 64 px carries five times the pixels of 28 px; 128 px (closer to 112) has four times the pixels of 64 px to
download and to hold in memory on a laptop, for detail the 112 px input mostly keeps. ``medmnist_size=128`` or ``224``
is one override away (a grid key, ``srlora train --medmnist-size``)."""

from __future__ import annotations

from ..data.medfmc import MEDFMC_EXPS as OFFICIAL_SPLITS
from ..errors import SrLoraError
from ..models.backbones import PAPER_BACKBONE
from ..training.methods import COMPARED_METHODS

#: The MedMNIST+ archive the tutorial preset reads (px; see the module's docstring).
TUTORIAL_MEDMNIST_SIZE = 64
#: The methods notebooks 03 and 04 train (notebook 05 compares all of
#: :data:`~srlora_utils.training.methods.COMPARED_METHODS`).
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
# The paper preset follows the official recipe, normalisation included. Its backbone is not verified to be the
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
PRESETS: dict[str, dict[str, dict]] = {
    "medical": {
        "offline": {**_OFFLINE, "task": "textures", "seeds": [0, 1, 2]},
        "tutorial": {**_OFFLINE, "task": "medmnist:dermamnist", "img_size": 112, "shots": [5, 10], "seeds": [0, 1, 2],
                     "medmnist_size": TUTORIAL_MEDMNIST_SIZE},
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
        "offline": {**_OFFLINE, "tasks": {"textures": 3, "lfw": 5}, "seeds": [0, 1, 2],
                    "methods": list(COMPARED_METHODS)},
        "tutorial": {**_OFFLINE, "img_size": 112, "medmnist_size": TUTORIAL_MEDMNIST_SIZE,
                     "tasks": {"medmnist:dermamnist": 5, "eurosat": 5},
                     "seeds": [0, 1, 2], "methods": list(COMPARED_METHODS)},
        "paper": {**_PAPER, "tasks": {"medfmc:colon": 5, "vtab:eurosat": 1}, "seeds": [0, 1, 2, 3, 4],
                  "methods": list(COMPARED_METHODS), "weight_decay": 0.05},
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


#: What a CI run of a paper preset on synthetic fixtures overrides: the offline backbone at 28 px, one epoch,
#: two MedFMC splits and two seeds, so that every code path runs in seconds per run (the numbers mean nothing).
FIXTURE_OVERRIDES = dict(backbone="dinov2_vits14_imgfocus", img_size=28, epochs=1, exps=[1, 2], seeds=[0],
                         vtab_seeds=[0, 1], warmup_iters=2, workers=0)  # fmt: skip


def preset(domain: str, name: str) -> dict:
    """The settings of preset ``name`` (offline, tutorial or paper) for ``domain`` (a copy: callers may override
    keys)."""
    if domain not in PRESETS or name not in PRESETS[domain]:
        known = ", ".join(f"{d}:{n}" for d, names in PRESETS.items() for n in names)
        raise SrLoraError(f"unknown preset {domain}:{name}: use one of {known}")
    settings = PRESETS[domain][name]
    return {**settings, "methods": list(settings["methods"])}


def notebook_settings(domain: str, name: str, **overrides) -> dict:
    """Preset ``name``'s settings for ``domain`` with a notebook's parameters on top (a parameter left at None keeps
    the preset's)."""
    settings = preset(domain, name)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings
