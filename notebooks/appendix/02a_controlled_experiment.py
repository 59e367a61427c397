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
# # 02a · Appendix to lesson 02: when does the stable-rank prior help? A controlled experiment
#
# **You will learn** to read when allocating LoRA ranks by stable rank beats uniform LoRA at an equal parameter budget, on tasks built so that the rank each layer needs is known.
#
# **Before you start**: [lesson 02 · Rank allocation](../02_rank_allocation.ipynb) (the budget-matched rule, parameter budgets); the SVD.
#
# **Time**: reading about 13 minutes, running about 10 s.
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](../glossary.md).

# %% tags=["parameters"]
# Parameters (papermill): the defaults run offline, as lesson 02.
backbone = None  # None: offline DINOv2 ViT-S/14; or a timm name / checkpoint path
target = "official"  # official | qv_separate | qkv | all_linear
r = 8  # uniform LoRA rank that lesson 02 compares with

# %%
import matplotlib.pyplot as plt
import pandas as pd

import srlora_utils as S
from srlora_utils import Reading, allocation_experiment, experiment_reading, plot_allocation_experiment
from srlora_utils import check_parameters
from srlora_utils.core import official_vitb16_ranks, official_vitb16_shapes

check_parameters(backbone=backbone, target=target, r=r)
pd.set_option("display.max_rows", 20)
# lesson 02's profile and parameter counts: the paper's rule and uniform LoRA on this backbone, and on ViT-B/16
fused = ("qkv", "all_linear")
profile = S.spectral_profile(S.load_backbone(backbone) if target in fused else S.split_qkv(S.load_backbone(backbone)),
                             target)  # fmt: skip
n_paper = S.lora_parameter_count(S.allocate_ranks(profile, "paper"), profile)
n_uniform = S.uniform_budget(profile, r)
vitb_shapes = official_vitb16_shapes()
vitb_ratio = S.lora_parameter_count(official_vitb16_ranks(), vitb_shapes) / S.uniform_budget(vitb_shapes, 8)

# %% [markdown]
# ## Tasks whose needs are known
#
# SR-LoRA rests on an assumption: a layer whose pretrained weights spread their energy over more directions (a larger stable rank) needs more rank to adapt. On real tasks we never see how much rank each layer *needs*, so here we build tasks where we know it. Each adapted matrix of this backbone gets a target update $\Delta W$ of rank $k$ with equal singular values, where $k$ is
#
# * **proportional** to the layer's stable rank: the prior is right;
# * **inversely proportional** to it: the prior is wrong;
# * **the same** for every layer: the prior has nothing to find.
#
# The needed ranks are scaled to average 8, then rounded to whole ranks. The **truncated SVD** of rank $r$ keeps the $r$ largest singular values of a matrix and their directions; by the **Eckart–Young theorem** it is the closest matrix of rank $r$. So LoRA of rank $r$ on a linear layer with whitened inputs (inputs whose directions all have the same variance) is best fitted by the truncated SVD of $\Delta W$, and gradient descent on the LoRA factors converges to it (the kit's `tests/test_controlled.py::test_a_trained_lora_reaches_the_eckart_young_error` trains one and checks it). An allocation's **fit error** is therefore the share of the update's energy, $\lVert \Delta W \rVert_F^2$, that its ranks cannot represent. At each parameter budget we compare uniform LoRA with stable-rank allocation (the budget-matched rule) at the same budget.

# %%
mean_rank = 8  # the needed ranks' average
experiment = allocation_experiment(profile, budgets_r=[2, 4, 8, 16, 32], mean_rank=mean_rank)
spent = experiment.pivot_table(index=["need", "budget (uniform r)"], columns="allocation", values="LoRA parameters")
assert (spent["stable-rank allocation"] <= spent["uniform LoRA"]).all(), spent  # never more than uniform LoRA
fig = plot_allocation_experiment(experiment, f"constructed updates, {backbone or S.OFFLINE_BACKBONE}, target {target}")
plt.show()

# %% [markdown]
# The same fit errors as a table, in % of the update's energy:

# %%
error = experiment.pivot_table(index=["need", "budget (uniform r)"], columns="allocation", values="relative error")
(100 * error).round(1).add(0.0).map(lambda x: f"{x:.1f}%")  # add(0.0) turns a rounded -0.0 into 0.0

# %% jupyter={"source_hidden": true} tags=["hide-input"]
Reading(
    experiment_reading(experiment, profile, mean_rank=mean_rank)
    + [
        "",
        "This is fit error in a toy model, not accuracy. Which case a real task is cannot be read off the weights; it "
        "shows only in results at equal budget, which is why lessons 03-05 add `srlora_budget` (stable-rank "
        f"allocation at LoRA's budget) beside the paper's rule, whose budget ({n_paper / n_uniform:.2f}x uniform LoRA "
        f"r={r}'s on this backbone and target, {vitb_ratio:.1f}x LoRA r=8's with the official ViT-B/16 ranks) mixes "
        "the allocation with the budget.",
    ]
)

# %% [markdown]
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
at_8 = error.xs(mean_rank, level="budget (uniform r)")
Reading(
    [
        "* At an equal budget, stable-rank allocation only moves rank between layers: from the budget of the "
        f"average need ($r = {mean_rank}$) up, it gains where the rank a layer needs follows its stable rank and "
        "loses where it does not; at smaller budgets the ranking can flip.",
        f"* At $r = {mean_rank}$ its fit error is {at_8.loc['proportional', 'stable-rank allocation']:.1%} when the "
        f"prior is right (uniform LoRA {at_8.loc['proportional', 'uniform LoRA']:.1%}) and "
        f"{at_8.loc['inverse', 'stable-rank allocation']:.1%} when it is wrong (uniform LoRA "
        f"{at_8.loc['inverse', 'uniform LoRA']:.1%}).",
        "* The weights alone cannot tell which case a real task is: only results at an equal budget can.",
    ]
)

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# One question on the experiment's table; a worked solution follows it.
#
# 1. **Where does the prior pay?** When the need is proportional to the stable rank, at which budgets (uniform $r$) does stable-rank allocation have a smaller fit error than uniform LoRA? Use `experiment` (or `error`). **(graded: store your answer in `answer_1`)**: the budgets, a sorted list of ints.

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 1: the proportional need's rows, where stable-rank allocation's error is below uniform LoRA's.
# BEGIN SOLUTION
right = error.xs("proportional", level="need")
better = right.index[right["stable-rank allocation"] < right["uniform LoRA"] - 1e-12]
print(f"stable-rank allocation fits better at r = {', '.join(map(str, better))}")
# END SOLUTION
answer_1 = sorted(int(b) for b in better)  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_1, list) and all(isinstance(b, int) for b in answer_1), "answer_1: a list of ints, e.g. [2, 4]"

# %% tags=["check-hidden", "remove-cell"]
rows_1 = experiment[experiment["need"] == "proportional"].pivot(index="budget (uniform r)", columns="allocation",
                                                                 values="relative error")  # fmt: skip
assert answer_1 == [int(b) for b in rows_1.index if rows_1.loc[b, "stable-rank allocation"]
                    < rows_1.loc[b, "uniform LoRA"] - 1e-12], answer_1  # fmt: skip
