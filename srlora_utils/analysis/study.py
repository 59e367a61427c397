"""A few-shot study in one object: a preset's task, the backbone's rank allocations, every method's runs, and the
tables and figures the training notebooks show (notebook 03 builds them step by step, notebook 04 in one call)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..core.allocation import Rule, allocate_ranks, lora_parameter_count
from ..core.profile import spectral_profile
from ..core.qkv import split_qkv
from ..data.fewshot import FewShotTask
from ..experiments.baselines import baseline_table
from ..experiments.grids import base_config, example_task, task_exps
from ..experiments.lesson_runs import recheck
from ..experiments.sweeps import first_repeat, run_sweep, summary_table
from ..models.backbones import OFFLINE_BACKBONE, load_backbone
from ..plotting import plot_rank_allocation, plot_results, plot_training_curves
from ..training.methods import METHOD_SPECS
from .comparison import cost_table, paired_interval, paired_values
from .readings import Reading, read_gain, read_ranking

#: The LoRA-type methods' allocations: SR-LoRA's paper rule, stable-rank-proportional at LoRA's budget, uniform LoRA.
ALLOCATIONS: dict[str, Rule] = {"srlora (paper)": "paper", "srlora_budget": "budget", "lora": "uniform"}


def rank_allocations(profile: pd.DataFrame, r: int = 8) -> dict[str, dict[str, int]]:
    """Ranks per module of SR-LoRA (paper rule), SR-LoRA at LoRA's budget and uniform LoRA of rank ``r``."""
    return {name: allocate_ranks(profile, rule, r=r) for name, rule in ALLOCATIONS.items()}


def allocation_summary(profile: pd.DataFrame, allocations: dict[str, dict[str, int]]) -> pd.DataFrame:
    """LoRA parameters and rank range of each allocation of ``allocations`` (rows) on the modules of ``profile``."""
    return pd.DataFrame(
        {
            "LoRA parameters": {k: lora_parameter_count(v, profile) for k, v in allocations.items()},
            "ranks": {k: f"{min(v.values())}..{max(v.values())}" for k, v in allocations.items()},
        }
    )


def adaptation_gain(runs: list[dict], metric: str) -> pd.DataFrame:
    """Per (task, shots): the linear probe's mean test ``metric``, the adapting method with the highest mean, its
    mean, and its gain over the probe in points, paired by seed with a 95% t interval (``ci low``, ``ci high``,
    ``runs``, ``verdict``). A small gain means the frozen features already fit the task (a small domain gap)."""
    columns = ["linear probe", "best adapting method", "its score", "gain (points)", "ci low", "ci high", "runs",
               "verdict"]  # fmt: skip
    summary = summary_table(runs)
    rows = {}
    for (task, shots), group in summary.groupby(level=[0, 1], sort=False):
        means = group[f"{metric} mean"].droplevel([0, 1])
        adapting = means[[m for m in means.index if METHOD_SPECS[m].kind != "head"]]
        if "linear_probe" not in means or adapting.empty:
            continue
        best = adapting.idxmax()
        part = [r for r in runs if r["task"] == task and r["config"]["shots"] == shots]
        iv = paired_interval(paired_values(part, metric, best, "linear_probe"))
        rows[(task, shots)] = [means["linear_probe"], best, adapting[best], iv.mean, iv.low, iv.high, iv.n, iv.verdict]
    index = pd.MultiIndex.from_tuples(list(rows), names=["task", "shots"])
    return pd.DataFrame(list(rows.values()), index=index, columns=columns)


@dataclass
class FewShotStudy:
    """What :func:`run_study` measured: the settings, the example task (first shots and seed or split), the
    backbone's spectral profile and allocations, and one record per run."""

    settings: dict
    task: FewShotTask
    profile: pd.DataFrame
    allocations: dict[str, dict[str, int]]
    runs: list[dict]

    @property
    def metric(self) -> str:
        """Model-selection and headline metric: mAP for multi-label tasks, accuracy otherwise."""
        return "mAP" if self.task.multilabel else "accuracy"

    @property
    def exps(self) -> list[int] | None:
        """The MedFMC splits the study swept (None for tasks whose splits a seed draws)."""
        return task_exps(self.settings, self.settings["task"])

    def summary(self) -> pd.DataFrame:
        """Mean and std of every test metric per (task, shots, method), without the timing column."""
        return summary_table(self.runs).drop(columns=["step_ms"])

    def baselines(self, img_size: int | None = None) -> pd.DataFrame:
        """Raw-pixel 1-NN and logistic regression on the same K-shot images, at ``img_size`` px (default: study's)."""
        s = self.settings
        return baseline_table(s["task"], s["shots"][0], s["seeds"], img_size or s["img_size"], s["root"], self.exps,
                              s.get("medmnist_size", 28))  # fmt: skip

    def recheck(self, method: str) -> pd.DataFrame:
        """:func:`~srlora_utils.experiments.lesson_runs.recheck`: train one run of ``method`` read from the shipped
        records again here, and assert that it matches its record within one test image."""
        return recheck(self.runs, method)

    def costs(self) -> pd.DataFrame:
        """Per method: parameters, step time (and its ratio to LoRA's), set-up time, peak memory (machine-dependent)."""
        return cost_table(self.runs)

    def gain(self) -> pd.DataFrame:
        """:func:`adaptation_gain` of this study."""
        return adaptation_gain(self.runs, self.metric)

    def describe(self) -> Reading:
        """:func:`~srlora_utils.analysis.readings.read_ranking` of this study: the leaders and SR-LoRA against
        LoRA."""
        return read_ranking(self.runs, self.metric)

    def describe_gain(self) -> Reading:
        """:func:`~srlora_utils.analysis.readings.read_gain` of this study: what adapting the backbone adds."""
        return read_gain(self.gain(), self.metric)

    def plot_allocation(self) -> plt.Axes:
        """LoRA rank per module under each allocation."""
        name = self.settings["backbone"] or OFFLINE_BACKBONE
        return plot_rank_allocation(self.allocations, title=f"LoRA ranks per module: {name}")

    def plot_curves(self) -> plt.Figure:
        """Training loss and validation metric per epoch of each method, on the first repeat."""
        curves = first_repeat(self.runs)
        cfg = curves[0]["config"]
        which = f"exp{cfg['exp']}" if cfg.get("exp") else f"seed {cfg['seed']}"
        title = f"{self.task.display_name}, {cfg['shots']}-shot, {which}"
        return plot_training_curves(curves, self.metric, title=title)

    def plot_results(self) -> plt.Axes:
        """Mean test metric against trainable parameters, one point per method."""
        title = f"{self.task.display_name}: test {self.metric} vs trainable parameters"
        return plot_results(summary_table(self.runs), self.metric, title=title)


def run_study(
    settings: dict, records: str | None = None, r: int = 8, progress: bool = True, shipped: str | Path | None = None
) -> FewShotStudy:
    """Run every method of ``settings`` (a preset's, see
    :func:`~srlora_utils.experiments.presets.notebook_settings`) over
    its shots, seeds and MedFMC splits, after computing the backbone's allocations at LoRA rank ``r``.

    ``records`` (a ``.jsonl`` file or a directory) keeps each run and lets an interrupted study resume;
    ``shipped``: records read first, never written (the lessons' shipped runs); ``progress`` shows a bar over runs.
    """
    task = example_task(settings)
    backbone = split_qkv(load_backbone(settings["backbone"], img_size=settings["img_size"]))
    profile = spectral_profile(backbone, "official")
    exps = task_exps(settings, settings["task"])
    runs = run_sweep(base_config(settings), settings["methods"], settings["seeds"], settings["shots"],
                     records=records, exps=exps, progress=progress, shipped=shipped)  # fmt: skip
    return FewShotStudy(settings, task, profile, rank_allocations(profile, r), runs)
