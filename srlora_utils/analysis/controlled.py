"""A controlled experiment on SR-LoRA's assumption: tasks whose per-layer need for rank is known.

SR-LoRA assumes that a layer whose pretrained weights spread their energy over more directions (a larger stable
rank) needs more LoRA rank to adapt. Here the need is built in: each adapted matrix gets a target update
``Delta W`` of rank ``k`` with equal singular values, where ``k`` is proportional to the layer's stable rank (the
prior is right), inversely proportional to it (the prior is wrong) or the same everywhere. LoRA of rank ``r`` on a
linear layer with whitened inputs is best fitted by the truncated SVD of ``Delta W`` (Eckart-Young), which is what
training it converges to; the error of an allocation is the energy it leaves out, relative to the total.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import torch

from ..core.allocation import allocate_ranks, lora_parameter_count
from ..errors import SrLoraError

Need = Literal["proportional", "inverse", "equal"]
NEEDS: tuple[str, ...] = ("proportional", "inverse", "equal")


def needed_ranks(profile: pd.DataFrame, need: Need, mean_rank: float = 8.0) -> dict[str, int]:
    """Rank each module of ``profile`` needs under ``need``: proportional to its stable rank, inverse to it, or
    equal, scaled so that the ranks average ``mean_rank`` (each at least 1 and at most the matrix size)."""
    if need not in NEEDS:
        raise SrLoraError(f"unknown need {need!r}: use one of {', '.join(NEEDS)}")
    sr = profile.set_index("module")["stable_rank"].astype(float)
    weights = {"proportional": sr, "inverse": 1.0 / sr, "equal": sr * 0 + 1.0}[need]
    raw = weights / weights.mean() * mean_rank
    top = profile.set_index("module")[["d_in", "d_out"]].min(axis=1)
    return {m: int(min(max(1, round(float(v))), int(top[m]))) for m, v in raw.items()}


def build_targets(profile: pd.DataFrame, ranks: dict[str, int], seed: int = 0) -> dict[str, torch.Tensor]:
    """A target update per module: rank ``ranks[module]``, equal singular values, random singular vectors (from
    ``seed``), unit Frobenius norm, shaped like the module's weight (``d_out`` x ``d_in`` of ``profile``)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for row in profile.itertuples():
        k = ranks[row.module]
        u, _ = torch.linalg.qr(torch.randn(row.d_out, k, generator=gen, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(row.d_in, k, generator=gen, dtype=torch.float64))
        out[row.module] = (u @ v.T) / np.sqrt(k)
    return out


def fit_error(targets: dict[str, torch.Tensor], ranks: dict[str, int]) -> float:
    """Relative error of the best LoRA fit of ``targets`` with ``ranks`` (per module: the energy beyond the top
    ``ranks[module]`` singular values, by Eckart-Young), summed over modules and divided by the total energy."""
    return _left_energy({m: torch.linalg.svdvals(d) ** 2 for m, d in targets.items()}, ranks)


def _left_energy(spectra: dict[str, torch.Tensor], ranks: dict[str, int]) -> float:
    left = sum(float(s2[ranks[m] :].sum()) for m, s2 in spectra.items())
    return left / sum(float(s2.sum()) for s2 in spectra.values())


def allocation_experiment(
    profile: pd.DataFrame, budgets_r: list[float], mean_rank: float = 8.0, seed: int = 0
) -> pd.DataFrame:
    """For each need (proportional, inverse, equal) and each budget (in units of uniform LoRA of rank ``r``, for
    ``r`` in ``budgets_r``): the fit error of uniform LoRA and of stable-rank allocation at the same parameter
    budget. ``profile``: a spectral profile; ``mean_rank``: the average rank the targets need; ``seed``: their
    singular vectors. One row per (need, budget, allocation), with the LoRA parameters each spends."""
    rows = []
    for need in NEEDS:
        targets = build_targets(profile, needed_ranks(profile, need, mean_rank), seed)  # type: ignore[arg-type]
        spectra = {m: torch.linalg.svdvals(d) ** 2 for m, d in targets.items()}  # once per need
        for r in budgets_r:
            uniform = allocate_ranks(profile, "uniform", r=max(1, int(r)))
            budget = lora_parameter_count(uniform, profile)
            stable = allocate_ranks(profile, "budget", budget=budget)
            for name, ranks in (("uniform LoRA", uniform), ("stable-rank allocation", stable)):
                rows.append({"need": need, "budget (uniform r)": int(r), "allocation": name,
                             "LoRA parameters": lora_parameter_count(ranks, profile),
                             "relative error": _left_energy(spectra, ranks)})  # fmt: skip
    return pd.DataFrame(rows)


_NEED_TITLES = {
    "proportional": "The prior is right (need proportional to the stable rank)",
    "inverse": "The prior is wrong (need inverse to the stable rank)",
    "equal": "No structure (the same need everywhere)",
}


def _left(err: float) -> str:
    return "fits the updates exactly" if err < 1e-12 else f"leaves {100 * err:.1f}% of the updates' energy out"


def _budgets(rs: list[int]) -> str:
    return ", ".join(str(r) for r in rs)


def experiment_reading(experiment: pd.DataFrame, profile: pd.DataFrame, mean_rank: int = 8) -> list[str]:
    """:func:`allocation_experiment` in words (Markdown lines, every number and ranking taken from ``experiment``,
    read at the budget ``r = mean_rank``, which it must hold); ``profile``: the one it was run on."""
    err = experiment.pivot_table(index=["need", "budget (uniform r)"], columns="allocation", values="relative error")
    cost = experiment.pivot_table(index=["need", "budget (uniform r)"], columns="allocation", values="LoRA parameters")
    same = bool((cost["stable-rank allocation"] == cost["uniform LoRA"]).all())
    means = {n: float(np.mean(list(needed_ranks(profile, n, mean_rank).values()))) for n in NEEDS}  # type: ignore[arg-type]
    lines = [
        f"Read at budget $r = {mean_rank}$, where the needed ranks average {means['proportional']:.2f} "
        f"(proportional), {means['inverse']:.2f} (inverse) and {means['equal']:.2f} (equal) once rounded to whole "
        f"ranks; stable-rank allocation spends {'exactly' if same else 'at most'} uniform LoRA's parameters at every "
        "budget:",
        "",
    ]
    sign: dict[str, dict[int, int]] = {}  # need -> budget -> -1 (stable-rank better), 0 (tie), 1 (worse)
    for need in NEEDS:
        e = err.loc[need]
        diff = e["stable-rank allocation"] - e["uniform LoRA"]
        sign[need] = {int(r): int(np.sign(d)) if abs(d) > 1e-9 else 0 for r, d in diff.items()}
        exact = all(e.loc[r].max() < 1e-12 for r, s in sign[need].items() if s == 0)
        words = [f"{w} at $r$ = {_budgets([r for r, s in sign[need].items() if s == v])}"
                 for v, w in ((-1, "better"), (1, "worse"), (0, "tied" + " (both exact)" * exact))
                 if v in sign[need].values()]  # fmt: skip
        stable, uniform = e.loc[mean_rank, "stable-rank allocation"], e.loc[mean_rank, "uniform LoRA"]
        lines.append(
            f"* **{_NEED_TITLES[need]}**: at $r = {mean_rank}$ stable-rank allocation {_left(stable)}, uniform "
            f"LoRA {_left(uniform)}. Stable-rank allocation is {'; '.join(words)}."
        )
    above = {n: [s for r, s in sign[n].items() if r >= mean_rank] for n in NEEDS}
    follows = (
        all(s <= 0 for s in above["proportional"])
        and any(s < 0 for s in above["proportional"])
        and all(s > 0 for n in ("inverse", "equal") for s in above[n])
    )
    lines.append("")
    if follows:
        lines.append(
            f"At budgets from $r = {mean_rank}$ up, stable-rank allocation gains at an equal budget only where the "
            "rank a layer needs follows its pretrained stable rank, and loses where it does not."
        )
    else:
        lines.append(
            f"At budgets from $r = {mean_rank}$ up, these errors do not split simply by whether the prior is right: "
            "read the bullets."
        )
    flips = [n for n in NEEDS if {s for r, s in sign[n].items() if r < mean_rank} - {0} - set(above[n])]
    if flips:
        lines[-1] += (
            f" Below $r = {mean_rank}$ the ranking flips (with the {' and the '.join(flips)} need): a rank captures a "
            "larger share of the energy in a layer that needs few, so the allocation that gives those layers more "
            "rank gains, until it gives them more than they need."
        )
    return lines
