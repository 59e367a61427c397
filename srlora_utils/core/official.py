"""The ranks shipped with the official SR-LoRA code for ViT-B/16, and the official rule's own arithmetic."""

from __future__ import annotations

import pandas as pd

from .spectral import official_stable_rank

#: [qkv, proj] rank per block shipped in the official configs for ViT-B/16 (ImageNet-21k, 384 px).
OFFICIAL_VITB16_RANKS: list[list[int]] = [
    [9, 10], [25, 35], [44, 54], [69, 78], [78, 86], [85, 94],
    [106, 69], [102, 53], [105, 21], [116, 73], [99, 85], [78, 42],
]  # fmt: skip
OFFICIAL_VITB16_WIDTH = 768


def official_vitb16_ranks() -> dict[str, int]:
    """The official ViT-B/16 ranks as a rank dict on timm module names (Q and V share the qkv rank)."""
    ranks: dict[str, int] = {}
    for block, (r_qkv, r_proj) in enumerate(OFFICIAL_VITB16_RANKS):
        ranks[f"blocks.{block}.attn.qkv.q"] = r_qkv
        ranks[f"blocks.{block}.attn.qkv.v"] = r_qkv
        ranks[f"blocks.{block}.attn.proj"] = r_proj
    return ranks


def official_vitb16_shapes() -> pd.DataFrame:
    """Shapes of the matrices the official code adapts on ViT-B/16 (all 768 x 768), as a profile-like table."""
    ranks = official_vitb16_ranks()
    d = OFFICIAL_VITB16_WIDTH
    return pd.DataFrame(
        {
            "module": list(ranks),
            "block": [int(m.split(".")[1]) for m in ranks],
            "kind": [m.rsplit(".", 1)[1] for m in ranks],
            "d_out": d,
            "d_in": d,
            "stable_rank": [float(r) for r in ranks.values()],  # the shipped ranks are round(srank)
        }
    )


def official_rule_ranks(model) -> list[list[int]]:
    """``[qkv, proj]`` rank per block of a timm ViT by the official script's arithmetic (float32 singular values,
    float32 sums, ``round`` half to even), the form of :data:`OFFICIAL_VITB16_RANKS`."""
    return [[round(official_stable_rank(b.attn.qkv.weight)), round(official_stable_rank(b.attn.proj.weight))]
            for b in model.blocks]  # fmt: skip
