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
# # 05b · Appendix: the tuned protocol, how each method's setting was chosen
#
# **What it holds**: how the baseline study's second protocol was registered, the selection curves of every method on both tasks, why the shared setting of the official protocol is not neutral, the setting chosen for each method (and what that answers about the update scale), how often the tie rule decided, the scale each update ends up with, the winner's curse, and the epoch that validation selects against the last one.
#
# **Extends**: [lesson 05](../05_baseline_comparison.ipynb), section 4 (read the lesson first: it defines the verdicts and the two protocols). The tuned protocol's verdicts and checks are in [appendix 05d](05d_tuned_verdicts.ipynb); the official protocol's readings in [appendix 05a](05a_official_protocol.ipynb) and [appendix 05c](05c_official_context.ipynb).
#
# **Time**: reading about 37 minutes (a reference: read the sections you need), running about 20 s (the runs are read from the shipped records).
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](../glossary.md).
#
# **Every number here comes from stand-in data** (grey texture patches for the medical side, LFW faces against non-faces for the remote-sensing side, offline DINOv2 ViT-S/14 at 56 px): a demonstration of the method and of the statistics, never medical or remote-sensing results.

# %% tags=["parameters"]
# Parameters (papermill): the defaults read the offline study's shipped records under both protocols (nothing trains).
official_records = None  # None: the shipped results/baseline-study/records.jsonl
tuned_records = None  # None: the shipped results/tuned-study/records.jsonl

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import srlora_utils as S
from srlora_utils import plot_selection_curves
from srlora_utils.analysis import (last_epoch_table, load_protocols, progress_table, read_design, read_last_epoch,
                                   read_q4_scaling, read_selected_epochs, read_shared_setting, read_ties,
                                   read_winners_curse, scale_table, selection_curves, study_state,
                                   winners_curse_table)
from srlora_utils import check_parameters
from srlora_utils.experiments import chosen_table

check_parameters(official_records=official_records, tuned_records=tuned_records)
pd.set_option("display.precision", 2)
metric = "accuracy"
both = load_protocols(official_records, tuned_records)
assert both.complete, "tuned records incomplete: `make tuned-study TUNED_RECORDS=results/tuned-study/records.jsonl`"
backbone = f"{both.settings['backbone'] or S.OFFLINE_BACKBONE} at {both.settings['img_size']} px"
progress_table(both.settings, both.records)

# %% [markdown]
# ## 1. The protocol, as registered
#
# The official protocol runs every LoRA-type method at one learning rate (1e-3) and the official 1/r scale, and each peer as the official comparison set it up. That is a choice, not neutrality. A step size is a property of a method, not of the task: the update LoRA adds is `scale · B A`, so the rate and the scale act together, and methods build their update differently (AdaLoRA's starts from a zero singular-value vector between two factors and divides by its rank count; PiSSA's factors start large, from the weights' principal directions; a rank-40 SR-LoRA module under 1/r is scaled five times less than a rank-8 one). One rate can suit one of them and under-train another, and then a comparison measures the rate, not the method.
#
# The **tuned protocol** (`grids/tuned-study.toml`, written with its rule, seeds and run counts before any of its runs) lets validation choose for each method and task:
#
# * **the candidates**: three learning rates a factor 3 apart, centred on the official one (1e-3; 2e-5 for full fine-tuning), times the scales 1/r and 1/sqrt(r) (and 1 for AdaLoRA and PiSSA, nearer than 1/r to the larger scales their authors run), times whitening for EVA; one more rate beyond the edge where the choice sits at the edge of the grid (the **edge rule**; such a run is an edge run);
# * **selection** on the **selection seeds** 100-102: the highest mean validation accuracy (ties: the smaller rate, then 1/r: the **tie rule**); the selection runs' test scores are never read;
# * **confirmation** on fresh **confirmation seeds** 0-9 (the primary pair on 0-23), the seeds the verdicts are read on;
# * **each peer as its authors and PEFT recommend** (`docs/peers.md` gives every choice and its source), a 1,200-patch textures test set, no epoch selected inside the warm-up, and the last epoch's test score kept beside the selected one.
#
# The table above counts the runs of each stage: selection, edge and confirmation. The questions, as the tuned grid registered them:

# %%
pd.Series(both.design.questions, name="question").to_frame()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_design(both.design)

# %% [markdown]
# ## 2. The selection curves: why one shared rate is not neutral
#
# Each panel is one method on one task: mean validation accuracy over the three selection seeds against the learning rate, one line per scale; the ring marks the rule's choice. One figure per task.

# %%
curves = selection_curves(both.settings, both.records)
for task in dict.fromkeys(curves["task"]):
    plot_selection_curves(curves[curves["task"] == task], f"Selection curves on {task} (stand-in, not medical or "
                          f"remote-sensing data), {backbone}: mean val accuracy over seeds 100-102; ringed: chosen",
                          columns=4)  # fmt: skip
    plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_shared_setting(curves)

# %% [markdown]
# ## 3. The choice per method and task
#
# The choice per method and task, with its mean validation score (`edge run`: the choice sat at the edge of the grid, so one more rate ran). For question 4 this protocol has no rsLoRA runs of its own: validation picks the scale together with the rate, and the pick is its answer.

# %%
chosen = chosen_table(study_state(both.settings, both.records))
chosen

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_q4_scaling(chosen, curves)

# %% [markdown]
# ## 4. How often did validation actually decide?
#
# Where candidates tie at the top (a mean over three seeds of 18 validation images on textures and 10 on LFW moves in steps of one image), the registered tie rule decides: the smaller rate, then 1/r. That is not always the candidate whose weights move least (each line gives the weight change of the choice and of the tied candidates), but where it is, a tie can leave a method near a linear probe.

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_ties(curves)

# %% [markdown]
# ## 5. The scale each update ends up with
#
# Budget matching in step size as well as in parameters: each method's confirmed setting, its LoRA parameters at evaluation, the scale its update is multiplied by (median over modules) and how far its attention weights moved (relative change, median over runs; 0 would be a linear probe).

# %%
scale_table(both.tuned, both.design)

# %% [markdown]
# ## 6. Disjoint seeds: the winner's curse
#
# The chosen setting is the best of several candidates on the selection seeds, so its selection score is biased upwards: some of its lead is luck on those seeds. This is the **winner's curse**. Read on the same seeds, a verdict would inherit that luck, and unequally: a method chosen among many candidates collects more luck than one chosen among few (the table's `candidates` column counts each method's, edge runs included: EVA's grid is the largest, the linear probe's the smallest), so reusing the selection seeds would favour the methods with the larger grids. That is why the verdicts are read on fresh confirmation seeds only.
#
# The table compares the chosen setting's mean validation score on the seeds that chose it with its mean on the confirmation seeds 0-9. Two things move that difference: the curse, and the seed sets themselves (three seeds' splits can be easier or harder than ten seeds' splits for every setting alike). The linear probe, chosen among the fewest candidates, shows mostly the second; the methods chosen among more candidates add the first.

# %%
curse = winners_curse_table(both.settings, both.records)
curse

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_winners_curse(curse)

# %% [markdown]
# ## 7. The selected epoch against the last one
#
# Validation picks an epoch on a handful of images (18 on textures at 3 shots, 6 at 1 shot, 10 on LFW); the last epoch needs no choice. Their paired difference for each method and task says what selection on so few images bought or cost on the test set:

# %%
last_epochs = last_epoch_table(both.tuned, metric, both.design)
last_epochs

# %% jupyter={"source_hidden": true} tags=["hide-input"]
display(read_selected_epochs(both.tuned))
read_last_epoch(last_epochs)
