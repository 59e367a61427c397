"""Backbones: the offline DINOv2 ViT-S/14, any timm model, or a local checkpoint, as timm models."""

from __future__ import annotations

import difflib
import os
import socket
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import torch
from torch import nn

from ..errors import BackboneUnavailableError, SrLoraError
from .offline_weights import OFFLINE_ARCH, OFFLINE_IMG_SIZE, offline_state_dict

#: Name of the offline default backbone (``load_backbone()`` with no name gives it).
OFFLINE_BACKBONE = "dinov2_vits14_imgfocus"
#: timm name of the backbone of the paper's main experiments (ViT-B/16, ImageNet-21k, 384 px). NOT VERIFIED: the
#: official weights are one of :data:`~srlora_utils.analysis.reference.OFFICIAL_BACKBONE_CANDIDATES` (this one or
#: ``orig_in21k_ft_in1k``), and only their matrices can tell which (without a network, they cannot be had here).
#: ``srlora check-backbone`` with a network settles it in one command; a test checks it whenever the weights are
#: in the local cache.
PAPER_BACKBONE = "vit_base_patch16_384.augreg_in21k_ft_in1k"


def _hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub answers a TCP connect (no request is sent)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _cached_hub_file(name: str) -> str | None:
    """Local path of a timm model's pretrained file in the Hugging Face cache, if already downloaded."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(name)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        return None
    for filename in (
        "model.safetensors",
        "open_clip_model.safetensors",
        "pytorch_model.bin",
        "open_clip_pytorch_model.bin",
    ):
        hit = try_to_load_from_cache(repo, filename)
        if isinstance(hit, str):
            return hit
    return None


def _load_filtered(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Load ``state_dict`` into ``model`` (resampling position embeddings); only the head may be missing."""
    import timm

    filt = timm.models.vision_transformer.checkpoint_filter_fn if hasattr(model, "pos_embed") else None
    if filt is not None:
        state_dict = filt(state_dict, cast(Any, model))
    head_keys = {k for k in state_dict if k.startswith("head.")}
    model_head = {k: v.shape for k, v in model.state_dict().items() if k.startswith("head.")}
    if any(k not in model_head or state_dict[k].shape != model_head[k] for k in head_keys):
        state_dict = {k: v for k, v in state_dict.items() if k not in head_keys}  # new task: keep the fresh head
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    bad_missing = [k for k in missing if not k.startswith("head.")]
    if bad_missing or unexpected:
        raise SrLoraError(
            f"weights from {source} do not fit {type(model).__name__}: missing {bad_missing[:3]}, unexpected "
            f"{list(unexpected)[:3]}; pass the matching timm architecture with arch=..."
        )
    return model


def _read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            return {k: fh.get_tensor(k) for k in fh.keys()}, meta
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise SrLoraError(f"{path} holds no state dict: save it with torch.save(model.state_dict(), path)")
    return obj, {}


def load_backbone(
    name: str | os.PathLike | None = None,
    num_classes: int = 0,
    img_size: int | None = None,
    pretrained: bool = True,
    arch: str | None = None,
    seed: int | None = None,
) -> nn.Module:
    """A timm backbone with a fresh ``num_classes`` head (0: features only).

    ``name``: None or ``"dinov2_vits14_imgfocus"`` for the offline DINOv2 ViT-S/14; a timm model
    name (pretrained weights from the Hugging Face cache or hub); or a local checkpoint path
    (``arch`` names its timm architecture unless the file's metadata does). ``pretrained=False``
    gives the same architecture with random weights (a "random twin"). ``seed`` fixes the random
    initialisation (head, or the whole twin) without touching the global random state. ``img_size``: input side
    in px (None: the model's; position embeddings are resampled for another size).
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return load_backbone(name, num_classes, img_size, pretrained, arch, seed=None)
    import timm  # imported here: it pulls in torchvision, which the command line's --help does not need

    kwargs: dict = {"num_classes": num_classes}
    if img_size is not None:
        kwargs["img_size"] = img_size
    if name is None or str(name) == OFFLINE_BACKBONE:
        kwargs.setdefault("img_size", OFFLINE_IMG_SIZE)
        model = timm.create_model(OFFLINE_ARCH, pretrained=False, **kwargs)
        if pretrained:
            sd, cached = offline_state_dict()
            _load_filtered(model, sd, str(cached))
        return model.eval()
    path = Path(name)
    if path.suffix in (".safetensors", ".pth", ".pt", ".bin") or path.is_file():
        if not path.is_file():
            raise SrLoraError(f"checkpoint {path} does not exist: check the path")
        sd, meta = _read_checkpoint(path)
        arch = arch or meta.get("architecture")
        if arch is None:
            raise SrLoraError(f"cannot tell the architecture of {path}: pass arch='<timm model name>'")
        model = load_backbone(arch, num_classes=num_classes, img_size=img_size, pretrained=False)
        return _load_filtered(model, sd, str(path)).eval()
    name = str(name)
    base = name.split(".")[0]
    if not timm.is_model(base):
        close = difflib.get_close_matches(base, timm.list_models(), n=3)
        raise BackboneUnavailableError(
            f"unknown backbone {name!r}: use a timm model name (e.g. {', '.join(close) or 'vit_base_patch16_384'}), "
            f"a checkpoint path, or None for the offline default {OFFLINE_BACKBONE!r}"
        )
    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs).eval()
    hub_file = _cached_hub_file(name)
    if hub_file is not None:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": hub_file}, **kwargs).eval()
    if not _hub_reachable():
        raise BackboneUnavailableError(
            f"pretrained weights for {name!r} are not cached and the Hugging Face hub cannot be reached: "
            f"connect once to download them, pass a local checkpoint path, or use the offline default "
            f"{OFFLINE_BACKBONE!r} (load_backbone() with no name)"
        )
    try:
        return timm.create_model(name, pretrained=True, **kwargs).eval()
    except (OSError, RuntimeError) as err:
        raise BackboneUnavailableError(
            f"could not fetch pretrained weights for {name!r}: {err}".splitlines()[0]
        ) from err
