"""Prepared GPU check (never in CI): step time and peak memory of every method at the paper setting, the certified
fast stable ranks of a 7B decoder layer computed on the device, and the loader's throughput, as Markdown tables.

Paper setting: the ViT-B/16 architecture at 384 px, batch 4, bf16 autocast, AdamW, 19-class head (ChestDR).
Weights are random (no download), with one change that keeps SR-LoRA's cost honest: every fused qkv and proj
matrix gets the singular values that give exactly the official shipped ranks under the paper's rule (a random
768-wide matrix has a stable rank near 190, which would double SR-LoRA's ranks). The model is on the device
before a method is prepared (PiSSA's SVD and EVA's statistics run there, as in training), and EVA's statistics
come from real images (the textures stand-in at the check's size): on Gaussian noise its components never
converge and PEFT's initialisation, which has no iteration cap, cycles the batches for ever. The Markdown file
is rewritten after every row, so a run cut short keeps what it measured. Usage, on a GPU machine:

    python benchmarks/gpu_check.py --out build/gpu_check.md          # about 3-4 minutes on one GPU
    python benchmarks/gpu_check.py --device cpu --img-size 64 --steps 1 --methods lora srlora   # a smoke test
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loader_speed import images_per_second, write_images  # noqa: E402
from step_timing import time_training_steps  # noqa: E402

from srlora_utils.core.official import OFFICIAL_VITB16_RANKS  # noqa: E402
from srlora_utils.models.backbones import PAPER_BACKBONE, load_backbone  # noqa: E402
from srlora_utils.training.methods import METHODS, MethodContext, prepare_method  # noqa: E402


@torch.no_grad()
def imprint_official_ranks(model: torch.nn.Module) -> None:
    """Give each block's fused qkv and proj weight singular values with stable rank exactly the official rank:
    sigma_1 = s and the others equal, so that srank = 1 + (n - 1) * (others / s)^2 = r (singular vectors kept)."""
    for block, (r_qkv, r_proj) in zip(model.blocks, OFFICIAL_VITB16_RANKS):
        for layer, r in ((block.attn.qkv, r_qkv), (block.attn.proj, r_proj)):
            w = layer.weight.float()
            u, s, vh = torch.linalg.svd(w, full_matrices=False)
            n = s.numel()
            new = torch.full_like(s, float(s[0]) * ((r - 1) / (n - 1)) ** 0.5)
            new[0] = s[0]
            layer.weight.copy_((u * new) @ vh)


def init_batches(img: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """EVA's data: the textures stand-in's training images at ``img`` px (real photographs), 4 batches of 16."""
    from srlora_utils.data.tasks import load_task

    plain = load_task("textures", shots=11, seed=0, img_size=img, augment="none").train_without_augmentation()
    xs = torch.stack([plain[i][0] for i in range(64)])
    return [(xs[i : i + 16].to(device), torch.zeros(16, dtype=torch.long, device=device)) for i in range(0, 64, 16)]


def measure(method: str, device: torch.device, img: int, steps: int, batch: int) -> dict:
    """Trainable parameters, mean rank, median step time, peak memory and preparation time of ``method``."""
    torch.manual_seed(0)
    backbone = load_backbone(PAPER_BACKBONE, num_classes=19, img_size=img, pretrained=False)
    imprint_official_ranks(backbone)
    backbone.to(device)
    ctx = MethodContext(r=8, seed=0, total_steps=steps + 3, init_loader=init_batches(img, device))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    adapted = prepare_method(backbone, method, ctx)
    model = adapted.model.to(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    init_s = time.perf_counter() - t0
    x = torch.randn(batch, 3, img, img, device=device)
    y = torch.zeros(batch, dtype=torch.long, device=device)
    times = time_training_steps(adapted, x, y, steps, warmup=3)
    params = [p for p in model.parameters() if p.requires_grad]
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    ranks = adapted.ranks()
    return {"method": method, "trainable_params": sum(p.numel() for p in params), "mean_rank":
            round(sum(ranks.values()) / len(ranks), 1) if ranks else 0, "step_ms": 1000 * statistics.median(times),
            "peak_mb": peak, "init_s": init_s}  # fmt: skip


def stable_rank_on_device(device: torch.device) -> list[str]:
    """The certified fast stable rank of one 7B-decoder-shaped layer on ``device`` against the exact float64 SVD on
    the CPU: seconds and whether the paper-rule ranks agree."""
    import numpy as np
    from stable_rank_speed import SHAPES, decaying_matrix

    from srlora_utils.core.spectral import certified_stable_rank, stable_rank

    rng = np.random.default_rng(0)
    lines = [
        "",
        "| 7B layer matrix | fast on device (ms) | stage | rank (fast) | rank (exact, CPU) |",
        "|---|---:|---|---:|---:|",
    ]
    for m, n in SHAPES["llm7b"][1]:
        w = torch.from_numpy(decaying_matrix(m, n, rng))
        on_device = w.to(device)
        certified_stable_rank(on_device)  # warm-up (kernels, allocator)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        r = certified_stable_rank(on_device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ms = 1000 * (time.perf_counter() - t0)
        lines.append(
            f"| {m}x{n} | {ms:.1f} | {r['stage']} | {round(float(r['stable_rank']))} | {round(stable_rank(w))} |"
        )
    return lines


def method_table(rows: list[dict], name: str, args: argparse.Namespace, precision: str) -> list[str]:
    """The Markdown lines of the per-method table (step time also as a multiple of LoRA's, measured in this run)."""
    lora = next((r["step_ms"] for r in rows if r["method"] == "lora"), float("nan"))
    lines = [
        f"GPU check, {datetime.date.today()}, {name}, torch {torch.__version__}: ViT-B/16 architecture at "
        f"{args.img_size} px, batch {args.batch}, {precision}, AdamW, random weights with the official ranks "
        f"imprinted; median of {args.steps} steps after 3 warm-up steps.",
        "",
        "| method | trainable params | mean rank | step (ms) | x LoRA | peak memory (MB) | init (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['trainable_params']:,} | {r['mean_rank']} | {r['step_ms']:.1f} | "
                     f"{r['step_ms'] / lora:.2f} | {r['peak_mb']:.0f} | {r['init_s']:.1f} |")  # fmt: skip
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/gpu_check.md")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--img-size", type=int, default=384)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--loader-workers", type=int, nargs="+", default=[0, 2, 4, 8])
    ap.add_argument("--sections", nargs="+", default=["methods", "ranks", "loader"],
                    choices=["methods", "ranks", "loader"], help="what to measure (default: all three)")  # fmt: skip
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a GPU machine (or --device cpu for a smoke test)")
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    precision = "bf16 autocast" if device.type == "cuda" else "float32"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def save(extra: list[str]) -> None:  # rewritten after every row: a run cut short keeps what it measured
        out.write_text("\n".join(lines + extra) + "\n")

    rows: list[dict] = []
    for method in args.methods if "methods" in args.sections else []:
        rows.append(measure(method, device, args.img_size, args.steps, args.batch))
        print(f"{method:16} {rows[-1]['step_ms']:8.1f} ms/step  {rows[-1]['peak_mb']:8.0f} MB peak  "
              f"{rows[-1]['init_s']:6.1f} s init", flush=True)  # fmt: skip
        save(method_table(rows, name, args, precision))
    lines += method_table(rows, name, args, precision) if rows else []
    if "ranks" in args.sections:
        lines += stable_rank_on_device(device)
        save([])
    if "loader" in args.sections:
        with tempfile.TemporaryDirectory() as tmp:
            names = write_images(Path(tmp), 128, "jpg")
            loader = {w: images_per_second(Path(tmp), names, args.img_size, w, 2) for w in args.loader_workers}
        lines += ["", f"Loader (official transform, {args.img_size} px, 512 px JPEGs): " + ", ".join(
            f"{w} workers {v:.0f} images/s" for w, v in loader.items()) + "."]  # fmt: skip
    save([])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
