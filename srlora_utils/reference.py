"""Numbers published with the official SR-LoRA code (see shared reference notes), for comparison."""

from __future__ import annotations

import pandas as pd

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


#: SR-LoRA (ViT-B/16) on MedFMC as the authors committed it (later deleted): split exp1 only, model selected on
#: the few-shot validation split, tested on the labelled official validation set. {shots: {task: {metric: %}}}.
AUTHORS_MEDFMC: dict[int, dict[str, dict[str, float]]] = {
    1: {"chest": {"mAP": 13.26, "AUC": 56.09}, "colon": {"accuracy": 78.71, "AUC": 82.64},
        "endo": {"mAP": 18.96, "AUC": 66.41}},
    5: {"chest": {"mAP": 15.97, "AUC": 65.25}, "colon": {"accuracy": 89.09, "AUC": 96.64},
        "endo": {"mAP": 19.94, "AUC": 66.64}},
    10: {"chest": {"mAP": 17.78, "AUC": 67.54}, "colon": {"accuracy": 86.66, "AUC": 94.67},
         "endo": {"mAP": 24.30, "AUC": 71.78}},
}  # fmt: skip
#: SR-LoRA (ViT-B/16) on VTAB-1k, 1-shot, mean of 5 splits, as committed by the authors: the best *test-set* epoch
#: of each run (model selection on the test set). Keys are VTAB-1k folder names.
AUTHORS_VTAB_1SHOT: dict[str, float] = {
    "caltech101": 73.59, "cifar": 20.19, "dtd": 35.34, "oxford_flowers102": 94.16, "oxford_iiit_pet": 69.25,
    "sun397": 31.27, "svhn": 12.60, "patch_camelyon": 64.21, "eurosat": 49.81, "resisc45": 37.51,
    "diabetic_retinopathy": 73.59,
}  # fmt: skip
#: Other folder names the same VTAB-1k tasks go by.
VTAB_ALIASES = {"cifar100": "cifar", "flowers102": "oxford_flowers102", "pets": "oxford_iiit_pet",
                "camelyon": "patch_camelyon", "retinopathy": "diabetic_retinopathy"}  # fmt: skip


#: The timm checkpoints that could be the official ViT-B/16. mmcls's
#: ``vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-98e8652b`` was converted from Google's release;
#: which of Google's two in21k -> in1k fine-tunes it is, only the weights can tell (see
#: :func:`check_official_backbone`).
OFFICIAL_BACKBONE_CANDIDATES: tuple[str, ...] = (
    "vit_base_patch16_384.orig_in21k_ft_in1k",
    "vit_base_patch16_384.augreg_in21k_ft_in1k",
)


def official_rule_ranks(model) -> list[list[int]]:
    """``[qkv, proj]`` rank per block of a timm ViT by the official script's arithmetic (float32 singular values,
    float32 sums, ``round`` half to even), the form of :data:`OFFICIAL_VITB16_RANKS`."""
    from .spectral import official_stable_rank

    return [[round(official_stable_rank(b.attn.qkv.weight)), round(official_stable_rank(b.attn.proj.weight))]
            for b in model.blocks]  # fmt: skip


def weights_in_cache(name: str) -> bool:
    """Whether the Hugging Face cache holds the timm checkpoint ``name`` (no download is attempted)."""
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(f"timm/{name}", filename)
        if isinstance(found, str):
            return True
    return False


def check_official_backbone(name: str) -> dict:
    """Recompute the official rule on the timm checkpoint ``name`` (downloaded when online and not cached) and
    compare with the shipped rank list: ``{"backbone", "ranks", "differences", "reproduces"}``."""
    from .backbones import load_backbone

    ranks = official_rule_ranks(load_backbone(name))
    diffs = sum(a != b for row, ref in zip(ranks, OFFICIAL_VITB16_RANKS) for a, b in zip(row, ref))
    return {"backbone": name, "ranks": ranks, "differences": diffs, "reproduces": diffs == 0}
