"""Per-matrix spectral profile of a backbone: which matrices SR-LoRA adapts and their stable ranks."""

from __future__ import annotations

import os
from typing import Literal, cast

import pandas as pd
import torch
from torch import nn

from ..errors import SrLoraError
from .checkpoint import checkpoint_profile
from .qkv import SplitQKV, is_split
from .spectral import PROFILE_COLUMNS, Estimator, marchenko_pastur_stable_rank, measure_matrix

Target = Literal["official", "qv_separate", "qkv", "all_linear"]
TARGETS: tuple[str, ...] = ("official", "qv_separate", "qkv", "all_linear")


def _weight(layer: nn.Module) -> torch.Tensor:
    return cast(torch.Tensor, layer.weight)


def _attention_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    layers: list[tuple[str, nn.Module]] = [
        (n, m) for n, m in model.named_modules() if n.endswith("attn.qkv") and isinstance(m, (nn.Linear, SplitQKV))
    ]
    if not layers:
        raise SrLoraError(
            f"{type(model).__name__} has no '*.attn.qkv' layers: spectral_profile supports timm ViT/Swin-style models"
        )
    return layers


def _checkpoint_profile(path: str | os.PathLike, target: str | list[str], estimator: Estimator) -> pd.DataFrame:
    if target in ("official", "qv_separate", "qkv"):
        raise SrLoraError(
            f"target {target!r} names parts of a timm ViT: for a checkpoint, pass target='all_linear', a regular "
            "expression over module names, or a list of name endings"
        )
    return checkpoint_profile(path, target, estimator)


def spectral_profile(
    model: nn.Module | str | os.PathLike, target: Target | str | list[str] = "official", estimator: Estimator = "exact"
) -> pd.DataFrame:
    """One row per matrix of ``model`` (a timm ViT) that ``target`` adapts, with its shape and spectral measures;
    ``estimator`` chooses how the stable rank is computed (see :func:`~srlora_utils.stable_rank`).

    ``model`` may also be a safetensors checkpoint of any transformer (a file, a sharded folder, a Hub id): it is
    read one matrix at a time by :func:`~srlora_utils.core.checkpoint.checkpoint_profile`, and ``target`` is then
    ``all_linear`` (or ``all-linear``), a regular expression over module names, or a list of name endings.

    ``official``: Q, V (stable rank of the fused qkv matrix, as the official code) and proj.
    ``qv_separate``: Q, V and proj with their own stable ranks. ``qkv``: the fused qkv and proj.
    ``all_linear``: qkv (or q, k, v when split), proj, fc1 and fc2. The first two need
    :func:`~srlora_utils.split_qkv` first; ``qkv`` needs the fused layers.
    """
    if isinstance(model, (str, os.PathLike)):
        return _checkpoint_profile(model, target, estimator)
    if target not in TARGETS:
        raise SrLoraError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    split = is_split(model)
    if target in ("official", "qv_separate") and not split:
        raise SrLoraError(
            f"target {target!r} puts LoRA on separate q and v layers: call srlora_utils.split_qkv(model) first"
        )
    if target == "qkv" and split:
        raise SrLoraError("target 'qkv' needs the fused attn.qkv layers: use a model not passed through split_qkv")

    rows: list[dict] = []

    def add(name: str, block: int, kind: str, layer: nn.Module, stats: dict[str, float], source: str) -> None:
        d_out, d_in = _weight(layer).shape[0], _weight(layer)[0].numel()
        rows.append(
            {"module": name, "block": block, "kind": kind, "d_out": d_out, "d_in": d_in, **stats, "source": source}
        )

    for block, (qkv_name, qkv) in enumerate(_attention_layers(model)):
        attn_name = qkv_name.rpartition(".")[0]
        if target == "official":
            fused = measure_matrix(_weight(qkv), estimator, name=f"{qkv_name}.weight")
            for kind in ("q", "v"):
                add(f"{qkv_name}.{kind}", block, kind, getattr(qkv, kind), fused, "fused qkv")
        elif target == "qv_separate" or (target == "all_linear" and split):
            kinds = ("q", "v") if target == "qv_separate" else ("q", "k", "v")
            for kind in kinds:
                layer = getattr(qkv, kind)
                add(
                    f"{qkv_name}.{kind}",
                    block,
                    kind,
                    layer,
                    measure_matrix(_weight(layer), estimator, name=f"{qkv_name}.{kind}.weight"),
                    "own",
                )
        else:
            add(qkv_name, block, "qkv", qkv, measure_matrix(_weight(qkv), estimator, name=f"{qkv_name}.weight"), "own")
        others = ["attn.proj"] + (["mlp.fc1", "mlp.fc2"] if target == "all_linear" else [])
        prefix = attn_name.rpartition(".")[0]
        for rel in others:
            name = f"{prefix}.{rel}" if prefix else rel
            try:
                layer = model.get_submodule(name)
            except AttributeError:
                raise SrLoraError(f"{type(model).__name__} has no {name!r} next to {qkv_name!r}") from None
            add(
                name,
                block,
                rel.rpartition(".")[2],
                layer,
                measure_matrix(_weight(layer), estimator, name=f"{name}.weight"),
                "own",
            )
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def random_matrix_check(profile: pd.DataFrame, model: nn.Module, rtol: float = 0.05) -> pd.DataFrame:
    """``profile`` (of ``model``, e.g. a random twin) with each matrix's Marchenko-Pastur stable rank (``mp``),
    whether its own lies within ``rtol`` of it (``near``), and its largest weight (``max_abs``, and ``max_sd`` in
    standard deviations of the matrix)."""
    mp = [marchenko_pastur_stable_rank(int(m), int(n)) for m, n in zip(profile["d_out"], profile["d_in"])]
    weights = [_weight(model.get_submodule(name)).detach().float() for name in profile["module"]]
    top = [float(w.abs().max()) for w in weights]
    return profile.assign(
        mp=mp,
        near=(profile["stable_rank"] / mp - 1).abs() < rtol,
        max_abs=top,
        max_sd=[t / float(w.std()) for t, w in zip(top, weights)],
    )
