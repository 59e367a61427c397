"""From a spectral profile to LoRA ranks: the paper's rule, a budget-matched rule, and uniform LoRA."""

from __future__ import annotations

import math
from typing import Literal, cast

import pandas as pd
import torch
from torch import nn

from ..errors import SrLoraError

Rule = Literal["paper", "budget", "uniform"]
RULES: tuple[str, ...] = ("paper", "budget", "uniform")


def _check_profile(profile: pd.DataFrame) -> None:
    need = {"module", "d_in", "d_out", "stable_rank"}
    if not isinstance(profile, pd.DataFrame) or not need <= set(profile.columns):
        raise SrLoraError(f"expected a spectral_profile() DataFrame with columns {sorted(need)}")
    if profile.empty:
        raise SrLoraError("the profile has no rows: nothing to allocate ranks to")
    if profile["module"].duplicated().any():
        raise SrLoraError(
            f"duplicate modules in the profile: {profile['module'][profile['module'].duplicated()].tolist()[:3]}"
        )
    if not profile["stable_rank"].map(math.isfinite).all():
        raise SrLoraError("the profile holds non-finite stable ranks: recompute it from finite weights")


def _caps(profile: pd.DataFrame, r_max: int | None) -> list[int]:
    caps = [min(int(i), int(o)) for i, o in zip(profile["d_in"], profile["d_out"])]
    return [min(c, r_max) for c in caps] if r_max is not None else caps


def uniform_budget(profile: pd.DataFrame, r: int) -> int:
    """LoRA parameters of rank ``r`` on every module of ``profile``: ``r * sum(d_in + d_out)``."""
    return int(r * (profile["d_in"] + profile["d_out"]).sum())


def _budget_ranks(srank: list[float], cost: list[int], caps: list[int], budget: int, r_min: int) -> list[int]:
    """Ranks proportional to ``srank`` with ``sum(rank * cost) <= budget``, clipped to ``[r_min, caps]``."""
    n = len(srank)
    # Continuous solution by water-filling: modules pinned at a bound leave the rest to share the remainder.
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(n) if i not in fixed]
        left = budget - sum(fixed[i] * cost[i] for i in fixed)
        weight = sum(srank[i] * cost[i] for i in free)
        scale = left / weight if free and weight > 0 else 0.0
        cont = {i: scale * srank[i] for i in free}
        low = [i for i in free if cont[i] < r_min]
        high = [i for i in free if cont[i] > caps[i]]
        if not low and not high:
            break
        for i in low or high:  # pin lower bounds first: they only free budget for the others
            fixed[i] = r_min if i in low else caps[i]
    target = {**fixed, **cont}
    ranks = [max(r_min, min(caps[i], math.floor(target[i]))) for i in range(n)]
    left = budget - sum(r * c for r, c in zip(ranks, cost))
    # Largest remainder, then round-robin over the same order, while a rank step still fits.
    order = sorted(range(n), key=lambda i: (-(target[i] - math.floor(target[i])), i))
    while True:
        grew = False
        for i in order:
            if ranks[i] < caps[i] and cost[i] <= left:
                ranks[i] += 1
                left -= cost[i]
                grew = True
        if not grew:
            return ranks


def allocate_ranks(
    profile: pd.DataFrame,
    rule: Rule = "paper",
    r: int = 8,
    budget: int | None = None,
    r_min: int = 1,
    r_max: int | None = None,
) -> dict[str, int]:
    """LoRA rank per module (name -> rank) from ``profile``, a :func:`spectral_profile` table, by ``rule``:

    ``paper``: ``round(stable_rank)`` as the official code (Python round, halves to even; the official code
    computes the stable rank in float32, a profile by its estimator), at least 1.
    ``budget``: ranks proportional to stable rank whose LoRA parameters ``sum(rank*(d_in+d_out))``
    stay within ``budget`` (default: what uniform rank ``r`` costs), between ``r_min`` and
    ``min(d_in, d_out, r_max)``. ``uniform``: rank ``r`` everywhere (plain LoRA).
    """
    _check_profile(profile)
    if rule not in RULES:
        raise SrLoraError(f"unknown rule {rule!r}: use one of {', '.join(RULES)}")
    if r_min < 1:
        raise SrLoraError(f"r_min={r_min} must be at least 1 (PEFT refuses rank 0: leave the module out instead)")
    if r_max is not None and r_max < r_min:
        raise SrLoraError(f"r_max={r_max} is below r_min={r_min}")
    modules = profile["module"].tolist()
    caps = _caps(profile, r_max)
    smallest = min(zip(profile["d_in"], profile["d_out"]), key=lambda s: min(s))
    if rule == "uniform":
        if r < 1 or r > min(smallest):
            raise SrLoraError(
                f"rank r={r} must be between 1 and the smallest matrix size "
                f"{min(smallest)} ({smallest[1]}x{smallest[0]})"
            )
        return {m: r for m in modules}
    if rule == "paper":
        ranks = [max(1, round(float(s))) for s in profile["stable_rank"]]
        if r_max is not None:
            ranks = [min(x, c) for x, c in zip(ranks, caps)]
        return dict(zip(modules, ranks))
    cost = [int(i) + int(o) for i, o in zip(profile["d_in"], profile["d_out"])]
    if budget is None:
        if r < 1:
            raise SrLoraError(f"rank r={r} must be at least 1")
        budget = uniform_budget(profile, r)
    need = r_min * sum(cost)
    if budget < need:
        raise SrLoraError(
            f"budget of {budget:,} LoRA parameters is too small: rank {r_min} on all {len(modules)} modules needs "
            f"{need:,}; raise the budget or lower r_min"
        )
    ranks = _budget_ranks([float(s) for s in profile["stable_rank"]], cost, caps, int(budget), r_min)
    return dict(zip(modules, ranks))


def lora_parameter_count(ranks: dict[str, int], shapes: pd.DataFrame | nn.Module) -> int:
    """LoRA parameters ``sum(rank * (d_in + d_out))`` of a rank dict; shapes from a profile or the model."""
    if isinstance(shapes, pd.DataFrame):
        dims = {m: (int(i), int(o)) for m, i, o in zip(shapes["module"], shapes["d_in"], shapes["d_out"])}
    else:
        dims = {}
        for name in ranks:
            try:
                w = cast(torch.Tensor, shapes.get_submodule(name).weight)
            except AttributeError:
                raise SrLoraError(f"module {name!r} not found in {type(shapes).__name__}") from None
            dims[name] = (w[0].numel(), w.shape[0])
    missing = [m for m in ranks if m not in dims]
    if missing:
        raise SrLoraError(f"modules {missing[:3]} are not in the profile: allocate and count with the same profile")
    return int(sum(r * sum(dims[m]) for m, r in ranks.items()))


def discordant_pairs(a: dict[str, int], b: dict[str, int]) -> int:
    """Pairs of modules (of ``a``, all in ``b``) that ``a`` ranks strictly one way and ``b`` strictly the other."""
    names = list(a)
    return sum((a[x] - a[y]) * (b[x] - b[y]) < 0 for i, x in enumerate(names) for y in names[i + 1 :])


def rank_table(profile: pd.DataFrame, ranks: dict[str, int]) -> pd.DataFrame:
    """One row per module of ``profile``: module, shape, stable rank, its rank in ``ranks`` and LoRA parameters."""
    table = profile[["module", "d_out", "d_in", "stable_rank"]].copy()
    table.insert(1, "shape", [f"{o}x{i}" for o, i in zip(table.pop("d_out"), table.pop("d_in"))])
    table["rank"] = table["module"].map(ranks)
    table["lora_params"] = [r * sum(s) for r, s in zip(table["rank"], zip(profile["d_in"], profile["d_out"]))]
    return table
