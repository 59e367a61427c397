# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05c · Appendix: the official protocol in context
#
# **What it holds**: the runs of the baseline study's official protocol in context: the contenders and how each is set up, the runs and their cost in time, every method's test accuracy, the linear probe, full fine-tuning and raw-pixel baselines, accuracy against trainable parameters, the rank allocations the methods chose, the cost of each method, the official random-rank evaluation, the presets that run the study on real data, and how this study differs from the paper's own protocol.
#
# **Extends**: [lesson 05](../05_baseline_comparison.ipynb), sections 1 to 3; the official protocol's verdicts, question by question, are in [appendix 05a](05a_official_protocol.ipynb), the tuned protocol in [appendix 05b](05b_tuned_protocol.ipynb) and [appendix 05d](05d_tuned_verdicts.ipynb).
#
# **Time**: reading about 43 minutes (a reference: read the sections you need), running about 30 s (most of it fitting the raw-pixel baselines; the runs are read from the shipped records).
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](../glossary.md).

# %% [markdown]
# The study runs on three presets (lesson 05's `preset` parameter; this appendix takes the same one and reads the records lesson 05 wrote):
#
# | preset | tasks | backbone | runs |
# |---|---|---|---|
# | `offline` (default) | two **stand-ins**: grey texture patches (3-shot, and 1-shot for question 5) of scikit-image photographs, for the medical side (patch classification as in histology), and scikit-image's LFW subset (faces vs non-faces, 5-shot), for the remote-sensing side | offline DINOv2 ViT-S/14, 56 px | read from the shipped records in `results/baseline-study/` (seconds); `make study` trains them all again |
# | `tutorial` | MedMNIST DermaMNIST and EuroSAT (online, or local files, see `data/README.md`) | offline DINOv2 ViT-S/14, 112 px | trained by lesson 05 with `preset="tutorial"` (a GPU), then read here |
# | `paper` | MedFMC ColonPath (5-shot, and 1-shot for question 5, official splits) and VTAB-1k EuroSAT 1-shot from `data/` | ViT-B/16 in21k, 384 px, official augmentation | trained by lesson 05 with `preset="paper"` (a GPU), then read here |
#
# **The offline numbers come from stand-in data: read them as a demonstration of the method and of the statistics, never as remote-sensing or medical results.**

# %% tags=["parameters"]
# Parameters (papermill): the defaults read the offline study's shipped records (nothing trains).
preset = "offline"  # offline | tutorial | paper: which study grid (grids/baseline-study[-tutorial|-paper].toml)
records = None  # None: the preset's records (offline: the shipped results/baseline-study/records.jsonl)
tiny = False  # as lesson 05's run that wrote the records (smoke-test size: the numbers mean nothing)
epochs = None  # as lesson 05's run that wrote the records (None: the study's)
data_root = None  # None: $SRLORA_DATA, else the checkout's data/, else ./data (the raw-pixel baselines read the data)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import srlora_utils as S
from srlora_utils import METHOD_SPECS, plot_rank_allocation, use_data_dir
from srlora_utils.analysis import (Reading, allocation_atlas, cell_table, cost_table, official_scaling,
                                   random_rank_evaluation, read_baselines, read_random_rank, read_spearman,
                                   seconds_per_run, steps_table, study_files, study_pixel_baselines, study_wall_time)
from srlora_utils import check_parameters
from srlora_utils.experiments import grid_configs, grid_settings, run_configs, summary_table

check_parameters(preset=preset, records=records, tiny=tiny, epochs=epochs, data_root=data_root)
pd.set_option("display.precision", 2)
use_data_dir(data_root)
grid, records = study_files(preset, records, False)
settings = grid_settings(str(grid), tiny=tiny, epochs=epochs, **({"exps": [1], "vtab_seeds": [0]} if tiny else {}))
metric = "accuracy"
backbone = f"{settings['backbone'] or S.OFFLINE_BACKBONE} at {settings['img_size']} px"
print(f"study: {grid.name}; records: {S.display_path(records)}; {settings['augment']} augmentation, "
      f"{settings['normalize']} normalisation, {settings['img_size']} px")

# %% [markdown]
# ## 1. The contenders
#
# Every LoRA-type method adapts the same matrices (Q, V and the attention output `proj` of every block). One table in the library defines them all; the training loop, the command line, the sweeps and the benchmark read it.

# %%
pd.DataFrame(
    [{"method": s.name, "kind": s.kind, "rank rule": s.rule or "-", "adapter (PEFT)": s.adapter,
      "nested sampling": s.nested, "lr": s.lr, "what it is": s.summary} for s in METHOD_SPECS.values()]
).set_index("method")

# %% [markdown]
# Left out on purpose: SoRA, IncreLoRA, MELoRA and GLoRA, which the paper cites. The kit builds on PEFT wherever PEFT has a method; these are not in the PEFT versions this kit targets as LoRA-style rank-adaptive methods, and re-implementing them from their papers is beyond a baseline table. DyLoRA and the nested sampling of the official SR-LoRA code are the kit's own code (`srlora_utils.training.nested`), because PEFT has no DyLoRA.
#
# AdaLoRA starts at rank 12 per module and prunes to an average of 8 on a cubic schedule set from the run's length (10% warm-up, last 30% at the final budget); its orthogonal regulariser is added to the loss, and model selection only considers epochs after its budget is final. EVA runs the training images (without augmentation) through the frozen backbone, keeps the principal directions of every adapted layer's inputs, and redistributes LoRA r=8's total rank by explained variance (up to 2r per layer).
#
# Question 4 adds three method settings: `lora`, `srlora_budget` and `srlora` trained with **rsLoRA**'s update scale 1/sqrt(r) instead of the official 1/r (`lora_alpha=1`), marked `(rsLoRA)`. Under 1/r, a rank-40 module's update is scaled 5x less than a rank-8 one, so unequal ranks and the scale are tangled; running LoRA under both scales separates them.

# %% [markdown]
# ## 2. The runs
#
# The study runs through the same resumable sweep as `srlora sweep`: a run already in the records is read, not trained again. With the defaults every run is read from the shipped records; `make study` trains the whole study from scratch, and lesson 05 with the tutorial or paper preset trains what their records lack.

# %% tags=["nbval-ignore-output"]
stop = settings.get("stop_at_perfect_val", False)
runs = run_configs(grid_configs(settings), records=str(records), stop_at_perfect_val=stop)

# %% [markdown]
# Seconds of training per run (median over the runs of each method on each task, from the records). A run stops once its validation accuracy is perfect (every validation image right): the best epoch is the first with the highest validation score, so no later epoch could be selected, and its test numbers are those of the whole schedule (the grid's `stop_at_perfect_val`; a test checks that every shipped run's test numbers equal those of the study's first run, which trained every run to the end). Then, per task, the schedule's optimiser steps, the steps taken, and how many runs stopped early:

# %%
seconds_per_run(runs)

# %%
display(Reading(f"{len(runs)} runs on {runs[0]['device']} (torch {runs[0]['versions']['torch']}); their training "
                f"spans {study_wall_time(runs):.2f} h of wall time from the first start to the last end, across the "
                "workers that ran them."))
steps_table(runs)

# %% [markdown]
# ## 3. Context: every method, the linear probe, full fine-tuning and raw pixels
#
# Every method's test accuracy on every task (mean, standard deviation and number of runs), then the methods against the **linear probe** (the frozen backbone with only a linear head trained) and against simple baselines fitted to the same K-shot images (1-nearest-neighbour and logistic regression on raw pixels), paired by seed. A fine-tuned network that is not ahead of them has not shown, on these runs, that it learned more than pixels do.

# %%
cells = cell_table(runs, metric)
cells

# %%
main = official_scaling(runs)
pixels = study_pixel_baselines(main, settings)
pixels.drop(columns=["seed", "exp"]).groupby(["task", "shots"], sort=False).agg(["mean", "std"])

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_baselines(main, pixels, metric)

# %% [markdown]
# Test accuracy against trainable parameters, one panel per task and shot count (mean ± standard deviation over seeds; methods of LoRA r=8's budget sit close together near 2e5):

# %%
summary = summary_table(main).reset_index()
methods = list(dict.fromkeys(summary["method"]))  # one colour and marker each, the same in every panel
style = {m: dict(color=f"C{i % 8}", fmt="osD^vP*Xh<>p"[i % 12], mfc="white" if i >= 8 else None)
         for i, m in enumerate(methods)}  # past 8 colours, hollow markers
groups = summary.groupby(["task", "shots"], sort=False)
fig, axes = plt.subplots(1, len(groups), figsize=(8, 3.8), squeeze=False, sharex=True)
for ax, ((task, shots), part) in zip(axes[0], groups):
    for _, r in part.iterrows():
        ax.errorbar(r["trainable_params"], r[f"{metric} mean"], yerr=r[f"{metric} std"], capsize=2, ms=5,
                    label=r["method"], **style[r["method"]])
    ax.set_xscale("log")
    ax.set_title(f"{task}, {shots}-shot", fontsize=9)
    ax.set_xlabel("trainable parameters (log)", fontsize=8)
    ax.tick_params(labelsize=8)
axes[0, 0].set_ylabel(f"test {metric} (%), mean ± std", fontsize=8)
entries = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
fig.legend(entries.values(), entries.keys(), fontsize=8, loc="lower center", ncol=6, frameon=False)
fig.suptitle(f"Test {metric} against trainable parameters: {backbone}", fontsize=9)
fig.tight_layout(rect=(0, 0.14, 1, 1))  # room for the legend below
plt.show()

# %% [markdown]
# ## 4. The allocation atlas and the cost, from the same runs
#
# SR-LoRA reads its ranks off the pretrained weights before seeing any data. AdaLoRA (after training, by gradient-based importance) and EVA (after initialisation, by the explained variance of each layer's inputs) decide from the data. If the stable-rank prior captured what adaptation needs, their allocations would correlate with it. (Uniform LoRA has no ordering, so its correlations are undefined: NaN.)

# %%
atlas, spearman = allocation_atlas(main)
fig, ax = plt.subplots(figsize=(8, 4))
plot_rank_allocation({m: atlas[m].to_dict() for m in atlas.columns}, ax=ax,
                     title=f"LoRA rank per module ({main[0]['task']}, seed {main[0]['config']['seed']}): {backbone}")
ax.tick_params(axis="x", labelsize=8)
ax.title.set_fontsize(9)
fig.tight_layout()
plt.show()
spearman.round(2)

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_spearman(spearman)

# %% [markdown]
# Cost per method, medians over the study's runs: trainable parameters during training, LoRA parameters at evaluation (AdaLoRA after pruning), time per training step relative to LoRA, the time to build and initialise the adapted model, and peak memory (on CPU the process's maximum resident memory so far, an upper bound; `benchmarks/training_cost.py` isolates each method in its own process).

# %%
cost_table(main).round(2)

# %% [markdown]
# The official code evaluates nested adapters at a random rank per module; the same trained weights at full rank (this kit) and at a random rank:

# %%
random_rank_evaluation(main, metric)

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_random_rank(main, metric)

# %% [markdown]
# ## 5. What the stand-ins can and cannot say about the paper's regime
#
# The offline study answers its five questions for a small ViT (ViT-S/14 at 56 px, 16 patches) fine-tuned for the optimiser steps section 2 reports, on two stand-in tasks. It can show whether a stable-rank allocation changes what LoRA learns there, how large a difference these run counts can resolve, and how the verdicts change with the shot count and the scale. It cannot say what happens on MedFMC or VTAB-1k with ViT-B/16 at 384 px, where the paper's ranks are larger, the images are real and the domain gaps differ: a verdict here is about the stand-ins.
#
# The same study on the paper's data is one command, with MedFMC and VTAB-1k under `data/` and a GPU:
#
# ```
# srlora sweep grids/baseline-study-paper.toml --records results/baseline-study-paper.jsonl --jobs 1
# ```
#
# then lesson 05 and appendices 05a and 05c with `preset="paper"` read those records (the lesson trains what they lack). `preset="tutorial"` does the same on MedMNIST DermaMNIST and EuroSAT.
#
# | | official code and paper | this study |
# |---|---|---|
# | budget | SR-LoRA's paper ranks: 8.8x LoRA r=8's parameters on ViT-B/16 (from the official ranks) | every LoRA-type method at LoRA r=8's budget, except `srlora`/`srlora_nested`, which keep the paper rule and say so |
# | model selection | VTAB: best test-set epoch | best validation epoch, test read once |
# | evaluation of nested adapters | a random rank per module | full rank; the random-rank number beside it |
# | runs | one split per setting (MedFMC exp1) | registered run counts, paired differences, equivalence and Holm |
# | scaling | 1/r for every rank | 1/r, and 1/sqrt(r) for LoRA and SR-LoRA alike |
# | learning rate and scale | one for every method | also each method's own, chosen on selection seeds and confirmed on fresh ones ([appendix 05b](05b_tuned_protocol.ipynb)) |
