"""Fine-tuning methods as models with the right trainable parameters: linear probe, full FT, LoRA, SR-LoRA."""

from __future__ import annotations

from torch import nn

from .allocation import allocate_ranks, lora_parameter_count
from .errors import SrLoraError
from .peft_config import srlora_config
from .profile import spectral_profile
from .qkv import split_qkv

METHODS = ("linear_probe", "full_ft", "lora", "srlora", "srlora_budget")
#: Learning rates of the official code: 1e-3 for LoRA-type methods and the linear probe, 2e-5 for full FT.
DEFAULT_LR = {"linear_probe": 1e-3, "full_ft": 2e-5, "lora": 1e-3, "srlora": 1e-3, "srlora_budget": 1e-3}


def method_ranks(model: nn.Module, method: str, r: int = 8) -> dict[str, int]:
    """Rank dict of a LoRA-type method on the official target (Q, V, proj); the model must be split."""
    profile = spectral_profile(model, "official")
    rule = {"lora": "uniform", "srlora": "paper", "srlora_budget": "budget"}[method]
    return allocate_ranks(profile, rule, r=r)


def prepare_model(backbone: nn.Module, method: str, r: int = 8) -> tuple[nn.Module, dict]:
    """Wrap ``backbone`` (with its classifier ``head``) for ``method``; returns the model and facts about it.

    ``lora`` is uniform rank ``r``; ``srlora`` the paper rule; ``srlora_budget`` the budget rule at
    LoRA r's parameter count; all three on Q, V and proj with ``lora_alpha = 1`` (the official scaling).
    """
    if method not in METHODS:
        raise SrLoraError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    info: dict = {"method": method}
    if method in ("linear_probe", "full_ft"):
        for name, p in backbone.named_parameters():
            p.requires_grad_(method == "full_ft" or name.startswith("head."))
        model = backbone
    else:
        import peft

        split_qkv(backbone)
        ranks = method_ranks(backbone, method, r)
        info["ranks"] = ranks
        info["lora_params"] = lora_parameter_count(ranks, backbone)
        model = peft.get_peft_model(backbone, srlora_config(ranks))
    info["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return model, info
