"""Run profiles of the training notebooks: ``offline`` (CI, stand-ins), ``tutorial`` (online, laptop), ``paper``."""

from __future__ import annotations

from .backbones import PAPER_BACKBONE
from .errors import SrLoraError
from .methods import METHODS

_OFFLINE = dict(backbone=None, img_size=42, shots=[5], epochs=10, batch_size=4, weight_decay=0.05, root=None)
_PAPER = dict(backbone=PAPER_BACKBONE, img_size=384, epochs=20, batch_size=4)

PROFILES: dict[str, dict[str, dict]] = {
    "medical": {
        "offline": {**_OFFLINE, "task": "digits", "seeds": [0, 1]},
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
}  # fmt: skip


def experiment_profile(domain: str, profile: str) -> dict:
    """Settings of a training notebook's profile (a copy: callers may override keys)."""
    if domain not in PROFILES or profile not in PROFILES[domain]:
        raise SrLoraError(f"unknown profile {profile!r} for {domain!r}: use offline, tutorial or paper")
    return {**PROFILES[domain][profile], "methods": list(METHODS)}
