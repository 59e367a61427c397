"""Input normalisation: the backbone's own pretrained statistics by default, or the official recipe's by name.

timm records the mean and std each set of pretrained weights was trained with (its pretrained config): DINOv2
and most ImageNet-1k models use ImageNet's statistics, while Google's ViT-B/16 in21k weights (both ``augreg`` and
``orig``) use mean = std = 0.5. The official SR-LoRA code normalises every backbone with ImageNet's statistics
(mmcls ``img_norm_cfg``), a mismatch for its own ViT-B/16; ``normalize="official"`` reproduces it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from ..errors import SrLoraError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: ``backbone``: the statistics of the backbone's pretrained weights (timm's data config). ``official``: ImageNet
#: mean/std whatever the backbone, as the official recipe. ``imagenet``: the same numbers, named as what they are.
NORMALIZATIONS: tuple[str, ...] = ("backbone", "official", "imagenet")


@dataclass(frozen=True)
class Normalization:
    """Mean and std per RGB channel (0-1 scale), the name asked for and where the numbers come from."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str

    def as_dict(self) -> dict:
        """As stored in records (JSON: lists, not tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _pretrained_cfg(backbone: str | None):
    import timm

    from .backbones import OFFLINE_BACKBONE
    from .offline_weights import OFFLINE_ARCH

    name = OFFLINE_ARCH if backbone is None or backbone == OFFLINE_BACKBONE else backbone
    cfg = timm.models.get_pretrained_cfg(name) if timm.is_model(name.split(".")[0]) else None
    if cfg is None:
        raise SrLoraError(
            f"cannot tell which normalisation backbone {backbone!r} was pretrained with: use a timm model name, "
            "or pass normalize='imagenet' (or the official recipe's 'official') explicitly"
        )
    return name, cfg


def resolve_normalization(name: str, backbone: str | None) -> Normalization:
    """The mean/std that ``name`` (see :data:`NORMALIZATIONS`) means for ``backbone`` (None: the offline one)."""
    if name not in NORMALIZATIONS:
        raise SrLoraError(f"unknown normalize {name!r}: use one of {', '.join(NORMALIZATIONS)}")
    if name == "official":
        return Normalization(name, IMAGENET_MEAN, IMAGENET_STD, "official SR-LoRA recipe: ImageNet mean/std (mmcls)")
    if name == "imagenet":
        return Normalization(name, IMAGENET_MEAN, IMAGENET_STD, "ImageNet mean/std")
    if backbone is not None and Path(str(backbone)).suffix in (".safetensors", ".pth", ".pt", ".bin"):
        raise SrLoraError(
            f"a checkpoint file ({backbone}) does not say which normalisation it was trained with: "
            "pass normalize='imagenet' or 'official'"
        )
    _, cfg = _pretrained_cfg(backbone)
    mean = cast(tuple[float, float, float], tuple(float(v) for v in cfg.mean))
    std = cast(tuple[float, float, float], tuple(float(v) for v in cfg.std))
    return Normalization(name, mean, std, f"timm pretrained config of {cfg.architecture}.{cfg.tag}")
