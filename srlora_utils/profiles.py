"""Run profiles of the training notebooks: ``offline`` (CI, stand-ins), ``tutorial`` (online, laptop), ``paper``.

The augmentation belongs to the profile: the official RandomResizedCrop (scale 0.08-1) suits 384 px scans and
photographs and destroys an 8x8 digit or a 48 px texture patch, so the offline and tutorial profiles use a mild
affine jitter and the paper profile the official recipe. The offline medical stand-in is ``textures`` (grey
texture patches, like histology patches): on scikit-learn's digits, raw-pixel nearest neighbours (86%) beat
every fine-tuned ViT-S/14 the CPU budget allows, so digits cannot show what fine-tuning does.
"""

from __future__ import annotations

from .backbones import PAPER_BACKBONE
from .errors import SrLoraError
from .methods import METHODS

#: The methods notebooks 03 and 04 train (notebook 05 compares all of :data:`~srlora_utils.methods.METHODS`).
CORE_METHODS = ["linear_probe", "full_ft", "lora", "srlora", "srlora_budget"]

_OFFLINE = dict(backbone=None, img_size=56, shots=[5], epochs=10, batch_size=4, weight_decay=0.05, root=None,
                augment="mild", methods=CORE_METHODS)
_PAPER = dict(backbone=PAPER_BACKBONE, img_size=384, epochs=20, batch_size=4, augment="official", methods=CORE_METHODS)

PROFILES: dict[str, dict[str, dict]] = {
    "medical": {
        "offline": {**_OFFLINE, "task": "textures", "seeds": [0, 1, 2]},
        "tutorial": {**_OFFLINE, "task": "medmnist:dermamnist", "img_size": 112, "shots": [5, 10], "seeds": [0, 1, 2],
                     "root": "data/medmnist"},
        "paper": {**_PAPER, "task": "medfmc:chest", "shots": [1, 5, 10], "seeds": [1, 2, 3, 4, 5], "weight_decay": 0.3,
                  "root": "data/MedFMC"},
    },
    "remote_sensing": {
        "offline": {**_OFFLINE, "task": "lfw", "seeds": [0, 1, 2]},
        "tutorial": {**_OFFLINE, "task": "eurosat", "img_size": 112, "shots": [5], "seeds": [0, 1, 2], "root": "data"},
        "paper": {**_PAPER, "task": "vtab:eurosat", "shots": [1], "seeds": [0, 1, 2, 3, 4], "weight_decay": 0.05,
                  "root": "data/VTAB-1k"},
    },
    # Notebook 05: every method on both stand-ins, 3 seeds. Offline, 3-shot textures and 7 epochs keep the 75 runs
    # within 10 minutes on 2 CPU cores (a 5-shot textures run takes about 16 s, too much for 36 of them).
    "comparison": {
        "offline": {**_OFFLINE, "tasks": {"textures": 3, "lfw": 5}, "epochs": 7, "seeds": [0, 1, 2],
                    "methods": list(METHODS), "scaling_task": "lfw"},
        "tutorial": {**_OFFLINE, "img_size": 112, "tasks": {"medmnist:dermamnist": 5, "eurosat": 5},
                     "seeds": [0, 1, 2], "methods": list(METHODS), "root": "data", "scaling_task": "eurosat"},
        "paper": {**_PAPER, "tasks": {"medfmc:colon": 5, "vtab:eurosat": 1}, "seeds": [0, 1, 2, 3, 4],
                  "methods": list(METHODS), "root": "data", "scaling_task": "medfmc:colon"},
    },
}  # fmt: skip


def experiment_profile(domain: str, profile: str) -> dict:
    """Settings of a training notebook's profile (a copy: callers may override keys)."""
    if domain not in PROFILES or profile not in PROFILES[domain]:
        raise SrLoraError(f"unknown profile {profile!r} for {domain!r}: use offline, tutorial or paper")
    settings = PROFILES[domain][profile]
    return {**settings, "methods": list(settings["methods"])}
