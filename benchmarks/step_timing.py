"""One timed training loop for the benchmarks (training_cost.py, gpu_check.py): what a run's step costs."""

from __future__ import annotations

import time

import torch


def time_training_steps(adapted, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int) -> list[float]:
    """Seconds of each of ``steps`` training steps (AdamW, bf16 autocast on CUDA, the method's regulariser and
    per-step hook) after ``warmup`` uncounted ones, on the device of ``x``. CUDA peak-memory statistics are reset
    first, so ``torch.cuda.max_memory_allocated`` afterwards is this loop's peak."""
    dev = x.device
    model = adapted.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(warmup + steps):
        sync()
        t = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
            if adapted.regulariser is not None:
                loss = loss + adapted.regulariser()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if adapted.after_step is not None:
            adapted.after_step(i + 1)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times
