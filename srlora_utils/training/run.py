"""One reproducible few-shot experiment: config in, trained model evaluated on the test set, record out."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import math
import platform
import random
import resource
import time
from collections.abc import Sized
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from tqdm.auto import tqdm

from ..checks import patch_size
from ..core.allocation import lora_parameter_count
from ..data.fewshot import FewShotTask
from ..data.outputs import check_records
from ..data.tasks import load_task, task_options
from ..errors import SrLoraError
from ..models.backbones import load_backbone
from ..models.normalization import resolve_normalization
from .config import TrainConfig, config_key
from .methods import AdaptedModel, MethodContext, get_spec, prepare_method
from .metrics import PERFECT, classification_metrics, selection_metric
from .predictions import encode_predictions
from .records import append_record, find_record


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _loss_fn(multilabel: bool) -> nn.Module:
    return nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, multilabel: bool, device: torch.device, benchmark: str | None = None
) -> dict[str, float]:
    """Task metrics of ``model`` on ``loader`` in eval mode, on ``device`` (nested adapters at full rank unless told
    otherwise): accuracy, macro-F1 and AUC, or mAP and AUC when ``multilabel``; a ``benchmark``'s own metrics too
    (:func:`~srlora_utils.training.metrics.classification_metrics`)."""
    scores, targets = _scores(model, loader, device)
    return classification_metrics(scores, targets, multilabel, benchmark)


@torch.no_grad()
def _scores(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """The model's output scores and the targets over ``loader``, in eval mode on ``device``."""
    model.eval()
    scores, targets = [], []
    for x, y in loader:
        with _autocast(device):
            out = model(x.to(device, non_blocking=True))
        scores.append(out.float().cpu().numpy())
        targets.append(y.numpy())
    return np.concatenate(scores), np.concatenate(targets)


def evaluate_predictions(
    model: nn.Module, loader: DataLoader, multilabel: bool, device: torch.device, benchmark: str | None = None
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """:func:`evaluate` of ``model`` on ``loader`` (``multilabel``, ``device`` and ``benchmark`` as there), with each
    image's predicted class and true class (single-label; empty arrays for a multi-label task): what an interval that
    resamples test images needs."""
    scores, targets = _scores(model, loader, device)
    metrics = classification_metrics(scores, targets, multilabel, benchmark)
    if multilabel:
        return metrics, np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    return metrics, scores.argmax(axis=1), targets.astype(np.int64)


def _cosine_with_warmup(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def check_run_names(values: dict[str, object]) -> None:
    """One-line :class:`SrLoraError` for a run's names and combinations: method, task, augmentation, normalisation,
    scaling, peers, evaluation rank, MedMNIST size, MedFMC split, and the image size against the backbone's patch."""
    from ..data.images import AUGMENTATIONS
    from ..data.tasks import check_exp, task_options
    from ..models.normalization import NORMALIZATIONS
    from .methods import PEER_SETUPS, SCALINGS, get_spec
    from .nested import EVAL_RANKS

    spec = get_spec(str(values["method"]))
    for name, allowed in (("augment", AUGMENTATIONS), ("normalize", NORMALIZATIONS), ("scaling", SCALINGS),
                          ("peers", PEER_SETUPS), ("eval_rank", EVAL_RANKS)):  # fmt: skip
        if values[name] not in allowed:
            noun = "augmentation" if name == "augment" else name
            raise SrLoraError(f"unknown {noun} {values[name]!r}: use one of {', '.join(allowed)}")
    check_exp(str(values["task"]), values["exp"])  # type: ignore[arg-type]
    task_options(str(values["task"]), values["medmnist_size"])  # type: ignore[arg-type]
    if values["eval_rank"] == "random" and not spec.nested:
        raise SrLoraError(f"eval_rank='random' needs a nested method (srlora_nested, dylora), not {values['method']!r}")
    if values["eva_whiten"] and spec.adapter != "eva":
        raise SrLoraError(f"eva_whiten applies to eva, not {values['method']!r}: drop it")
    patch = patch_size(values["backbone"])  # type: ignore[arg-type]
    if patch is not None and values["img_size"] < patch:  # type: ignore[operator]
        raise SrLoraError(f"img_size={values['img_size']} is smaller than one {patch} px patch of the backbone: "
                          f"pass img_size={patch} or more")  # fmt: skip
    device = str(values["device"])
    import re

    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise SrLoraError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps")


def check_config(cfg: TrainConfig) -> None:
    """Every value of ``cfg`` (types and ranges when it was made; here names and combinations), in one line."""
    check_run_names({f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})
    resolve_normalization(cfg.normalize, cfg.backbone)  # a backbone whose input statistics cannot be told


def _fit(
    adapted: AdaptedModel,
    cfg: TrainConfig,
    loaders: dict,
    multilabel: bool,
    device: torch.device,
    progress: bool,
    stop_at_perfect_val: bool = False,
) -> tuple[list[dict], dict[str, torch.Tensor] | None, int, float, list[float]]:
    """Train for ``cfg.epochs``; returns history, the best epoch's trainable state, its epoch and metric, step times.

    The best epoch is chosen on the validation split only, among epochs the method allows (AdaLoRA: once
    its rank budget is final) and, with ``cfg.select_after_warmup``, that end after the warm-up; the first of equal
    scores wins. ``stop_at_perfect_val``: end training once a
    selectable epoch scores :data:`PERFECT` on validation; no later epoch could replace it, so the selected model,
    and every test number, are those of the whole schedule (only the history is shorter).
    """
    model = adapted.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.resolved_lr(), weight_decay=cfg.weight_decay)
    total = cfg.epochs * len(loaders["train"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine_with_warmup(s, total, cfg.warmup_iters))
    loss_fn, metric = _loss_fn(multilabel), selection_metric(multilabel)
    history, best, best_score, best_state, best_epoch, step_times, step = [], math.nan, -math.inf, None, 0, [], 0
    bar = tqdm(range(cfg.epochs), desc=f"{cfg.method} seed {cfg.seed}", disable=not progress)
    for epoch in bar:
        model.train()
        losses = []
        for x, y in loaders["train"]:
            ts = time.perf_counter()
            with _autocast(device):
                loss = loss_fn(model(x.to(device, non_blocking=True)).float(), y.to(device, non_blocking=True))
                if adapted.regulariser is not None:
                    loss = loss + adapted.regulariser()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            if adapted.after_step is not None:
                adapted.after_step(step)
            losses.append(loss.item())
            step_times.append(time.perf_counter() - ts)
        val = evaluate(model, loaders["val"], multilabel, device)
        history.append(
            {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **{f"val_{k}": v for k, v in val.items()}}
        )
        selectable = step >= adapted.selectable_from_step and (not cfg.select_after_warmup or step > cfg.warmup_iters)
        score = -math.inf if math.isnan(val[metric]) else val[metric]  # a NaN epoch never blocks later ones
        if selectable and (best_state is None or score > best_score):  # model selection on validation only
            best_score, best, best_epoch = score, val[metric], epoch + 1
            best_state = copy.deepcopy({n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad})
        bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", **{f"val_{metric}": f"{val[metric]:.1f}"})
        if stop_at_perfect_val and best_state is not None and best_score >= PERFECT:
            break
    return history, best_state, best_epoch, best, step_times


def _seed_worker(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a loader worker from its torch seed (itself drawn from the loader's generator)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int, workers: int, device: torch.device) -> DataLoader:
    """A loader of ``dataset`` in batches of ``batch_size``, fit for a GPU: ``workers`` processes kept across epochs,
    each seeded from ``seed``; pinned memory when ``device`` is CUDA. The order (when ``shuffle``) and every
    worker's augmentations are fixed by ``seed``."""
    extra: dict[str, Any] = {}
    if workers:
        extra = dict(persistent_workers=True, worker_init_fn=_seed_worker, prefetch_factor=4)
    return DataLoader(
        dataset, batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed), num_workers=workers,
        pin_memory=device.type == "cuda", **extra,
    )  # fmt: skip


#: EVA under ``peers="authors"``: batches of the augmented training split its statistics may read (it stops earlier
#: once every layer's components have converged, PEFT's ``tau``).
EVA_BATCHES = 16


def init_loader(task: FewShotTask, peers: str = "study") -> DataLoader:
    """EVA's data. ``study``: the training split without augmentation, one batch of up to 64 (a fixed order).
    ``authors``: :data:`EVA_BATCHES` batches, each the whole training split under the training augmentation (EVA's
    incremental SVD needs more than one batch to converge; a few-shot split has no other images to give it)."""
    if peers in ("authors", "scripts"):
        repeated: ConcatDataset = ConcatDataset([task.train] * EVA_BATCHES)
        return DataLoader(repeated, batch_size=len(cast(Sized, task.train)), shuffle=False)
    plain = task.train_without_augmentation()
    return DataLoader(plain, batch_size=min(64, len(cast(Sized, plain))), drop_last=True)


def numerics() -> dict[str, Any]:
    """What decides a CPU run's last bits besides its config: the processor, the kernel set ATen chose (AVX2,
    AVX512, default), the threads, and the library versions. Two runs that differ only here may print other digits."""
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            processor = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), processor)
    except OSError:
        pass
    return {
        "processor": processor, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "numpy": np.__version__,
    }  # fmt: skip


def _peak_memory(device: torch.device) -> tuple[float, str]:
    """CUDA: peak tensor memory of this run. CPU: the process's peak resident memory so far (an upper bound)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"


def _test_selected(
    adapted: AdaptedModel, best_state: dict[str, torch.Tensor], cfg: TrainConfig, loader: DataLoader,
    multilabel: bool, device: torch.device, benchmark: str | None = None,
) -> tuple[dict[str, float], np.ndarray, dict]:  # fmt: skip
    """Load the selected epoch's trainable state ``best_state`` into ``adapted``'s model and evaluate it once on the
    test ``loader``: its metrics, each image's predicted class, and a dict that holds, for nested methods evaluated
    at full rank, the official code's evaluation too (a random rank, seeded from ``cfg``: ``test_random_rank``).
    ``multilabel``, ``device`` and ``benchmark`` as :func:`evaluate`."""
    names = dict(adapted.model.named_parameters())
    with torch.no_grad():
        for n, v in best_state.items():
            names[n].copy_(v.to(device))
    test, predicted, _ = evaluate_predictions(adapted.model, loader, multilabel, device, benchmark)
    extra = {}
    if adapted.sampler is not None and cfg.eval_rank == "full":  # what the official evaluation would report
        adapted.sampler.eval_rank = "random"
        adapted.sampler.reseed(cfg.seed + 2)
        extra["test_random_rank"] = evaluate(adapted.model, loader, multilabel, device, benchmark)
        adapted.sampler.eval_rank = "full"
    return test, predicted, extra


@torch.no_grad()
def attention_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights the attention layers apply now, on CPU: in an adapted model, each adapted layer's base weight plus
    its low-rank update (PEFT's ``get_delta_weight``; DoRA's magnitude is not included); otherwise every attention
    Linear's own weight."""
    adapted, plain = {}, {}
    for name, module in model.named_modules():
        if ".attn." not in name + "." or not isinstance(getattr(module, "weight", None), torch.Tensor):
            continue
        if hasattr(module, "get_delta_weight") and "default" in getattr(module, "scaling", {}):
            adapted[name] = (module.get_base_layer().weight + module.get_delta_weight("default")).float().cpu()
        elif isinstance(module, nn.Linear) and not any(k in name for k in ("lora_", "base_layer")):
            plain[name] = module.weight.detach().float().cpu().clone()
    return adapted or plain  # an adapted model: its adapted layers only


def weight_change(start: dict[str, torch.Tensor], model: nn.Module) -> float:
    """Median over attention layers of ``||W_now - W_start|| / ||W_start||`` (Frobenius), from ``start``
    (:func:`attention_weights` before training) to ``model`` now: 0 for a linear probe; how far an adapter moved."""
    now = attention_weights(model)
    changes = [float((now[n] - w).norm() / w.norm()) for n, w in start.items() if n in now and w.norm() > 0]
    return float(np.median(changes)) if changes else 0.0


def train(
    cfg: TrainConfig, records: str | None = None, force: bool = False, progress: bool = True,
    stop_at_perfect_val: bool = False,
) -> dict:  # fmt: skip
    """Run the experiment ``cfg`` describes and return its record (also appended to ``records``, a ``.jsonl`` file
    or a directory, when given). A record already in ``records`` for the same config is returned instead of
    training again, unless ``force``. ``progress``: a bar over epochs with the loss and validation metric.
    ``stop_at_perfect_val``: skip the epochs after validation reaches 100% (they cannot change the selected model
    or any test number; the record's ``stopped_at_epoch`` says where training ended, None for the whole schedule)."""
    check_config(cfg)
    if records:  # before any work: a result is never trained and then lost to a folder that cannot be written
        check_records(records)
    config = dataclasses.asdict(cfg)
    key = config_key(cfg)
    if records and not force:
        found = find_record(records, key)
        if found is not None:
            return found
    device = _device(cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    norm = resolve_normalization(cfg.normalize, cfg.backbone)
    task = load_task(cfg.task, cfg.shots, cfg.seed, cfg.root, cfg.img_size, cfg.augment, exp=cfg.exp, norm=norm,
                     **task_options(cfg.task, cfg.medmnist_size))  # fmt: skip
    backbone = load_backbone(cfg.backbone, num_classes=task.num_classes, img_size=cfg.img_size, seed=cfg.seed)
    loaders = {
        "train": make_loader(task.train, cfg.batch_size, True, cfg.seed, cfg.workers, device),
        "val": make_loader(task.val, 64, False, cfg.seed, cfg.workers, device),
        "test": make_loader(task.test, 64, False, cfg.seed, cfg.workers, device),
    }
    ctx = MethodContext(
        r=cfg.r, seed=cfg.seed, total_steps=cfg.epochs * len(loaders["train"]), scaling=cfg.scaling,
        eval_rank=cfg.eval_rank, init_loader=init_loader(task, cfg.peers) if get_spec(cfg.method).adapter == "eva"
        else None, peers=cfg.peers, eva_whiten=cfg.eva_whiten,
    )  # fmt: skip
    adapted = prepare_method(backbone, cfg.method, ctx)
    adapted.model.to(device)
    start = attention_weights(adapted.model)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    history, best_state, best_epoch, best, step_times = _fit(
        adapted, cfg, loaders, task.multilabel, device, progress, stop_at_perfect_val
    )
    if best_state is None:
        raise SrLoraError(f"{cfg.method}: no epoch could be selected; train for more epochs")
    test_last, predicted_last, labels = evaluate_predictions(adapted.model, loaders["test"], task.multilabel, device,
                                                             task.benchmark)  # the last epoch's  # fmt: skip
    test, predicted, extra = _test_selected(adapted, best_state, cfg, loaders["test"], task.multilabel, device,
                                            task.benchmark)  # fmt: skip
    predictions = encode_predictions(predicted, predicted_last, labels)
    ranks = adapted.ranks()
    peak, peak_kind = _peak_memory(device)
    record = {
        "key": key,
        "config": config,
        "task": task.display_name,
        "standin": task.standin,
        "fixture": task.fixture,
        "normalization": norm.as_dict(),
        "num_classes": task.num_classes,
        "test_images": len(cast(Sized, task.test)),
        "best_epoch": best_epoch,
        "val": {selection_metric(task.multilabel): best},
        "test": test,
        **extra,
        "test_last": test_last,
        "last_epoch": len(history),
        "weight_change": weight_change(start, adapted.model),
        "update_scale": adapted.info.get("update_scale"),
        "trainable_params": adapted.info["trainable_params"],
        "ranks": ranks,
        "lora_params": lora_parameter_count(ranks, backbone) if ranks else 0,
        "init_s": adapted.info["init_s"],
        "steps": len(step_times),
        "schedule_steps": ctx.total_steps,
        "stopped_at_epoch": len(history) if len(history) < cfg.epochs else None,
        "step_s_median": float(np.median(step_times)),
        "total_s": time.perf_counter() - t0,
        "peak_memory_mb": peak,
        "peak_memory_kind": peak_kind,
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "numerics": numerics(),
        "history": history,
        **({"predictions": predictions} if predictions else {}),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
    }
    if records:
        append_record(records, record)
    return record
