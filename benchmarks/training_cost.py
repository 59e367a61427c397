"""Training cost of every method on the offline backbone: step time, peak memory, trainable parameters.

Each method runs in its own process (so peak memory is its own), one after the other in one run, on
the same batch of 4 real images (the textures stand-in; EVA initialises from its 30 training images).
Printed: median step time (forward + backward + AdamW step; AdaLoRA's update_and_allocate and
regulariser; nested methods' rank sampling) over --steps timed steps after --warmup untimed ones,
its ratio to ``lora``, peak memory, trainable parameters, and the time to build and initialise the
adapted model (profile, ranks, PEFT wrapping, EVA's pass over the data; library imports excluded)
as a share of a paper-sized run (20 epochs of a 5-shot 10-class task).

    python benchmarks/training_cost.py                  # 224 px, batch 4 (about 5 minutes on 2 CPU cores)
    python benchmarks/training_cost.py --methods srlora_nested,dylora --steps 30   # a subset, more steps
    python benchmarks/training_cost.py --img-size 384 --device cuda
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys

PAPER_RUN_STEPS = 20 * 13  # 20 epochs x ceil(5 shots x 10 classes / batch 4)


def measure_one(method: str, img_size: int, batch: int, steps: int, warmup: int, device: str) -> dict:
    import peft  # noqa: F401 - imported before timing: a library import is not the method's initialisation
    import torch
    from step_timing import time_training_steps

    import srlora_utils as S
    from srlora_utils.data.tasks import load_task
    from srlora_utils.training.methods import MethodContext, prepare_method
    from srlora_utils.training.run import init_loader

    torch.manual_seed(0)
    dev = torch.device(device)
    # Real images (the textures stand-in, no augmentation): EVA's initialisation needs data with structure.
    task = load_task("textures", 5, 0, img_size=img_size, augment="none")
    x, y = next(iter(torch.utils.data.DataLoader(task.train, batch_size=batch)))
    backbone = S.load_backbone(num_classes=task.num_classes, img_size=img_size, seed=0)
    ctx = MethodContext(total_steps=PAPER_RUN_STEPS, init_loader=init_loader(task))
    adapted = prepare_method(backbone, method, ctx)
    model, info = adapted.model, adapted.info
    model.to(dev).train()
    x, y = x.to(dev), y.to(dev)
    times = time_training_steps(adapted, x, y, steps, warmup)
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
        "init_s": info["init_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", default=None, help="comma-separated subset (default: every method)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every method this often; medians over rounds")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.img_size, args.batch, args.steps, args.warmup, args.device)))
        return
    from srlora_utils.training.methods import METHODS

    methods = args.methods.split(",") if args.methods else list(METHODS)
    if "lora" not in methods:
        methods.insert(0, "lora")  # the reference of every ratio
    opts = {"--img-size": args.img_size, "--batch": args.batch, "--steps": args.steps, "--warmup": args.warmup}
    per_method: dict[str, list[dict]] = {m: [] for m in methods}
    for round_ in range(args.rounds):  # rounds interleave the methods, so that a drifting machine hits them all
        for method in methods:
            cmd = [sys.executable, __file__, "--one", method, "--device", args.device]
            cmd += [str(v) for kv in opts.items() for v in kv]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            per_method[method].append(json.loads(out))
            step = per_method[method][-1]["step_ms"]
            print(f"round {round_ + 1}/{args.rounds} {method}: {step:.0f} ms/step", file=sys.stderr, flush=True)
    rows = [
        {**runs[0], **{k: statistics.median(r[k] for r in runs) for k in ("step_ms", "peak_mb", "init_s")}}
        for runs in per_method.values()
    ]
    lora = next(r for r in rows if r["method"] == "lora")
    mem = "peak GPU memory MB" if args.device.startswith("cuda") else "peak RSS MB (process)"
    print(f"\nOffline DINOv2 ViT-S/14, {args.img_size} px, batch {args.batch}, device {args.device}, median of "
          f"{args.steps} steps after {args.warmup} warm-up steps, median over {args.rounds} round(s)")  # fmt: skip
    print(f"| method | trainable params | step ms (median) | x lora | {mem} | init s | init share |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        share = r["init_s"] / (r["init_s"] + PAPER_RUN_STEPS * r["step_ms"] / 1000)
        print(
            f"| {r['method']} | {r['trainable_params']:,} | {r['step_ms']:.0f} | {r['step_ms'] / lora['step_ms']:.2f} "
            f"| {r['peak_mb']:.0f} | {r['init_s']:.2f} | {100 * share:.1f}% |"
        )


if __name__ == "__main__":
    main()
