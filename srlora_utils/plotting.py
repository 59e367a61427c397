"""Matplotlib figures for the notebooks: spectra, per-block profiles, rank allocations, study results and the gap
ladder."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib.artist
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import torch

from .core.peft_config import SCALE_FACTORS
from .core.spectral import singular_values

_MARKERS = {"q": "o", "v": "s", "k": "D", "qkv": "o", "proj": "^", "fc1": "v", "fc2": "P"}


def _axes(ax: plt.Axes | None, figsize: tuple[float, float] = (7, 4)) -> plt.Axes:
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def plot_spectra(matrices: Mapping[str, torch.Tensor], ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Normalised singular values sigma_i / sigma_1 against their index, one line per entry of ``matrices``
    (label -> matrix; log scale), on ``ax`` (a new figure when None) titled ``title``."""
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
    """``column`` of each of ``profiles`` (label -> :func:`~srlora_utils.spectral_profile` table) against block
    depth, one line per (label, matrix kind), on ``ax`` (a new figure when None) titled ``title``, y axis ``ylabel``."""
    ax = _axes(ax)
    styles = ["-", "--", ":", "-."]
    for (label, prof), style in zip(profiles.items(), styles * 4):
        for kind, rows in prof.groupby("kind", sort=False):
            ax.plot(rows["block"], rows[column], style, marker=_MARKERS.get(kind, "."), label=f"{label}: {kind}")
    ax.set_xlabel("transformer block")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    return ax


def plot_rank_allocation(
    allocations: Mapping[str, Mapping[str, int]], ax: plt.Axes | None = None, title: str = ""
) -> plt.Axes:
    """Rank per adapted module of each of ``allocations`` (label -> module -> rank), one bar group per module and
    one colour per allocation, on ``ax`` (a new figure when None, 8 in wide) titled ``title``; at most 40 module
    names are written (every k-th beyond that), at 8 pt."""
    ax = _axes(ax, (8, 4))
    modules = list(next(iter(allocations.values())))
    width = 0.8 / len(allocations)
    x = np.arange(len(modules))
    for i, (label, ranks) in enumerate(allocations.items()):
        ax.bar(x + i * width, [ranks[m] for m in modules], width, label=label)
    short = [m.replace("blocks.", "b").replace(".attn.qkv.", ".").replace(".attn.", ".") for m in modules]
    step = -(-len(modules) // 40)  # 8 pt names, rotated, need about 15 px each: 40 fit an 8 in figure
    ax.set_xticks(x[::step] + 0.4 - width / 2, short[::step], rotation=90, fontsize=8)
    ax.set_ylabel("LoRA rank")
    ax.set_xlabel("adapted module (block.matrix)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def show_examples(task, per_class: int = 4, max_classes: int = 10) -> plt.Figure:
    """A grid of ``task``'s training images (a :class:`~srlora_utils.data.fewshot.FewShotTask`), ``per_class`` per row
    and
    one row per class for at most ``max_classes`` classes (images de-normalised); at most 11 in tall, class names at
    8 pt."""
    from .models.normalization import IMAGENET_MEAN, IMAGENET_STD

    norm = task.normalization
    classes = list(range(min(task.num_classes, max_classes)))
    side = min(1.3, 11 / len(classes), 7.5 / per_class)  # inches an image: the figure at most 7.5 x 11 in
    fig, axes = plt.subplots(len(classes), per_class, figsize=(side * per_class, side * len(classes)), squeeze=False)
    mean, std = (norm.mean, norm.std) if norm is not None else (IMAGENET_MEAN, IMAGENET_STD)
    mean, std = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    shown = {c: 0 for c in classes}
    for i in range(len(task.val)):  # the validation split: deterministic transforms
        x, y = task.val[i]
        c = int(y.argmax()) if task.multilabel else int(y)
        if c in shown and shown[c] < per_class:
            axes[c, shown[c]].imshow((x * std + mean).clamp(0, 1).permute(1, 2, 0).numpy())
            shown[c] += 1
    for c in classes:
        for j in range(per_class):
            axes[c, j].axis("off")
        axes[c, 0].set_title(task.class_names[c], fontsize=8, loc="left")
    fig.suptitle(f"{task.display_name}: validation images per class", fontsize=9)
    fig.tight_layout()
    return fig


def plot_training_curves(runs: list[dict], metric: str, title: str = "") -> plt.Figure:
    """Training loss and validation ``metric`` per epoch, one line per record of ``runs`` (method, seed); the
    figure's title is ``title`` (8 in wide: shown at full size, so every text keeps its 8 pt or more)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
    for r in runs:
        h = pd.DataFrame(r["history"])
        label = f"{r['config']['method']} s{r['config']['seed']}"
        ax1.plot(h["epoch"], h["train_loss"], label=label)
        ax2.plot(h["epoch"], h[f"val_{metric}"], label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (mean over the epoch)")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(f"validation {metric} (%)")
    ax2.legend(fontsize=8, ncol=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_results(summary: pd.DataFrame, metric: str, title: str = "") -> plt.Axes:
    """Test ``metric`` (mean and std across seeds, from ``summary``:
    :func:`~srlora_utils.experiments.sweeps.summary_table`)
    against trainable parameters, one point per method, titled ``title``. Each point's name is written to its right,
    but to its left at the largest count (full fine-tuning), where the axes' frame would cross it."""
    ax = _axes(None, (7, 4))
    # methods with one parameter count (lora, srlora_budget) share an x: their labels stack, highest mean on top
    stacked = summary.groupby("trainable_params")[f"{metric} mean"].rank(method="first", ascending=False) - 1
    largest = summary["trainable_params"].max()
    for ((_, _, method), row), rank in zip(summary.iterrows(), stacked):
        x, y = row["trainable_params"], row[f"{metric} mean"]
        ax.errorbar(x, y, yerr=row[f"{metric} std"], fmt="o", capsize=3)
        left = x == largest and summary["trainable_params"].nunique() > 1
        ax.annotate(method, (x, y), fontsize=8, xytext=(-6 if left else 4, 4 - 11 * rank), textcoords="offset points",
                    ha="right" if left else "left")  # fmt: skip
    ax.set_xscale("log")
    ax.margins(y=0.25)  # room inside the axes for labels stacked below a low point (never over the tick labels)
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel(f"test {metric} (%), mean ± std over seeds")
    ax.set_title(textwrap.fill(title, 70), fontsize=10)
    return ax


def plot_allocation_experiment(table: pd.DataFrame, backbone: str) -> plt.Figure:
    """One panel per need of :func:`~srlora_utils.analysis.controlled.allocation_experiment` (``table``): relative
    fit error against the parameter budget, uniform LoRA and stable-rank allocation; ``backbone`` names the model
    whose stable ranks were used."""
    needs = list(dict.fromkeys(table["need"]))
    fig, axes = plt.subplots(1, len(needs), figsize=(8, 3.6), sharey=True)  # 8 in: shown at full size
    titles = {"proportional": "need ∝ stable rank\n(the prior is right)", "inverse": "need ∝ 1 / stable rank\n"
              "(the prior is wrong)", "equal": "equal need\n(no structure)"}  # fmt: skip
    for ax, need in zip(np.atleast_1d(axes), needs):
        part = table[table["need"] == need]
        for name, style in (("uniform LoRA", dict(marker="o")), ("stable-rank allocation", dict(marker="s"))):
            rows = part[part["allocation"] == name]
            ax.plot(rows["budget (uniform r)"], 100 * rows["relative error"], label=name, **style)
        ax.set_xscale("log", base=2)
        budgets = sorted(set(part["budget (uniform r)"]))
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_title(titles.get(need, need), fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("fit error (% of the update's energy)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.supxlabel("budget: parameters of LoRA rank r (log scale)", fontsize=10)
    fig.suptitle(f"Equal budgets, known needs: {backbone}", fontsize=10)
    fig.tight_layout()
    return fig


#: Colours and markers of the study's verdicts in :func:`plot_comparisons`: Okabe-Ito colours a colour-blind reader
#: tells apart (bluish green, vermillion, grey; equivalent: blue), and a marker each, so colour is never the only cue.
VERDICT_COLOURS = {"ahead": "#009E73", "behind": "#D55E00", "not resolved": "#999999"}
VERDICT_MARKERS = {"ahead": "^", "behind": "v", "not resolved": "o"}
EQUIVALENT_COLOUR = "#0072B2"


def plot_comparisons(table: pd.DataFrame, margin: float, title: str = "", metric: str = "accuracy") -> plt.Figure:
    """A forest plot of a study's comparisons (``table`` from
    :func:`~srlora_utils.analysis.baseline_study.comparison_table`):
    each paired difference in test ``metric`` with its 95% interval, coloured by verdict (equivalent: blue), against the
    ±``margin`` equivalence band; ``title`` names the backbone and data. 7 in wide, every text at 8 pt or more, the
    legend below the axes; a table of n rows is 0.25 n + 2 in tall (at most 24 rows fit 8 in)."""
    rows = table.reset_index()
    labels = [
        f"{r['question']} · {r['method']} − {r['reference']} · {r['task']}, {r['shots']}-shot"
        for _, r in rows.iterrows()
    ]
    height = 0.25 * len(rows) + 2.0
    fig, ax = plt.subplots(figsize=(7, height))  # 7 in: with its long labels the saved image stays within 800 px
    y = np.arange(len(rows))[::-1]
    ax.axvspan(-margin, margin, color=EQUIVALENT_COLOUR, alpha=0.08)
    ax.axvline(0, color="black", lw=0.8)
    for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
        err = [[r["difference"] - r["ci low"]], [r["ci high"] - r["difference"]]]
        colour = VERDICT_COLOURS.get(r["verdict"], EQUIVALENT_COLOUR)
        marker = VERDICT_MARKERS.get(r["verdict"], "s")
        ax.errorbar(r["difference"], yi, xerr=err, fmt=marker, ms=4, color=colour, capsize=2)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(f"paired difference in test {metric} (points), 95% t interval", fontsize=9)
    handles: list[matplotlib.artist.Artist] = [
        plt.Line2D([], [], marker=VERDICT_MARKERS[v], ls="", color=c, label=v) for v, c in VERDICT_COLOURS.items()
    ]
    band = matplotlib.patches.Patch(
        color=EQUIVALENT_COLOUR, alpha=0.15, label=f"±{margin:g} points (equivalence margin)"
    )
    handles += [plt.Line2D([], [], marker="s", ls="", color=EQUIVALENT_COLOUR, label=f"equivalent within ±{margin:g}"),
                band]  # fmt: skip
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=3, frameon=False)
    title = textwrap.fill(title, 100)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.5 / height, 1, 1))  # room for the two-row legend below (the title has its own)
    return fig


def plot_selection_curves(
    curves: pd.DataFrame, title: str = "", metric: str = "accuracy", columns: int | None = None
) -> plt.Figure:
    """A tuned study's selection curves (``curves`` from
    :func:`~srlora_utils.analysis.tuned_study.selection_curves`): one panel per method and task, mean validation
    ``metric`` over the selection seeds against the learning rate (log scale), one line per scaling (and EVA's
    whitening, one colour each throughout the figure, one legend), the rule's choice ringed; ``title`` names the
    backbone and data. With ``columns`` None, one row per method and one column per task (a method or task with no
    recorded candidate yet leaves its panel hidden); with ``columns`` set, the panels that have data wrap into that
    many columns (8 in wide: pass the curves of one task and 3 or 4 columns for a figure at most 8 in tall). Every text
    is 8 pt or more."""
    methods, tasks = list(dict.fromkeys(curves["method"])), list(dict.fromkeys(curves["task"]))
    curves = curves.dropna(subset=["val mean"])
    pairs = [(m, t) for m in methods for t in tasks]
    if columns is None:
        n_rows, n_cols = len(methods), len(tasks)
        slots = {pair: divmod(k, n_cols) for k, pair in enumerate(pairs)}
        width = 3.4 * n_cols
    else:
        have = [(m, t) for m, t in pairs if ((curves["method"] == m) & (curves["task"] == t)).any()]
        n_cols = columns
        n_rows = max(1, -(-len(have) // n_cols))
        slots = {pair: divmod(k, n_cols) for k, pair in enumerate(have)}
        width = 8.0
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, 1.9 * n_rows + 1.3), squeeze=False)
    keys = list(dict.fromkeys(zip(curves["scaling"], curves["eva_whiten"].astype(bool))))
    order = list(SCALE_LABELS)
    keys.sort(key=lambda k: (k[1], order.index(k[0]) if k[0] in order else len(order)))
    colours = {k: f"C{i}" for i, k in enumerate(keys)}
    used = set()
    for ax in axes.flat:
        ax.set_visible(False)
    for (method, task), (i, j) in slots.items():
        ax, part = axes[i, j], curves[(curves["method"] == method) & (curves["task"] == task)]
        if part.empty:
            continue
        ax.set_visible(True)
        for (scaling, whiten), line in part.groupby(["scaling", "eva_whiten"], sort=False):
            line = line.sort_values("lr")
            ax.plot(line["lr"], line["val mean"], marker="o", ms=3, lw=1, color=colours[(scaling, bool(whiten))])
            used.add((scaling, bool(whiten)))
        pick = part[part["chosen"]]
        ax.scatter(pick["lr"], pick["val mean"], s=90, facecolors="none", edgecolors="black", zorder=3)
        ax.set_xscale("log")
        rates = sorted(part["lr"].unique())
        ax.set_xticks(rates, [f"{r:.1e}".replace(".0e", "e").replace("e-0", "e-") for r in rates])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(method if len(tasks) == 1 else f"{method} · {task}", fontsize=8)
        ax.tick_params(labelsize=8)
        below = (i + 1, j) not in slots.values()
        if below:
            ax.set_xlabel("learning rate (log scale)", fontsize=8)
        if j == 0:
            ax.set_ylabel(f"val {metric} (%)", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ms=3, lw=1, color=colours[k],
                          label=f"{SCALE_LABELS.get(k[0], k[0])}{', whitened' if k[1] else ''}")
               for k in keys if k in used]  # fmt: skip
    handles.append(plt.Line2D([], [], marker="o", ms=9, ls="", markerfacecolor="none", color="black",
                              label="chosen by the rule"))  # fmt: skip
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=min(len(handles), 3), frameon=False)
    height = fig.get_figheight()
    fig.suptitle(textwrap.fill(title or "Selection curves: mean validation score over the selection seeds (ringed: "
                               "chosen)", 85), fontsize=9)  # fmt: skip
    fig.tight_layout(rect=(0, 0.55 / height, 1, 1))  # room for the legend below (the title has its own)
    return fig


#: How the kit's ``scaling`` settings read in figure legends.
SCALE_LABELS = {**SCALE_FACTORS, "paper": f"{SCALE_FACTORS['paper']} (official)",
                "rslora": f"{SCALE_FACTORS['rslora']} (rsLoRA)"}  # fmt: skip


def show_ladder(per_rung: int = 6) -> plt.Figure:
    """The gap ladder's rungs (rows: source x rung), ``per_rung`` pool images each, one of every class in turn."""
    from .data.gap_ladder import LADDER_SOURCES, RUNGS, ladder_arrays

    rows = [(s, r) for s in LADDER_SOURCES for r in RUNGS]
    side = min(1.0, 6.8 / per_rung)  # inches an image: at most 8 in wide with the row labels, so 8 pt text stays 8 pt
    fig, axes = plt.subplots(len(rows), per_rung, figsize=(side * per_rung + 1.2, side * len(rows) + 0.4),
                             squeeze=False)  # fmt: skip
    for (source, rung), line in zip(rows, axes, strict=True):
        images, labels, _, _ = ladder_arrays(source, rung)
        picks = [int(np.flatnonzero(labels == c % 10)[c // 10]) for c in range(per_rung)]
        for ax, i in zip(line, picks, strict=True):
            ax.imshow(images[i])
            ax.set_xticks([])
            ax.set_yticks([])
        line[0].set_ylabel(f"{source}\n{rung}", fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle("The gap ladder: the same labels at four rungs (28x28 px canvases; controlled stand-ins)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_gap_slope(
    table: pd.DataFrame, slope, pair: tuple[str, str], title: str = "", metric: str = "accuracy"
) -> plt.Figure:
    """Each rung's paired difference (``table`` from :func:`~srlora_utils.analysis.gap_ladder.rung_table`) with its
    95% t interval against its measured gap, and the fitted line of ``slope``
    (:func:`~srlora_utils.analysis.gap_ladder.gap_slope`) with the lines at its interval's ends; ``pair`` is (method,
    reference), ``title`` names the backbone and data, ``metric`` the test metric compared."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.axhline(0, color="black", lw=0.8)
    for (source, part), marker in zip(table.groupby("source", sort=False), "os^D", strict=False):
        err = [part["difference"] - part["ci low"], part["ci high"] - part["difference"]]
        ax.errorbar(part["gap"], part["difference"], yerr=err, fmt=marker, capsize=3, label=source)
        for _, r in part.iterrows():  # the rightmost rung's name to its left, where the axes' frame cannot cross it
            right = r["gap"] >= table["gap"].max() - 1e-9
            ax.annotate(r["rung"], (r["gap"], r["difference"]), textcoords="offset points",
                        xytext=(-5 if right else 5, 4), fontsize=8, ha="right" if right else "left")  # fmt: skip
    x = np.linspace(table["gap"].min(), table["gap"].max(), 50)
    centre = float((table["gap"] * table["pairs"]).sum() / table["pairs"].sum())
    at_centre = slope.intercept + slope.slope * centre
    ax.plot(x, slope.intercept + slope.slope * x, color="tab:grey", label=f"least squares: {slope.verdict}")
    for end in (slope.low, slope.high):
        ax.plot(x, at_centre + end * (x - centre), color="tab:grey", ls=":", lw=0.9)
    ax.set_xlabel("measured gap: raw-pixel minus frozen-feature 5-NN accuracy (points)")
    ax.set_ylabel(f"{pair[0]} − {pair[1]}: paired difference\nin test {metric} (points)")
    ax.legend(fontsize=8, title="label source (95% t intervals)", title_fontsize=8)
    ax.margins(x=0.08)  # room for the rung names at the right edge
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
