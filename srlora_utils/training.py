"""One reproducible few-shot experiment: config in, trained model evaluated on the test set, record out."""

from __future__ import annotations

import copy
import dataclasses
import math
import platform
import resource
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .backbones import load_backbone
from .errors import SrLoraError
from .methods import DEFAULT_LR, METHODS, prepare_model
from .metrics import classification_metrics, selection_metric
from .records import append_record, find_record, run_key
from .tasks import load_task


@dataclass
class TrainConfig:
    """Everything that defines one run. ``lr=None`` takes the method's official default."""

    task: str = "digits"
    method: str = "srlora"
    shots: int = 5
    seed: int = 0
    backbone: str | None = None
    img_size: int = 56
    epochs: int = 20
    batch_size: int = 4
    lr: float | None = None
    weight_decay: float = 0.05
    warmup_iters: int = 20
    grad_clip: float = 1.0
    r: int = 8
    root: str | None = None
    device: str = "auto"
    extra: dict = field(default_factory=dict)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _loss_fn(multilabel: bool) -> nn.Module:
    return nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, multilabel: bool, device: torch.device) -> dict[str, float]:
    """Task metrics of ``model`` on ``loader`` (full-rank adapters: no rank sampling at evaluation)."""
    model.eval()
    scores, targets = [], []
    for x, y in loader:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = model(x.to(device))
        scores.append(out.float().cpu().numpy())
        targets.append(y.numpy())
    return classification_metrics(np.concatenate(scores), np.concatenate(targets), multilabel)


def _cosine_with_warmup(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(cfg: TrainConfig, records: str | None = None, force: bool = False, progress: bool = True) -> dict:
    """Run one experiment (or return its existing record from ``records`` unless ``force``)."""
    if cfg.method not in METHODS:
        raise SrLoraError(f"unknown method {cfg.method!r}: use one of {', '.join(METHODS)}")
    config = dataclasses.asdict(cfg)
    key = run_key(config)
    if records and not force:
        found = find_record(records, key)
        if found is not None:
            return found
    device = _device(cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    task = load_task(cfg.task, cfg.shots, cfg.seed, cfg.root, cfg.img_size)
    backbone = load_backbone(cfg.backbone, num_classes=task.num_classes, img_size=cfg.img_size, seed=cfg.seed)
    t_alloc = time.perf_counter()
    model, info = prepare_model(backbone, cfg.method, cfg.r)
    alloc_s = time.perf_counter() - t_alloc
    model.to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(task.train, batch_size=cfg.batch_size, shuffle=True, generator=gen)
    val_loader = DataLoader(task.val, batch_size=64)
    test_loader = DataLoader(task.test, batch_size=64)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.resolved_lr(), weight_decay=cfg.weight_decay)
    total = cfg.epochs * len(train_loader)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine_with_warmup(s, total, cfg.warmup_iters))
    loss_fn = _loss_fn(task.multilabel)
    metric = selection_metric(task.multilabel)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    history, best, best_state, step_times = [], -math.inf, None, []
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc=f"{cfg.method} {task.display_name} seed {cfg.seed}", disable=not progress)
    for epoch in bar:
        model.train()
        losses = []
        for x, y in train_loader:
            ts = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = loss_fn(model(x.to(device)).float(), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            losses.append(loss.item())
            step_times.append(time.perf_counter() - ts)
        val = evaluate(model, val_loader, task.multilabel, device)
        history.append(
            {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **{f"val_{k}": v for k, v in val.items()}}
        )
        if best_state is None or val[metric] > best:  # model selection on the validation split only
            best = val[metric]
            best_state = copy.deepcopy({n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad})
        bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", **{f"val_{metric}": f"{val[metric]:.1f}"})
    names = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in best_state.items():
            names[n].copy_(v.to(device))
    test = evaluate(model, test_loader, task.multilabel, device)
    record = {
        "key": key,
        "config": config,
        "task": task.display_name,
        "standin": task.standin,
        "num_classes": task.num_classes,
        "best_epoch": 1 + max(range(len(history)), key=lambda i: history[i][f"val_{metric}"]),
        "val": {metric: best},
        "test": test,
        "trainable_params": info["trainable_params"],
        "lora_params": info.get("lora_params", 0),
        "allocation_s": alloc_s,
        "step_s_median": float(np.median(step_times)),
        "total_s": time.perf_counter() - t0,
        # CUDA: peak tensor memory of this run. CPU: the process's peak resident memory so far (an upper bound).
        "peak_memory_mb": (torch.cuda.max_memory_allocated(device) / 2**20)
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_memory_kind": "cuda_allocated" if device.type == "cuda" else "process_max_rss",
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "history": history,
    }
    if records:
        append_record(records, record)
    return record
