"""Planning a reproduction: the official protocol against this kit's, what data are there, and what the grid costs.

Notebook 06 reads like a checklist over these functions: :func:`protocol_differences`, :func:`data_check`,
:func:`measure_step` and :func:`compute_plan`, :func:`grid_commands`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..data.list_files import read_list
from ..data.medfmc import MEDFMC_CLASSES, MEDFMC_MULTILABEL
from ..data.paths import DATA_ENV, DEFAULT_ROOTS, FIXTURE_MARKER, data_dir
from ..data.shipped import DATA_GUIDE, kit_file
from ..data.vtab import VTAB_CLASS_COUNTS
from ..errors import SrLoraError
from ..training.config import TrainConfig

_DIFFERENCES = [
    ("model selection", "VTAB-1k: best test-set epoch; MedFMC: few-shot validation split",
     "validation split only, everywhere; the test set is evaluated once"),
    ("evaluation rank", "nested SR-LoRA samples a random rank at evaluation too",
     "full rank (the official random-rank score is recorded beside it for nested methods)"),
    ("rank budget", "round(stable rank): about 8.8x the parameters of LoRA r=8 on ViT-B/16",
     "the same rule (srlora), plus srlora_budget at exactly LoRA's parameter count"),
    ("normalisation", "ImageNet mean/std for every backbone (ViT-B/16 in21k was trained with 0.5/0.5)",
     "paper preset: the official choice (normalize='official'); default elsewhere: the backbone's own"),
    ("MedFMC splits", "exp1 only, seed 666", "exp1-exp5, each named in the config and record; mean ± std"),
    ("VTAB-1k splits", "five few-shot splits", "five seeds drawing disjoint K-shot train and val from train800val200"),
    ("rank computation", "float32 SVD in NumPy, ranks pasted into configs by hand",
     "computed from the loaded weights at run time, recorded per run"),
    ("recipe", "AdamW, lr 1e-3 (full FT 2e-5), wd 0.3 / 0.05, 20 epochs, batch 4, cosine, 20 warm-up steps, "
     "clip 1.0, 384 px, RandomResizedCrop + flip", "the same in the paper preset"),
]  # fmt: skip


def protocol_differences() -> pd.DataFrame:
    """Aspect by aspect: what the official code does and what this kit's paper preset does."""
    return pd.DataFrame(_DIFFERENCES, columns=["aspect", "official code", "this kit"]).set_index("aspect")


def _count(path: Path, num_classes: int | None = None, multilabel: bool = False) -> int | None:
    try:
        return len(read_list(path, num_classes, multilabel)[0]) if path.is_file() else None
    except Exception:  # noqa: BLE001 - a malformed list counts as missing here; loading it names the line
        return None


def _medfmc_rows(root: Path, shots: list[int], exps: list[int]) -> list[dict]:
    rows = []
    for task in MEDFMC_CLASSES:
        images, anns = root / "MedFMC_train" / task / "images", root / "data_anns" / "MedFMC" / task
        n_images = sum(1 for _ in images.iterdir()) if images.is_dir() else None
        lists = {f"{k}-shot {part} exp{e}": anns / f"{task}_{k}-shot_{part}_exp{e}.txt"
                 for k in shots for e in exps for part in ("train", "val")}  # fmt: skip
        lists["test"] = anns / "test_WithLabel.txt"
        counts = {name: _count(p, len(MEDFMC_CLASSES[task]), MEDFMC_MULTILABEL[task]) for name, p in lists.items()}
        missing = [str(p.relative_to(root)) for name, p in lists.items() if counts[name] is None]
        rows.append({
            "dataset": f"medfmc:{task}", "folder": str(root), "images": n_images,
            "train lines (mean)": _mean([v for k, v in counts.items() if " train " in k]),
            "val lines (mean)": _mean([v for k, v in counts.items() if " val " in k]),
            "test lines": counts["test"], "missing": _missing(n_images, images, root, missing),
        })  # fmt: skip
    return rows


def _vtab_rows(root: Path, tasks: list[str]) -> list[dict]:
    rows = []
    for task in tasks:
        base = root / task
        counts = {part: _count(base / f"{part}.txt") for part in ("train800", "val200", "train800val200", "test")}
        missing = [f"{task}/{p}.txt" for p, c in counts.items() if c is None]
        images = base / "images"
        n_images = sum(1 for p in images.rglob("*") if p.is_file()) if images.is_dir() else None
        rows.append({
            "dataset": f"vtab:{task}", "folder": str(root), "images": n_images,
            "train lines (mean)": counts["train800"], "val lines (mean)": counts["val200"],
            "test lines": counts["test"], "missing": _missing(n_images, images, root, missing),
        })  # fmt: skip
    return rows


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _missing(n_images: int | None, images: Path, root: Path, lists: list[str]) -> str:
    parts = ([f"{images.relative_to(root)}/" if images.is_relative_to(root) else str(images)] if n_images is None
             else []) + lists  # fmt: skip
    if not parts:
        return "nothing"
    shown = ", ".join(parts[:3]) + (f" and {len(parts) - 3} more" if len(parts) > 3 else "")
    return f"{shown} (put under {root}; see {kit_file(DATA_GUIDE)})"


def data_check(
    medfmc_shots: Sequence[int] = (1, 5, 10),
    exps: Sequence[int] = (1, 2, 3, 4, 5),
    vtab_tasks: Sequence[str] = ("eurosat", "resisc45"),
) -> pd.DataFrame:
    """Per dataset of the paper grid (MedFMC at ``medfmc_shots`` and splits ``exps``, VTAB-1k ``vtab_tasks``): the
    folder read, images on disk, lines per split list, and what is missing (with where it goes). The ``fixture``
    column says whether the folder is a synthetic fixture."""
    rows = _medfmc_rows(data_dir() / DEFAULT_ROOTS["medfmc"], list(medfmc_shots), list(exps))
    rows += _vtab_rows(data_dir() / DEFAULT_ROOTS["vtab"], list(vtab_tasks))
    table = pd.DataFrame(rows).set_index("dataset")
    table.insert(1, "fixture", [(Path(f) / FIXTURE_MARKER).is_file() for f in table["folder"]])
    return table


def measure_step(
    cfg: TrainConfig, num_classes: int, steps: int = 3, pretrained: bool = False, warmup: int = 1
) -> dict[str, Any]:
    """Median seconds over ``steps`` of one training step (batch ``cfg.batch_size``) and of evaluating one image,
    for LoRA r=8 on ``cfg.backbone`` at ``cfg.img_size`` with a ``num_classes`` head, on this machine, after ``warmup``
    untimed steps (0: the first step, one-time set-up included, is timed: an estimate on the long side).
    ``pretrained=False`` times a random twin, which needs no download and costs the same."""
    from ..models.backbones import load_backbone
    from ..training.methods import MethodContext, prepare_method

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backbone = load_backbone(cfg.backbone, num_classes=num_classes, img_size=cfg.img_size, pretrained=pretrained)
    model = prepare_method(backbone, "lora", MethodContext(r=8, seed=0, total_steps=steps)).model.to(device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randn(cfg.batch_size, 3, cfg.img_size, cfg.img_size, device=device)
    y = torch.zeros(cfg.batch_size, dtype=torch.long, device=device)
    times = []
    for _ in range(steps + warmup):
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        t = time.perf_counter()
        model(x)
        per_image = (time.perf_counter() - t) / cfg.batch_size
    return {"step_s": float(pd.Series(times[warmup:]).median()), "eval_s_per_image": per_image, "device": str(device)}


def compute_plan(configs: list[TrainConfig], step: dict[str, Any], data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per task of ``configs`` (the grid's runs): runs, training steps (epochs x ceil(train size / batch)),
    evaluation images (validation every epoch, test once), and the hours they take at the measured ``step`` times.
    Train and val hold K x classes images; test sizes come from the ``data`` check when the lists are there (else
    unknown and left out)."""
    rows: dict[str, dict[str, Any]] = {}
    for cfg in configs:
        row = rows.setdefault(cfg.task, {"runs": 0, "train steps": 0, "eval images": 0, "test sizes known": True})
        counts = data.loc[cfg.task] if data is not None and cfg.task in data.index else None
        classes = _classes(cfg.task)
        n_train = cfg.shots * classes
        n_test = counts["test lines"] if counts is not None and pd.notna(counts["test lines"]) else None
        row["runs"] += 1
        row["train steps"] += cfg.epochs * math.ceil(n_train / cfg.batch_size)
        row["eval images"] += cfg.epochs * n_train + (n_test or 0)
        row["test sizes known"] &= n_test is not None
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("task")
    table["hours"] = (table["train steps"] * step["step_s"] + table["eval images"] * step["eval_s_per_image"]) / 3600
    table.loc["total"] = [table["runs"].sum(), table["train steps"].sum(), table["eval images"].sum(),
                          bool(table["test sizes known"].all()), table["hours"].sum()]  # fmt: skip
    return table


def _classes(task: str) -> int:
    kind, _, sub = task.partition(":")
    if kind == "medfmc":
        return len(MEDFMC_CLASSES[sub])
    if sub not in VTAB_CLASS_COUNTS:
        raise SrLoraError(f"no class count for VTAB-1k task {sub!r}: use one of {', '.join(VTAB_CLASS_COUNTS)}")
    return VTAB_CLASS_COUNTS[sub]


def grid_commands(grid: str = "reproduction:paper", records: str = "results/paper/", workers: int = 4) -> str:
    """Shell commands that run ``grid`` on one GPU, on ``workers`` GPUs of one machine (torchrun), and as a SLURM
    array; every form records into one location and skips runs already there, so rerunning resumes."""
    cmd = f"srlora sweep {grid} --records {records}"
    return "\n".join([
        f"# data are read from the data folder (the repository's data/, or ${DATA_ENV})",
        f"{cmd} --dry-run    # list the runs and which are done",
        f"{cmd}              # one GPU",
        f"torchrun --standalone --nproc-per-node={workers} --no-python {cmd}    # {workers} GPUs of one machine",
        f"sbatch --array=0-{4 * workers - 1} --gpus=1 --wrap \"{cmd}\"    # a SLURM array across nodes",
        f"srlora report {records}    # the paper's tables, next to the authors' numbers",
    ])  # fmt: skip
