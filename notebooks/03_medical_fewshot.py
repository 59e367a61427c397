# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Few-shot training on medical images: SR-LoRA against LoRA and friends
#
# **You will learn** to
# * run the whole pipeline on a few-shot task: data, rank allocation, training, model selection, one test evaluation;
# * choose a model on the validation split only, and say why the test set must never choose anything;
# * compare methods fairly: several seeds, differences paired by seed, a 95% interval, and raw-pixel baselines as a bar to clear;
# * read a result on stand-in data for what it is: a demonstration of the pipeline, not a medical result.
#
# **Before you start**: lessons 00 (LoRA, its scale), 01 (the stable rank) and 02 (rank allocation, `srlora_budget`); a paired t-interval (lesson 00's refresher). **Time**: reading about 40 minutes; running under a minute (the runs are read from the kit's records; one is trained again).
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](glossary.md).
#
# The paper's claim is that a stable-rank prior helps most when the **domain gap** (how far the target images are from the images the backbone was pretrained on; lessons 04 and 07 measure it) is large and **data are scarce**, as in medical imaging. A **few-shot** task gives each class only K training images (**K-shot**). This notebook follows the kit's core methods (the **linear probe**, which trains only a new classifier on frozen features; **full fine-tuning**, which trains every weight; LoRA; and SR-LoRA in two forms; lesson 05 compares every method of the kit, from its shipped study) through training on a few-shot task and compares them fairly: model selection on a validation split only, one test evaluation, several seeds, and a budget-matched SR-LoRA next to the paper's rule.
#
# | preset | task | backbone | meant for |
# |---|---|---|---|
# | `offline` (default) | grey texture patches cut from six scikit-image photographs (brick, grass, gravel, cells, immunohistochemistry, retina), **a stand-in** for patch classification as in histology (MedFMC ColonPath); they are **not medical data** (`task="digits"` gives scikit-learn's 8x8 digits: an instructive case to hold against the raw-pixel baselines) | offline DINOv2 ViT-S/14, 56 px | running anywhere, in minutes |
# | `tutorial` | MedMNIST DermaMNIST (downloaded with `pip install medmnist` when online, or `data/medmnist/dermamnist.npz`) | offline DINOv2 ViT-S/14, 112 px | a laptop CPU or one GPU |
# | `paper` | MedFMC ChestDR (`task="medfmc:colon"` / `"medfmc:endo"` for the others), official 1/5/10-shot splits exp1–exp5, from `MedFMC/` in the data folder (the repository's `data/`, or `$SRLORA_DATA`); the kit's tests run it on synthetic files in the official layout (lesson 06) | ViT-B/16 in21k, 384 px, 20 epochs, batch 4 | a GPU, for reproduction |
#
# **Read the offline numbers as a demonstration of the pipeline on stand-in data, never as medical results.** A **stand-in** is a dataset used in place of the real one because the real one cannot be had offline; every table and figure made from one says so.

# %% tags=["parameters"]
# Parameters (papermill): the defaults are the offline preset used in CI.
preset = "offline"  # offline | tutorial | paper
task = None  # None: the preset's task; e.g. "medfmc:endo", "vtab:resisc45", "medmnist:bloodmnist"
seeds = None  # None: the preset's seeds (initialisation and data order; they also draw the splits except on MedFMC)
exps = None  # None: the preset's MedFMC official splits (paper: exp1-exp5); other tasks ignore it
shots = None  # None: the preset's shots, e.g. [1, 5, 10]
epochs = None  # None: the preset's epochs
methods = None  # None: the preset's linear_probe, full_ft, lora, srlora, srlora_budget (05 compares all)
backbone = None  # None: the preset's; "dinov2_vits14_imgfocus" runs the paper preset on the offline backbone
img_size = None  # None: the preset's image size in px
records = None  # a .jsonl path keeps every run's record and lets an interrupted sweep resume
rerun = False  # True: train every run here; False: read the offline preset's runs from the kit's shipped records
data_root = None  # None: $SRLORA_DATA, else the checkout's data/, else ./data; a folder path sets it (hosted Jupyter)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import srlora_utils as S
from srlora_utils import plot_rank_allocation, plot_results, plot_training_curves, show_examples, use_data_dir
from srlora_utils.analysis import (adaptation_gain, allocation_summary, cost_table, rank_allocations, read_gain,
                                   read_ranking)
from srlora_utils import check_parameters
from srlora_utils.experiments import (base_config, baseline_table, example_task, first_repeat, lesson_records,
                                      notebook_settings, recheck, run_sweep, summary_table, task_exps)

check_parameters(preset=preset, task=task, seeds=seeds, exps=exps, shots=shots, epochs=epochs, methods=methods,
                 backbone=backbone, img_size=img_size, records=records, rerun=rerun, data_root=data_root)
pd.set_option("display.precision", 1)
use_data_dir(data_root)  # where MedFMC/ and medmnist/ are read
settings = notebook_settings("medical", preset, task=task, seeds=seeds, exps=exps, shots=shots, epochs=epochs,
                             methods=methods, backbone=backbone, img_size=img_size)
exps = task_exps(settings, settings["task"])
settings

# %% [markdown]
# ## 1. The task
#
# A **seed** draws K examples per class for training and another K per class for the **validation split** (disjoint), the images used to choose among epochs and settings; the **test set** is fixed and never used to choose anything. On MedFMC the official split files fix train and validation instead, one per split `exp1`–`exp5`, and the seed fixes only the initialisation and data order. Inputs are normalised with the mean and std the backbone was pretrained with, except in the paper preset, which keeps the official recipe's ImageNet statistics (`normalize="official"`; notebook 06 discusses the difference).

# %%
example = example_task(settings)
print(example.summary())
print(example.description)
fig = show_examples(example, per_class=4)
plt.show()

# %% [markdown]
# ## 2. The backbone's rank allocation
#
# The LoRA-type methods all adapt the same matrices, the official target: Q and V inside each block's attention and the attention output `proj`. They differ only in the ranks: uniform `r = 8` (LoRA), `round(stable rank)` (SR-LoRA, the paper's rule), and stable-rank-proportional ranks at LoRA's parameter count (SR-LoRA budget).

# %%
backbone = S.split_qkv(S.load_backbone(settings["backbone"], img_size=settings["img_size"]))
profile_table = S.spectral_profile(backbone, "official")
allocations = rank_allocations(profile_table, r=8)  # paper rule, LoRA's budget, uniform r = 8
allocation_summary(profile_table, allocations)

# %%
ax = plot_rank_allocation(allocations, title=f"LoRA ranks per module: {settings['backbone'] or S.OFFLINE_BACKBONE}")
plt.show()

# %% [markdown]
# ## 3. Training the methods
#
# Each run: AdamW with the official learning rates (1e-3 for LoRA-type methods and the linear probe, 2e-5 for full fine-tuning), cosine schedule with linear warm-up, gradient clipping at 1.0, the preset's augmentation (offline and tutorial: a mild affine jitter, since the official RandomResizedCrop, which keeps as little as 8% of an image, destroys a tiny stand-in; paper: the official RandomResizedCrop and flip). After every epoch the validation metric (accuracy, or **mAP**, mean average precision over classes, for multi-label tasks where an image can carry several labels) is measured; the best epoch's weights are restored and evaluated once on the test set. (Is the best validation epoch a good choice on 18 validation images? Lesson 05's [appendix 05b](appendix/05b_tuned_protocol.ipynb) tests it against simply keeping the last epoch.) Unlike the official code, evaluation uses the adapters at full rank (the official code trains with **random rank sampling**, a random rank at every step, and evaluates at a random rank too: lesson 06). A progress bar counts the runs (`srlora train` and `train(..., progress=True)` show the running loss and validation metric per epoch).
#
# With the offline preset the sweep *reads* its runs instead of training them: they were trained once and ship with the kit (`results/lessons/records.jsonl`). The next section says why; `rerun=True` trains every run here (minutes on a laptop CPU), and the other presets train what the records lack.

# %%
# NBVAL_IGNORE_OUTPUT
runs = run_sweep(base_config(settings), settings["methods"], settings["seeds"], settings["shots"], records=records,
                 exps=exps, shipped=lesson_records(rerun))

# %% [markdown]
# ### Why a lesson reads its runs, and how it checks them
#
# A seed fixes the split, the initialisation and the order of the data, so the same command gives the same numbers on the same machine, but not to the last bit on another processor. So the tables below come from runs trained once, and the cell below trains one of them again here and **asserts** that its test accuracy is within one test image of the record ([setup.md](setup.md) says more).

# %%
# NBVAL_IGNORE_OUTPUT
recheck(runs, "srlora_budget")

# %%
metric = "mAP" if example.multilabel else "accuracy"
curves = first_repeat(runs)
fig = plot_training_curves(curves, metric, title=f"{example.display_name}, {curves[0]['config']['shots']}-shot, "
                           + (f"exp{exps[0]}" if exps else f"seed {settings['seeds'][0]}"))
plt.show()

# %% [markdown]
# ## 4. Results
#
# Mean and standard deviation across runs (seeds, and MedFMC splits) of the test metrics, with each method's trainable parameters (LoRA matrices plus the classifier head; the whole network for full fine-tuning).

# %%
summary = summary_table(runs)
summary.drop(columns=["step_ms"])

# %% [markdown]
# Next to them, simple baselines fitted to the same K-shot images (same seeds, same size, no augmentation): a 1-nearest-neighbour and a logistic regression on raw pixels. A fine-tuned network that is not ahead of them (paired by seed, section 4's standard) has not yet shown, on these runs, that it earns its cost on this task.

# %%
baseline_table(settings["task"], settings["shots"][0], settings["seeds"], settings["img_size"], settings["root"], exps,
               settings.get("medmnist_size", 28))

# %%
# NBVAL_IGNORE_OUTPUT
# Cost on this machine (varies between runs): medians per method of step time, set-up time and peak memory.
cost_table(runs)

# %%
ax = plot_results(summary, metric, title=f"{example.display_name}: test {metric} vs trainable parameters")
plt.show()

# %% [markdown]
# The reading below is generated from the runs. Two methods are compared by their **paired difference**: on each seed, one method's score minus the other's (the same seed gives both the same images, so the difference removes what the seed does to both), averaged over seeds, with a **95% interval** (a t-interval over seeds: lesson 00's refresher). "Ahead" or "behind" is said only when the interval excludes zero. It names the two highest means and SR-LoRA's two forms against LoRA.

# %% jupyter={"source_hidden": true}
read_ranking(runs, metric)

# %% [markdown]
# How much does adapting the backbone add over the frozen features? The **adaptation gain** (lesson 04 makes it its lesson) is the best adapting method's gain over the linear probe, paired by seed:

# %%
gain = adaptation_gain(runs, metric)
display(gain)

# %% jupyter={"source_hidden": true}
read_gain(gain, metric)

# %% [markdown]
# ## 5. What these numbers do and do not show
#
# * **They show** that the whole pipeline works end to end on this preset: allocation from the pretrained weights, placement through PEFT, training with validation-only model selection, and one test evaluation per run, reproducibly for a seed.
# * **The comparison is fair by construction** in two ways the paper's is not: `srlora_budget` has exactly LoRA's parameter budget (so a difference between them is the allocation's, not the budget's), and no number was chosen on the test set (the official VTAB-1k numbers were; notebook 06 has the details).
# * **Against simple baselines**: the raw-pixel baselines above are the bar a fine-tuned network must clear on the same K-shot images; a method that is not ahead of them has not shown that it learned more than pixels do. Try `task="digits"`: an upsampled 8x8 digit can be easier to match pixel by pixel than to read through ImageNet-style features, and the baseline table there tells you whether that happens.
# * **They do not show** anything about the real task of this notebook when the preset is `offline`: the data are a stand-in chosen for its large domain gap, the images are tiny, the backbone is a ViT-S/14 rather than the paper's ViT-B/16, and training is short. Only a paired difference whose 95% interval excludes zero is read as a difference; the reading above says which comparisons are resolved, and on how many runs.
# * For the paper's setting, run with `preset="paper"` on the real data (see the table at the top and `data/README.md`), ideally with `records="results/<name>.jsonl"` so that an interrupted sweep resumes.

# %% [markdown]
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
from srlora_utils.analysis import lesson_takeaways

lesson_takeaways(runs, metric)

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# Each exercise uses the library; a worked solution follows it (folded on the course site). Graded items are checked by `grader.check` in the student release (`make student`; see [teaching.md](teaching.md)).
#
# 1. **One more method** (open-ended). Train DoRA (`method="dora"`) on the first seed (and split) with the same settings, and put its test metric next to LoRA's on the same seed. One run is one data point: what would you need before calling a difference?
# 2. **Paired differences** (graded: store your answer in `answer_2`). Each seed draws its own split and head initialisation, which moves every method at once. Use `paired_differences` (from `srlora_utils.analysis`) to compare `srlora_budget` with `lora` seed by seed, with a 95% interval, and store the mean paired difference (`srlora_budget` − `lora`, in points) as a float in `answer_2`.

# %% tags=["solution", "hide-cell"]
# Solution 1: DoRA on the first repeat, with exactly the sweep's settings.
import dataclasses

from srlora_utils import train

first_cfg = curves[0]["config"]
dora = train(dataclasses.replace(base_config(settings), method="dora", shots=first_cfg["shots"], seed=first_cfg["seed"],
                                 exp=first_cfg["exp"]), records=records, progress=False)
lora_run = next(r for r in curves if r["config"]["method"] == "lora")
print(f"{example.display_name}: test {metric} DoRA {dora['test'][metric]:.1f}% vs LoRA {lora_run['test'][metric]:.1f}% "
      f"(one seed; {dora['trainable_params']:,} vs {lora_run['trainable_params']:,} trainable parameters)")

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 2: differences to LoRA paired by seed (and split); `verdict`: ahead/behind only if the interval excludes 0.
# BEGIN SOLUTION
from srlora_utils.analysis import paired_differences

paired = paired_differences([r for r in runs if r["config"]["method"] in ("lora", "srlora_budget")], metric)
display(paired.round(2))
# END SOLUTION
answer_2 = float(paired["mean diff"].iloc[0])  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_2, float), "answer_2 should be one number (a float): the mean paired difference in points"

# %% tags=["check-hidden", "remove-cell"]
import numpy as np

_by = {m: {r["config"]["seed"]: r["test"][metric] for r in runs if r["config"]["method"] == m}
       for m in ("srlora_budget", "lora")}  # fmt: skip
assert abs(answer_2 - np.mean([_by["srlora_budget"][k] - _by["lora"][k] for k in _by["lora"]])) < 1e-6
