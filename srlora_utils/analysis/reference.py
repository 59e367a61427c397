"""What the authors published beside the official ranks: their committed results (MedFMC, VTAB-1k) for the
report, and the check of which timm checkpoint is the official ViT-B/16 (the ranks themselves:
:mod:`srlora_utils.core.official`)."""

from __future__ import annotations

from ..core.official import OFFICIAL_VITB16_RANKS, official_rule_ranks

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
    from ..models.backbones import load_backbone

    ranks = official_rule_ranks(load_backbone(name))
    diffs = sum(a != b for row, ref in zip(ranks, OFFICIAL_VITB16_RANKS) for a, b in zip(row, ref))
    return {"backbone": name, "ranks": ranks, "differences": diffs, "reproduces": diffs == 0}
