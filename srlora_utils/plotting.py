"""Matplotlib figures for the notebooks: spectra, per-block profiles and rank allocations."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .spectral import singular_values

_MARKERS = {"q": "o", "v": "s", "k": "D", "qkv": "o", "proj": "^", "fc1": "v", "fc2": "P"}


def _axes(ax: plt.Axes | None, figsize: tuple[float, float] = (7, 4)) -> plt.Axes:
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def plot_spectra(matrices: Mapping[str, torch.Tensor], ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Normalised singular values sigma_i / sigma_1 against their index, one line per matrix (log scale)."""
    ax = _axes(ax)
    for label, w in matrices.items():
        s = singular_values(w).numpy()
        ax.semilogy(np.arange(1, len(s) + 1), s / s[0], label=label)
    ax.set_xlabel("singular value index i")
    ax.set_ylabel(r"$\sigma_i / \sigma_1$ (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_profile(
    profiles: Mapping[str, pd.DataFrame],
    column: str = "stable_rank",
    ax: plt.Axes | None = None,
    title: str = "",
    ylabel: str = "stable rank",
) -> plt.Axes:
    """``column`` against block depth, one line per (profile label, matrix kind)."""
    ax = _axes(ax)
    styles = ["-", "--", ":", "-."]
    for (label, prof), style in zip(profiles.items(), styles * 4):
        for kind, rows in prof.groupby("kind", sort=False):
            ax.plot(rows["block"], rows[column], style, marker=_MARKERS.get(kind, "."), label=f"{label}: {kind}")
    ax.set_xlabel("transformer block")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_rank_allocation(
    allocations: Mapping[str, Mapping[str, int]], ax: plt.Axes | None = None, title: str = ""
) -> plt.Axes:
    """Rank per adapted module, one bar group per module and one colour per allocation."""
    ax = _axes(ax, (10, 4))
    modules = list(next(iter(allocations.values())))
    width = 0.8 / len(allocations)
    x = np.arange(len(modules))
    for i, (label, ranks) in enumerate(allocations.items()):
        ax.bar(x + i * width, [ranks[m] for m in modules], width, label=label)
    short = [m.replace("blocks.", "b").replace(".attn.qkv.", ".").replace(".attn.", ".") for m in modules]
    ax.set_xticks(x + 0.4 - width / 2, short, rotation=90, fontsize=6)
    ax.set_ylabel("LoRA rank")
    ax.set_xlabel("adapted module (block.matrix)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax
