"""Training cost of every method on the offline backbone: step time, peak memory, trainable parameters.

Each method runs in its own process (so peak memory is its own), one after the other in one run,
on the same seeded batch. Printed: median step time (forward + backward + AdamW step) over --steps
timed steps after --warmup untimed ones, its ratio to ``lora``, peak memory, trainable parameters,
and the rank allocation's time as a share of a paper-sized run (20 epochs of a 5-shot 10-class task).

    python benchmarks/training_cost.py                  # 224 px, batch 4 (about 3 minutes on 2 CPU cores)
    python benchmarks/training_cost.py --img-size 384 --device cuda
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

METHODS = ("linear_probe", "full_ft", "lora", "srlora", "srlora_budget")
PAPER_RUN_STEPS = 20 * 13  # 20 epochs x ceil(5 shots x 10 classes / batch 4)


def measure_one(method: str, img_size: int, batch: int, steps: int, warmup: int, device: str) -> dict:
    import torch

    import srlora_utils as S
    from srlora_utils.methods import prepare_model

    torch.manual_seed(0)
    dev = torch.device(device)
    backbone = S.load_backbone(num_classes=10, img_size=img_size, seed=0)
    t0 = time.perf_counter()
    model, info = prepare_model(backbone, method)
    alloc_s = time.perf_counter() - t0
    model.to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, img_size, img_size, generator=gen).to(dev)
    y = torch.randint(0, 10, (batch,), generator=gen).to(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(warmup + steps):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    peak_mb = (
        torch.cuda.max_memory_allocated(dev) / 2**20
        if dev.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "method": method,
        "step_ms": 1000 * statistics.median(times),
        "peak_mb": peak_mb,
        "trainable_params": info["trainable_params"],
        "allocation_s": alloc_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.img_size, args.batch, args.steps, args.warmup, args.device)))
        return
    rows = []
    for method in METHODS:
        opts = {"--img-size": args.img_size, "--batch": args.batch, "--steps": args.steps, "--warmup": args.warmup}
        cmd = [sys.executable, __file__, "--one", method, "--device", args.device]
        cmd += [str(v) for kv in opts.items() for v in kv]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        rows.append(json.loads(out))
        print(f"{method}: {rows[-1]['step_ms']:.0f} ms/step", file=sys.stderr, flush=True)
    lora = next(r for r in rows if r["method"] == "lora")
    mem = "peak GPU memory MB" if args.device.startswith("cuda") else "peak RSS MB (process)"
    print(f"\nOffline DINOv2 ViT-S/14, {args.img_size} px, batch {args.batch}, device {args.device}, "
          f"median of {args.steps} steps after {args.warmup} warm-up steps")  # fmt: skip
    print(f"| method | trainable params | step ms (median) | x lora | {mem} | allocation s | allocation share |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        share = r["allocation_s"] / (r["allocation_s"] + PAPER_RUN_STEPS * r["step_ms"] / 1000)
        print(
            f"| {r['method']} | {r['trainable_params']:,} | {r['step_ms']:.0f} | {r['step_ms'] / lora['step_ms']:.2f} "
            f"| {r['peak_mb']:.0f} | {r['allocation_s']:.2f} | {100 * share:.1f}% |"
        )


if __name__ == "__main__":
    main()
