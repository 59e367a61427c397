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
# # 05d · Appendix: the tuned protocol's verdicts and checks
#
# **What it holds**: the verdicts of both protocols side by side and which ones change, what that comparison can and cannot tell, the precision question 3 reached, what each test set can resolve, whether every method trained beyond a linear probe and beyond raw pixels, which "ahead" verdicts rest on a reference that barely trained, and each method's test accuracy and AUC.
#
# **Extends**: [lesson 05](../05_baseline_comparison.ipynb), section 5 (read the lesson first: it defines the verdicts and the two protocols). How the tuned protocol chose each method's setting is in [appendix 05b](05b_tuned_protocol.ipynb); the official protocol's readings in [appendix 05a](05a_official_protocol.ipynb) and [appendix 05c](05c_official_context.ipynb).
#
# **Time**: reading about 23 minutes (a reference: read the sections you need), running about 35 s (most of it fitting the raw-pixel baselines; the runs are read from the shipped records).
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](../glossary.md).
#
# **Every number here comes from stand-in data** (grey texture patches for the medical side, LFW faces against non-faces for the remote-sensing side, offline DINOv2 ViT-S/14 at 56 px): a demonstration of the method and of the statistics, never medical or remote-sensing results.
#
# The **tuned protocol** (`grids/tuned-study.toml`, registered before its runs) trains every method at the learning rate and update scale that validation chose for it on the selection seeds 100-102 (appendix 05b), then reads its verdicts on fresh confirmation seeds 0-9 (the primary pair on 0-23).

# %% tags=["parameters"]
# Parameters (papermill): the defaults read the offline study's shipped records under both protocols (nothing trains).
official_records = None  # None: the shipped results/baseline-study/records.jsonl
tuned_records = None  # None: the shipped results/tuned-study/records.jsonl

# %%
import pandas as pd
from IPython.display import display

from srlora_utils.analysis import (cell_means, comparison_table, load_protocols, official_scaling, protocol_table,
                                   q3_power_table, read_baselines, read_protocol_changes, read_q3_power,
                                   read_test_resolution, read_weak_references, study_pixel_baselines)
from srlora_utils import check_parameters

check_parameters(official_records=official_records, tuned_records=tuned_records)
pd.set_option("display.precision", 2)
metric = "accuracy"
both = load_protocols(official_records, tuned_records)
assert both.complete, "tuned records incomplete: `make tuned-study TUNED_RECORDS=results/tuned-study/records.jsonl`"

# %% [markdown]
# ## 1. The verdicts under both protocols
#
# The same questions, the same reading rules (paired by seed, 95% t intervals, the equivalence margin) and Holm's correction over each protocol's own family of comparisons. The tuned textures runs are tested on 1,200 patches, the official ones on 180; tasks are matched by name.

# %%
table_both = protocol_table(both.official, both.official_design, both.tuned, both.design, metric)
table_both[["verdict official", "verdict tuned", "difference official", "difference tuned", "changed"]]

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_protocol_changes(table_both)

# %% [markdown]
# What this comparison can and cannot tell:
#
# * **More than the rate changed.** Besides each method's rate and scale, the tuned protocol sets the peers up as their authors do, tests textures on 1,200 patches instead of 180, forbids selecting an epoch inside the warm-up and breaks ties by its own rule. A changed verdict is the effect of all of these together, not of tuning alone.
# * **A changed verdict is not a changed estimate.** Verdicts are categories with edges: a difference that moves a little, or an interval that narrows on a larger test set, can cross from "not resolved" to "equivalent" while the estimate barely moves. Read the two difference columns, not only the verdicts.
# * **Holm's families differ.** Each protocol is corrected over its own comparisons (the official one also holds question 4's), so a Holm flag is not comparable across the two columns.
# * **The intervals are conditional on the test set.** They vary the seeds (training images, initialisation, order) and hold the test images fixed; LFW's 100 images add a sampling error of their own that no number of seeds removes (section 2).
# * **Neither protocol overrules the other.** The official one says what the paper's recipe gives; the tuned one what each method gives at the setting validation picks for it, with validation sets this small.

# %% [markdown]
# ## 2. Question 3's precision, and what each test set can resolve
#
# Did question 3 reach the precision the grid planned for it, and what can each test set resolve at all?

# %%
q3_power = q3_power_table(both.tuned, both.design, both.plan, metric)
q3_power

# %% jupyter={"source_hidden": true} tags=["hide-input"]
display(read_q3_power(q3_power))
read_test_resolution(both.tuned, metric)

# %% [markdown]
# ## 3. Is every method trained beyond a linear probe?
#
# A method whose adapter barely moves scores like the **linear probe** (the frozen backbone with only a linear head trained) that shares its head. Every tuned method against the tuned linear probe and the better raw-pixel baseline (1-nearest-neighbour or logistic regression fitted to the same K-shot images), paired by seed, then each method's test accuracy and one-vs-rest **AUC** (the area under the ROC curve: the chance that a random image of a class scores higher for that class than a random image of another, averaged over classes) on each task. Where a method is not ahead of the probe, look up its weight change in the scale table (appendix 05b) and its choice among the ties (appendix 05b): a tie broken towards the smallest step can leave an adapter that hardly moved, and then the verdicts against it say little about its allocation.

# %%
pixels = study_pixel_baselines(both.tuned, both.settings)

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_baselines(both.tuned, pixels, metric)

# %% [markdown]
# A verdict "ahead" is only as informative as its reference: a win over an adapter that is not separated from a linear probe shows that the reference did not train, not that the winner's allocation helps. Each protocol's "ahead" verdicts (the official one at its 1/r runs), checked against that protocol's own linear probe:

# %% jupyter={"source_hidden": true} tags=["hide-input"]
official_main = official_scaling(both.official)
display(read_weak_references(comparison_table(official_main, both.official_design, metric), official_main, metric,
                             "Official protocol"))
read_weak_references(comparison_table(both.tuned, both.design, metric), both.tuned, metric, "Tuned protocol")

# %%
cell_means(both.tuned, (metric, "AUC"), both.design).round(2)
