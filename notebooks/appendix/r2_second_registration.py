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
# # r2 · Appendix: the second registration
#
# **What it holds**: a second set of registered questions, asked because a reviewer would ask them of the first: can this set-up see an allocation effect at all (a positive control), does selection on a validation pool large enough to tell candidates apart change the verdict, does the verdict hold once the adapters train three times longer, does question 3 change when AdaLoRA runs as its authors' scripts run it, does question 6 hold with the rungs as the units, and would any verdict change on another machine. Both registrations' verdicts side by side at the end.
#
# **Extends**: [lesson 05](../05_baseline_comparison.ipynb) (the pair, the verdicts, the tuned protocol) and [lesson 07](../07_gap_ladder.ipynb) (the gap ladder, question 6). The first registration's readings are in [appendix 05b](05b_tuned_protocol.ipynb) and [appendix 05d](05d_tuned_verdicts.ipynb).
#
# **Time**: reading about 45 minutes (a reference: read the sections you need), running about 25 s (every run is read from the shipped records; nothing trains).
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](../glossary.md).
#
# **Every number here comes from stand-in data** (grey texture patches, LFW faces against non-faces, digits and Fashion-MNIST rungs, offline DINOv2 ViT-S/14 at 56 px): a demonstration of the method and of the statistics, never medical or remote-sensing results.
#
# The registration (`grids/registration-2/README.md` and its five grid files) was committed before any of its runs; its records are in `results/registration-2/`. The first registration's records and verdicts stay as they were.

# %% tags=["parameters"]
# Parameters (papermill): the defaults read the shipped records of both registrations (nothing trains).
records = None  # None: the shipped results/registration-2/; a folder of your own `make registration-2` run

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from srlora_utils import plot_comparisons
from srlora_utils.analysis import (MARGIN, adalora_table, as_comparisons, compute_table,
                                    draw_machine_runs, load_registration2, long_schedule_table,
                                    machine_table, positive_control_table, q6_table, read_answer,
                                    read_control, read_official_last_epoch, read_q6_rungs,
                                    read_rule_agreement, rule_agreement, rung_points,
                                    selection_pool_table, side_by_side, verdict_table)
from srlora_utils import check_parameters

check_parameters(records=records)
pd.set_option("display.precision", 2)
reg = load_registration2(records)
BACKBONE = "offline DINOv2 ViT-S/14, 56 px"

# %% [markdown]
# ## 1. Where the registration stands
#
# Each part is a tuned grid: selection on selection seeds, the edge rule, then confirmation on fresh seeds. Runs the first registration already made at the same setting are reused (they count as recorded). A part is read only once every method has its choice and every confirmation run is in.

# %%
progress = reg.progress_table()
assert (progress["recorded"] == progress["asked for so far"]).all() and progress["chosen"].all(), progress
progress

# %% [markdown]
# What it cost on this machine (two runs at a time on two cores): the summed run time, and the **busy wall time**, the hours during which at least one run was training (the union of the runs' spans, so the pauses between sessions do not count).

# %%
compute = compute_table(reg)
compute

# %% [markdown]
# ## 2. Can the set-up see an allocation effect? The positive control
#
# Lesson 05 found the pair (`srlora_budget`, SR-LoRA's ranks at LoRA's parameter count, against `lora`) "equivalent within ±2". That sentence means little unless the set-up can see a difference of that size. A **positive control** is a comparison built to show one: here two allocations at the same budget that should hurt, run at the pair's setting on its 24 confirmation seeds.
#
# - `lora_first_quarter`: LoRA's whole budget on the first quarter of the blocks (rank 4r there, none elsewhere);
# - `srlora_reversed`: the stable-rank order reversed (the matrix with the largest stable rank gets the smallest rank).
#
# The pair's **detectable effect** is the smallest true difference its paired t test finds with 80% power at the spread the pair showed; if it is above the margin, an effect as large as the margin would be missed more than one time in five.

# %%
control = positive_control_table(reg)
fig = plot_comparisons(as_comparisons(control, "R2Q1"), MARGIN,
                       title=f"Positive control: allocations built to hurt, against LoRA at the same budget "
                             f"({BACKBONE}; stand-in data)")  # fmt: skip
plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_control(control)

# %% [markdown]
# ## 3. Selection that can tell candidates apart
#
# In the first registration each candidate setting was judged on 18 validation patches (textures) or 10 images (LFW): one image moved a mean by 1.85 or 3.33 points, and most choices were ties. Here the pair (and the two controls) are re-selected on a **validation pool** of 240 texture patches, a band of the photographs reserved for validation (`textures:large-val`: disjoint from training and test, a new task name so that old records keep their meaning), then confirmed on 24 fresh seeds (300-323). LFW holds 200 images in all and cannot get such a pool.
#
# Two intervals: over seeds (the registered verdict), and over seeds and test images together (each replicate resamples the seed pairs and, alike for every run, the 1,200 test patches, from the per-image predictions the new runs store; the first registration's runs did not store them and cannot be resampled this way).

# %%
pool = selection_pool_table(reg)
pool

# %%
pool_control = positive_control_table(reg, "selection-pool")
read_control(pool_control, "The controls after selection on 240 validation patches")

# %% [markdown]
# ## 4. The last epoch as a sensitivity analysis
#
# A **sensitivity analysis** reads the same question a second, registered way, to see whether the answer depends on a choice. The selected epoch (the best on validation) can sit anywhere in the schedule; the last epoch is what a reader who does not select would report. For every study whose records hold each run's validation history: how often the selection rule makes the same choice when it reads the last epoch's validation score instead of the best epoch's.

# %%
agreement = rule_agreement(reg)
display(read_rule_agreement(agreement))
read_official_last_epoch()

# %% [markdown]
# Every comparison this registration reads, at the selected epoch (its registered verdict) and at the last epoch:

# %%
verdicts = verdict_table(reg)
verdicts

# %% [markdown]
# ## 5. Training long enough to move
#
# Adapters move the backbone's attention weights by 1-2% in the 1x schedule. The pair at 3x the steps (60 epochs) on 10 seeds, at the 1x schedule's chosen setting (a fixed setting, stated as such, not tuned again), with each method's median **weight change** (the relative Frobenius change of the attention weights) beside it:

# %%
long = long_schedule_table(reg)
assert long.filter(like="weight change").notna().all().all(), "every schedule reports its weight change"
long

# %% [markdown]
# ## 6. AdaLoRA as its authors' scripts run it
#
# Question 3 compared SR-LoRA with AdaLoRA set up as the study first ran it. Its authors' scripts (eight GLUE scripts, `docs/peers.md`) start from an initial rank about twice the target, scale by alpha over that initial rank, weight orthogonality at 0.1 and end the pruning near half the steps. The target rank stays 8 (the budget); the rate is chosen again on the selection seeds. The same comparisons against both set-ups, paired by seed:

# %%
adalora = adalora_table(reg)
adalora

# %% [markdown]
# ## 7. Question 6 read rung by rung
#
# Question 6 asks whether the pair's difference grows with the domain gap. The first registration's interval resampled seeds within rungs, as if the rungs were fixed and known; a rung is itself one draw of a transformation, so the registered reading here takes the rungs as the units (**rung-level inference**): each rung's mean difference on its measured gap, one intercept per label source (a fixed effect: the sources differ in more than their gaps), a t interval on the slope with the rungs' degrees of freedom. Twelve rungs (two new per source, their gaps measured before their runs), both methods at one learning rate per rung chosen on their summed validation score.

# %%
points = rung_points(reg)
points[["source", "gap", "shared lr", "pairs", "difference", "ci low", "ci high", "verdict"]]

# %%
q6 = q6_table(reg)
display(q6)
read_q6_rungs(q6)

# %% [markdown]
# ## 8. Robust to the machine?
#
# Twenty of this registration's runs, drawn at random (`draw_machine_runs`, seed 36), trained again in the second **numerical environment** that `make test` uses (another thread count and matrix-multiplication path: tests/test_other_machine.py), on this same machine. How many moved; the runs that moved, by how much (in points and in test images), and whether their selected epoch moved:

# %%
drawn = draw_machine_runs(reg)
moved = machine_table(reg)
print(f"{len(moved)} of the {len(drawn)} drawn runs trained again" + ("" if len(moved) == len(drawn) else
      " so far: `make registration-2` trains the rest"))  # fmt: skip
moved[moved["change"] != 0][["task", "method", "seed", "stored", "again", "change", "images", "epoch moved"]]

# %% [markdown]
# Every verdict again with the re-trained runs in place of the stored ones; a row is listed if its verdict changes:

# %%
again = verdict_table(reg, replace={r["key"]: r for r in reg.machine})
changed = again[again["verdict"] != verdicts["verdict"]]
largest = f" (largest {moved['change'].abs().max():.2f} points)" if len(moved) else ""
print(f"{(moved['change'] != 0).sum()} of {len(moved)} runs moved{largest}; {len(changed)} of {len(verdicts)} verdicts "
      "change")
changed[["difference", "verdict"]]

# %% [markdown]
# ## 9. Both registrations side by side
#
# Each question either registration asked, with the first registration's answer as it stood and the second's:

# %%
side_by_side(reg)

# %% [markdown]
# ## What to take away
#
# Generated from the records above (lessons 05 and 07 show the same sentences):

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_answer(reg)
