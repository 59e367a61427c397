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
# # 05 · Baseline comparison: does SR-LoRA beat LoRA at equal parameters?
#
# **You will learn** to
#
# * read a **pre-registered** comparison: what was fixed before any run, and why that protects the answer;
# * read a verdict from a **paired difference** and its **95% interval**: ahead, behind, equivalent within ±2 points, or not resolved;
# * explain what **Holm's correction** does when a study reads many comparisons, and why it is needed;
# * compare the primary answer under two **protocols**, and explain why one learning rate shared by every method is not a neutral choice;
# * say what these runs on stand-in data can and cannot tell about the paper's claim.
#
# **Before you start**: LoRA and its rank r (lesson 00); stable rank and SR-LoRA's two allocation rules, the paper's and the budget-matched one (lessons 01 and 02); few-shot fine-tuning with model selection on a validation split (lessons 03 and 04). Maths: mean, standard deviation and the t-interval of a mean.
#
# **Time**: reading about 35 minutes, running about 20 s (the lesson reads shipped records: nothing trains).
#
# Terms in **bold** are defined where they first appear and collected in the [glossary](glossary.md).
#
# The research depth behind this lesson lives in four appendix notebooks, for when you want to check a claim made here: [appendix 05a · the official protocol, question by question](appendix/05a_official_protocol.ipynb) (the run plan, power, every comparison with the five peers, Holm's correction), [appendix 05c · the official protocol in context](appendix/05c_official_context.ipynb) (the contenders, raw-pixel baselines, the allocations, each method's cost), [appendix 05b · how the tuned protocol chose each setting](appendix/05b_tuned_protocol.ipynb) (the selection curves method by method, ties, the winner's curse, the selected epoch against the last) and [appendix 05d · the tuned protocol's verdicts and checks](appendix/05d_tuned_verdicts.ipynb) (every verdict of both protocols side by side, checks against a linear probe).

# %% [markdown]
# **The default numbers come from stand-in data.** A **stand-in** is a small, freely available task that takes the place of the paper's data so that the lesson runs offline: grey texture patches cut from scikit-image photographs take the medical side (a large **domain gap**: the images are far from the photographs the backbone was pretrained on, lesson 04), and scikit-image's faces (LFW, faces against non-faces) the remote-sensing side (a small gap). Read them as a demonstration of the method and of the statistics, never as medical or remote-sensing results. `preset="tutorial"` (MedMNIST DermaMNIST and EuroSAT) and `preset="paper"` (MedFMC ColonPath and VTAB-1k EuroSAT on ViT-B/16) train the official protocol of the same study on real data, which needs a GPU (see [reproducing](reproducing.md)).

# %% tags=["parameters"]
# Parameters (papermill): the defaults read the offline study's shipped records (nothing trains).
preset = "offline"  # offline | tutorial | paper: which study grid (grids/baseline-study[-tutorial|-paper].toml)
records = None  # None: the preset's records (offline: the shipped results/baseline-study/records.jsonl)
rerun = False  # True: train the whole study again from scratch, into build/ (the shipped records stay untouched)
tiny = False  # True: smoke-test size (offline backbone, 28 px, one seed or split): the numbers mean nothing
epochs = None  # None: the study's; with tiny, 2 (AdaLoRA needs 4 optimiser steps to prune)
data_root = None  # None: $SRLORA_DATA, else the checkout's data/, else ./data; a folder path sets it (hosted Jupyter)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

import srlora_utils as S
from srlora_utils import plot_comparisons, use_data_dir
from srlora_utils.analysis import (Reading, StudyDesign, comparison_table, load_protocols, official_scaling,
                                   paired_differences, protocol_table, read_design, read_question,
                                   read_shared_setting, selection_curves, study_files)
from srlora_utils.analysis import load_registration2, read_answer
from srlora_utils import check_parameters
from srlora_utils.experiments import grid_configs, grid_settings, run_configs, summary_table

check_parameters(preset=preset, records=records, rerun=rerun, tiny=tiny, epochs=epochs, data_root=data_root)
pd.set_option("display.precision", 2)
use_data_dir(data_root)  # the tutorial and paper presets read their data there
grid, records = study_files(preset, records, rerun)
# at tiny size, one MedFMC split and one VTAB seed are enough to run every code path
settings = grid_settings(str(grid), tiny=tiny, epochs=epochs, **({"exps": [1], "vtab_seeds": [0]} if tiny else {}))
design = StudyDesign.from_settings(settings)
metric = "accuracy"
backbone = settings["backbone"] or S.OFFLINE_BACKBONE
print(f"study: {grid.name}; records: {S.display_path(records)}; {settings['augment']} augmentation, "
      f"{settings['normalize']} normalisation, {settings['img_size']} px")

# %% tags=["nbval-ignore-output"]
# every run of the study: read from the records, trained only where they lack it
stop = settings.get("stop_at_perfect_val", False)  # a run stops once validation is perfect: same test numbers
runs = run_configs(grid_configs(settings), records=str(records), stop_at_perfect_val=stop)
main = official_scaling(runs)  # the runs at the official scale 1/r (question 4 adds runs at 1/sqrt(r))

# %% [markdown]
# ## 1. The question
#
# The paper claims that SR-LoRA "consistently outperforms recent adaptive LoRA variants" in low-data transfer across a large domain gap. Its rule gives each adapted module round(stable rank) LoRA ranks, which spends several times the parameters of LoRA r=8 (lesson 02). A win could then come from the extra parameters rather than from a better allocation. This lesson asks the clean version of the claim:
#
# > **Does SR-LoRA beat LoRA at equal parameters?**
#
# `srlora_budget` spends exactly LoRA r=8's parameter count, distributed across modules in proportion to their stable rank; `lora` gives every module rank 8. Any difference between the two is the allocation's, not the budget's. The same study also puts SR-LoRA against five peers (AdaLoRA, DyLoRA, EVA, PiSSA and DoRA) at the same budget; those comparisons are read in the appendices.

# %% [markdown]
# ## 2. The design, fixed before the runs
#
# A **pre-registered** study writes down its questions, its runs and its reading rules before any result exists, so that the results cannot steer what is asked or how it is read. This study's grid file (`grids/baseline-study.toml`) fixed five questions, the seeds for every method and task, the training schedule, model selection on a validation split only (the test set is read once), and the rules below. Question 1 is the **primary comparison**, the one the number of runs was planned for:

# %% jupyter={"source_hidden": true} tags=["hide-input"]
Reading(f"> **Q1.** {design.questions['Q1']}\n\nThe other {len(design.questions) - 1} registered questions (the "
        "paper's own rule and its cost, the five peers, the update scale, fewer shots) are read in appendix 05a.")

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_design(design)

# %% [markdown]
# What these rules mean:
#
# * **Paired by seed.** A seed fixes the few training images, the validation split and the classification head's starting weights. Both methods run on every seed, and the study reads their difference seed by seed: a **paired difference**. Whatever a seed does to both methods (an easy or a hard draw of images) cancels, so far fewer runs resolve a difference than two separate averages would need.
# * **95% interval.** From n paired differences with mean d and standard deviation s, the **95% interval** is d ± t·s/√n, with t the 97.5% point of Student's t distribution with n − 1 degrees of freedom (a **t-interval**). Intervals built this way contain the true mean difference in 95% of repeated studies. "Ahead" or "behind" needs the whole interval on one side of zero.
# * **Equivalent within ±2 points.** A difference that is not significant is not evidence of no difference. The study registered an **equivalence margin** of ±2 accuracy points: when the 90% interval lies inside it (two one-sided tests, each at 5%), the runs rule out a difference of 2 points or more in either direction. A comparison that is neither ahead, behind nor equivalent is **not resolved**: these runs cannot tell.
# * **Holm's correction.** Reading many comparisons at the 95% level, a study expects one false "ahead" or "behind" in twenty even when nothing differs, so the more it reads, the surer it is to report some. **Holm's correction** orders the m comparisons by their p-values (a p-value is the chance of a difference at least as large as the one observed if there were none), tests the smallest at 5%/m, the next at 5%/(m − 1), and so on, stopping at the first that fails: the chance of even one false verdict in the whole family stays at 5%. A verdict that passes it is marked "survives Holm".

# %% [markdown]
# ## 3. The answer under the official protocol
#
# A **protocol** is the whole recipe every run follows: learning rate, update scale, schedule, model selection. The **official protocol** is the paper's: one learning rate (1e-3) and the official **scaling** 1/r for every LoRA-type method (the scale that LoRA's update B·A, of rank r, is multiplied by before it is added to the frozen weight; lesson 00). Each row below is the primary comparison on one task and shot count: its paired difference and 95% interval, coloured by its verdict, against the shaded ±2-point equivalence margin. The third row repeats it with 1 shot per class (registered question 5), where the paper expects a prior read from the weights to matter most.

# %%
table = comparison_table(runs, design, metric)
primary = table.xs((design.method, design.reference), level=["method", "reference"], drop_level=False)
fig = plot_comparisons(primary, design.margin, metric=metric,
                       title=f"Official protocol: {design.method} − {design.reference}, paired by seed; "
                             f"{', '.join(dict.fromkeys(primary.index.get_level_values('task')))}; {backbone} at "
                             f"{settings['img_size']} px")
plt.show()


# %% jupyter={"source_hidden": true} tags=["hide-input"]
def what_it_means(rows: pd.DataFrame, protocol: str) -> Reading:
    """The primary comparison's verdicts in ``rows`` counted, and what they allow one to say."""
    if (rows["pairs"] < 2).all():
        return Reading(f"Under the {protocol} protocol these runs hold one pair per task: too few for an interval, "
                       "so no verdict can be read (the numbers only show that every step runs).")
    verdicts = rows["verdict"].value_counts()
    counts = ", ".join(f"**{v}** in {verdicts[v]}" for v in verdicts.index)
    text = [f"Under the {protocol} protocol, of the primary comparison's {len(rows)} tasks and shot counts, the "
            f"budget-matched allocation against LoRA r=8 is {counts}."]
    ahead, behind = rows[rows["verdict"] == "ahead"], rows[rows["verdict"] == "behind"]
    if len(ahead):
        text.append(f"Where it is ahead, it gains {ahead['difference'].min():.1f} to {ahead['difference'].max():.1f} "
                    "points: there the allocation helped at equal parameters.")
    else:
        text.append(f"No task shows it ahead; the largest gain any 95% interval allows is {rows['ci high'].max():.1f} "
                    "points.")
    if len(behind):
        text.append(f"Where it is behind, LoRA leads by {-behind['difference'].max():.1f} to "
                    f"{-behind['difference'].min():.1f} points.")
    if rows["verdict"].str.startswith("equivalent").any():
        text.append(f"Where the verdict is \"equivalent\", the runs rule out a difference of {design.margin:g} points "
                    "or more in either direction.")
    return Reading(" ".join(text))


what_it_means(primary, "official")

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_question(runs, design, "Q1", metric)

# %% [markdown]
# ## 4. Why one shared learning rate is not neutral
#
# The official protocol gives every method the same learning rate and scale. That is a choice, not neutrality. The update a LoRA-type method adds is scale · B·A, so the rate and the scale act together, and methods build their update differently: AdaLoRA starts from a zero vector of singular values between two factors, PiSSA's factors start large (from the weights' principal directions), and under 1/r a rank-40 SR-LoRA module is scaled five times less than a rank-8 one. One rate can suit one method and under-train another; a comparison at that rate then measures the rate, not the method.
#
# A second registered protocol measured this. Every method tried three learning rates a factor 3 apart around the official one, under 1/r and under 1/√r (**rsLoRA**'s scale, which keeps the update from shrinking as the rank grows; AdaLoRA and PiSSA also under scale 1), on three **selection seeds** (100-102) kept apart from every seed a verdict reads, scored on validation only. The figure shows, for every LoRA-type method, the mean validation accuracy at the shared setting beside that of the method's own best candidate. These selection runs exist for the offline study only, so this section and the next read the stand-ins whatever the preset.

# %%
both = load_protocols()  # the offline study's shipped records under both protocols
curves = selection_curves(both.settings, both.records)  # every candidate's mean validation score
own = curves.groupby(["task", "method"], sort=False)["val mean"].max().rename("own best")
shared = curves[np.isclose(curves["lr"], 1e-3) & (curves["scaling"] == "paper") & ~curves["eva_whiten"].astype(bool)]
gap = shared[~shared["method"].isin(["linear_probe", "full_ft"])].join(own, on=["task", "method"])
methods = list(dict.fromkeys(gap["method"]))

fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharey=True)
for ax, (task, part) in zip(axes, gap.groupby("task", sort=False)):
    part, y = part.set_index("method").reindex(methods), np.arange(len(methods))[::-1]
    ax.hlines(y, part["val mean"], part["own best"], color="lightgrey", lw=3)
    ax.plot(part["val mean"], y, "o", color="tab:red", label="shared: rate 1e-3, scale 1/r")
    ax.plot(part["own best"], y, "D", color="tab:green", label="the method's own best candidate")
    ax.set_yticks(y, methods, fontsize=8)
    ax.set_title(f"{task} (stand-in)", fontsize=9)
    ax.set_xlabel("mean validation accuracy (%), seeds 100-102", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=2, frameon=False)
fig.suptitle(f"The shared setting against each method's own best: stand-ins, {S.OFFLINE_BACKBONE} at "
             f"{both.settings['img_size']} px", fontsize=9)
fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below
plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_shared_setting(curves)

# %% [markdown]
# A gap means that the shared setting under-trains that method in the few optimiser steps a few-shot run takes. Gaps of different sizes tilt a comparison: under the official protocol, a method that the shared setting suits better can come out ahead of one it under-trains, whatever their allocations. The appendix [05b](appendix/05b_tuned_protocol.ipynb) shows every method's full selection curves.

# %% [markdown]
# ## 5. The answer when each method runs at its own setting
#
# The **tuned protocol** (`grids/tuned-study.toml`, registered the same way before its runs) trains every method at the candidate validation chose for it (on ties, the smaller rate, then 1/r). It then runs that choice on fresh **confirmation seeds** (0-9; the primary pair on 0-23), the only runs its verdicts read. Fresh seeds matter: the chosen candidate won on the selection seeds partly by luck, and reading it on the same seeds would count that luck as skill (the **winner's curse**, measured in appendix 05b). Besides the rate and the scale, the tuned protocol sets each peer up as its authors recommend, tests textures on 1,200 patches instead of 180 (the task `textures:large-test`), and never selects an epoch inside the warm-up.
#
# Each pair of rows is one task under both protocols: the official protocol's runs first, then the tuned one's.

# %%
official_table = comparison_table(both.official, both.official_design, metric)
tuned_table = comparison_table(both.tuned, both.design, metric)
pairs = []
for name, t in (("official", official_table), ("tuned", tuned_table)):
    part = t.xs((design.method, design.reference), level=["method", "reference"], drop_level=False).reset_index()
    pairs.append(part.assign(question=name + " " + part["question"], base=part["task"].str.replace(":large-test", "")))
primary_both = pd.concat(pairs).sort_values(["base", "shots"], ascending=False, kind="stable")  # task by task
fig = plot_comparisons(primary_both, design.margin, metric=metric,
                       title=f"{design.method} − {design.reference} under both protocols, paired by seed: stand-ins "
                             f"(tuned textures: the 1,200-patch test set), {S.OFFLINE_BACKBONE} at "
                             f"{both.settings['img_size']} px")
plt.show()

# %% jupyter={"source_hidden": true} tags=["hide-input"]
tuned_primary = tuned_table.xs((design.method, design.reference), level=["method", "reference"], drop_level=False)
changes = protocol_table(both.official, both.official_design, both.tuned, both.design, metric)
read_both = changes[(changes["verdict official"] != "not read") & (changes["verdict tuned"] != "not read")]
display(what_it_means(tuned_primary, "tuned"))
display(read_question(both.tuned, both.design, "Q1", metric))
Reading(f"Across all the questions, {int(read_both['changed'].sum())} of the {len(read_both)} comparisons that both "
        "protocols read change verdict between them; appendix 05d lists each one.")

# %% [markdown]
# ## 6. What this study cannot tell
#
# * **Stand-ins are not the paper's regime.** The offline study fine-tunes a small ViT (ViT-S/14 at 56 px, 16 patches) for 60-100 optimiser steps on two stand-in tasks. It can show whether a stable-rank allocation changes what LoRA learns there and how large a difference these run counts resolve. It cannot say what happens on MedFMC or VTAB-1k with ViT-B/16 at 384 px, where the ranks are larger, the images real and the domain gaps different; `preset="paper"` runs the official protocol there.
# * **More than the rate changed between the protocols.** The tuned protocol also sets the peers up differently, tests textures on a larger test set, forbids selecting an epoch inside the warm-up and breaks ties by its own rule. A changed verdict is the effect of all of these together, not of tuning alone.
# * **A changed verdict is not a changed estimate.** Verdicts are categories with edges: a difference that moves a little, or an interval that narrows on a larger test set, can cross from "not resolved" to "equivalent" while the estimate barely moves. Read the intervals, not only the colours.
# * **The intervals hold the test set fixed.** They vary the seeds (training images, initialisation, order), not the test images. LFW's test set has 100 images, so one image is one point: a sampling error of its own that no number of seeds removes.
# * **Neither protocol overrules the other.** The official one says what the paper's recipe gives; the tuned one what each method gives at the setting validation picks for it, with validation sets this small.

# %% [markdown]
# ## 7. A second registration
#
# A reviewer would ask first whether this set-up can see an allocation effect at all, and whether validation sets of 10-18 images can tell candidate settings apart. A second registration, committed before its runs, asks those questions with a positive control (allocations built to hurt), a 240-patch validation pool, a 3x schedule and AdaLoRA as its authors' scripts run it; [appendix r2](appendix/r2_second_registration.ipynb) reads every part. Its answer, generated from its records:

# %% jupyter={"source_hidden": true} tags=["hide-input"]
read_answer(load_registration2())

# %% [markdown]
# ## Takeaways

# %% jupyter={"source_hidden": true} tags=["hide-input"]
def verdict_words(rows: pd.DataFrame) -> str:
    """Each task's primary difference, 95% interval and verdict, as one clause each."""
    return "; ".join(f"{task}, {shots}-shot: " + (f"{r['difference']:+.1f} points (95% interval {r['ci low']:+.1f} "
                     f"to {r['ci high']:+.1f}), {r['verdict']}" if r["pairs"] > 1 else "one pair, no interval")
                     for (_, task, shots, *_), r in rows.iterrows())  # fmt: skip


below = gap[gap["own best"] > gap["val mean"] + 1e-9]
by_task = below.groupby("task", sort=False)
neither = not ((primary["verdict"] == "ahead").any() or (tuned_primary["verdict"] == "ahead").any())
Reading([
    f"* The primary comparison, `{design.method}` − `{design.reference}`, was registered before the runs and is read "
    f"paired by seed with a 95% interval; \"not resolved\" is not \"equal\": only a 90% interval inside "
    f"±{design.margin:g} points says \"equivalent\".",
    f"* Official protocol (one rate and scale for every method), {verdict_words(primary)}.",
    "* One shared setting is not neutral: it leaves "
    + " and ".join(f"{len(part)} of {int((gap['task'] == task).sum())} LoRA-type methods on {task} below their own "
                   f"best candidate (median gap {part['own best'].sub(part['val mean']).median():.1f} validation "
                   "points)" for task, part in by_task) + ".",
    f"* Tuned protocol (each method at its own validated setting, fresh seeds), {verdict_words(tuned_primary)}; "
    f"{int(read_both['changed'].sum())} of {len(read_both)} comparisons change verdict between the protocols.",
    "* " + ("Neither protocol shows budget-matched SR-LoRA ahead of LoRA at equal parameters on these runs."
            if neither else "At least one protocol shows budget-matched SR-LoRA ahead of LoRA on one task: read "
            "which, and under which setting, before generalising."),
])

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# Each exercise works on `main`, the official protocol's runs at the official scale 1/r (defined with `runs` above); a worked solution follows each.
#
# 1. **Another reference.** The study compares every method with LoRA. Compute the paired differences against `srlora_budget` instead (`paired_differences(main, metric, reference="srlora_budget")`). Which methods do these runs separate from it, ahead or behind, on each task? Give a dict `{"<task>, <k>-shot": sorted list of method names}` holding only the tasks where at least one method is separated. **(graded: store your answer in `answer_1`)**
# 2. **Accuracy per parameter.** From `summary_table(main)`, compute each method's gain in mean test accuracy over the linear probe per million trainable parameters. Which method buys the most accuracy per parameter on each task that has a linear probe? Give a dict `{"<task>, <k>-shot": method name}`. **(graded: store your answer in `answer_2`)**
# 3. **Not resolved is not equal.** A colleague reads a "not resolved" verdict of the primary comparison as "SR-LoRA and LoRA perform the same". Using the figure of section 3, explain what the interval does and does not rule out, and how you would estimate the number of paired runs needed to reach "equivalent within ±2" (appendix 05a's power reading gives the spread of the differences). **(open-ended)**

# %% tags=["solution", "hide-cell"]
# Solution 1: every method against srlora_budget, paired by seed, on the official protocol's runs at 1/r.
against_budget = paired_differences(main, metric, reference="srlora_budget")
against_budget

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 1: the methods whose verdict against srlora_budget is ahead or behind, per task.
# BEGIN SOLUTION
separated = against_budget[against_budget["verdict"].isin(["ahead", "behind"])]
found = {}
for task, shots, method in separated.index:
    found.setdefault(f"{task}, {shots}-shot", []).append(method)
found = {key: sorted(methods) for key, methods in found.items()}
# END SOLUTION
answer_1 = found  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_1, dict) and all(isinstance(v, list) for v in answer_1.values()), (
    "answer_1: a dict {'<task>, <k>-shot': sorted list of method names}")

# %% tags=["check-hidden", "remove-cell"]
_d = paired_differences(main, metric, reference="srlora_budget")
_sep = _d[(_d["ci low"] > 0) | (_d["ci high"] < 0)]
_expected = {}
for (_t, _k, _m) in _sep.index:
    _expected.setdefault(f"{_t}, {_k}-shot", []).append(_m)
assert answer_1 == {_key: sorted(_v) for _key, _v in _expected.items()}, "answer_1 differs from the paired intervals"

# %% tags=["solution", "hide-cell", "graded", "points-1"]
# Solution 2: accuracy gain over the linear probe per million trainable parameters, per task.
# BEGIN SOLUTION
summary = summary_table(main)
best = {}
for (task, shots), part in summary.groupby(level=["task", "shots"], sort=False):
    if "linear_probe" not in part.index.get_level_values("method"):
        continue  # no probe ran on this task
    probe = part.xs("linear_probe", level="method")[f"{metric} mean"].iloc[0]
    others = part.drop(index="linear_probe", level="method")
    per_million = (others[f"{metric} mean"] - probe) / (others["trainable_params"] / 1e6)
    best[f"{task}, {shots}-shot"] = per_million.idxmax()[-1]
# END SOLUTION
answer_2 = best  # SOLUTION

# %% tags=["check", "remove-cell"]
assert isinstance(answer_2, dict) and all(isinstance(v, str) for v in answer_2.values()), (
    "answer_2: a dict {'<task>, <k>-shot': method name}")

# %% tags=["check-hidden", "remove-cell"]
_s = summary_table(main).reset_index()
_expected = {}
for (_t, _k), _part in _s.groupby(["task", "shots"], sort=False):
    _probe = _part.loc[_part["method"] == "linear_probe", f"{metric} mean"]
    if len(_probe):
        _rest = _part[_part["method"] != "linear_probe"]
        _ratio = (_rest[f"{metric} mean"] - _probe.iloc[0]) * 1e6 / _rest["trainable_params"]
        _expected[f"{_t}, {_k}-shot"] = _rest.loc[_ratio.idxmax(), "method"]
assert answer_2 == _expected, "answer_2 differs from the gain per million parameters"

# %% tags=["solution", "hide-cell"]
# Solution 3 (open-ended), a sketch: "not resolved" means the 95% interval contains zero and reaches beyond the
# ±2-point margin, so these runs neither show a difference nor rule out one of 2 points. With s the standard deviation
# of the paired differences, the 95% interval's half-width is about t·s/√n; "equivalent" needs the 90% interval
# inside ±2 around the observed mean, so n must make 1.7·s/√n smaller than 2 − |mean|. Appendix 05a's power reading
# gives s per task.
