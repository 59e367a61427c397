"""Split timm's fused ``attn.qkv`` Linear into q, k and v Linear layers, so PEFT can adapt Q and V alone."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SrLoraError


class SplitQKV(nn.Module):
    """Three Linear layers ``q``, ``k``, ``v`` that together compute what one fused qkv Linear did."""

    def __init__(self, fused: nn.Linear) -> None:
        super().__init__()
        if fused.out_features % 3:
            raise SrLoraError(f"a fused qkv layer needs 3*d outputs, got {fused.out_features}")
        d = fused.out_features // 3
        has_bias = fused.bias is not None
        kw = {"device": fused.weight.device, "dtype": fused.weight.dtype}
        self.q, self.k, self.v = (nn.Linear(fused.in_features, d, bias=has_bias, **kw) for _ in range(3))
        with torch.no_grad():
            for i, part in enumerate((self.q, self.k, self.v)):
                part.weight.copy_(fused.weight[i * d : (i + 1) * d])
                if has_bias:
                    part.bias.copy_(fused.bias[i * d : (i + 1) * d])
                part.weight.requires_grad_(fused.weight.requires_grad)

    @property
    def weight(self) -> torch.Tensor:
        """The fused (3d, d_in) weight, rebuilt from q, k, v (what the official code measures)."""
        return torch.cat([self.q.weight, self.k.weight, self.v.weight], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.q(x), self.k(x), self.v(x)], dim=-1)


def split_qkv(model: nn.Module) -> nn.Module:
    """Replace every fused ``*.attn.qkv`` Linear of ``model`` (in place) by a :class:`SplitQKV`; returns ``model``.

    The new layers are named ``<...>.attn.qkv.q``, ``.k`` and ``.v``. Calling it twice is harmless.
    """
    targets = [
        (name, mod) for name, mod in model.named_modules() if name.endswith("attn.qkv") and isinstance(mod, nn.Linear)
    ]
    already = any(isinstance(m, SplitQKV) for m in model.modules())
    if not targets and not already:
        raise SrLoraError(
            f"{type(model).__name__} has no fused 'attn.qkv' Linear layers to split: "
            "split_qkv works on timm ViT/Swin-style models"
        )
    for name, fused in targets:
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, SplitQKV(fused))
    return model


def is_split(model: nn.Module) -> bool:
    """True when ``model`` holds :class:`SplitQKV` layers (``split_qkv`` was applied)."""
    return any(isinstance(m, SplitQKV) for m in model.modules())
