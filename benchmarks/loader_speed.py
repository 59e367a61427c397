"""Data-loading throughput: images/s through the official training transform at 224 and 384 px, 0/1/2 workers.

Synthetic JPEG and PNG files (512 x 512, like the MedFMC and VTAB-1k images before resizing) are written to a
temporary folder; each setting reads every image ``--epochs`` times through ``make_loader`` (persistent workers,
seeded), as training does; medians over ``--rounds`` interleaved rounds. Usage:

    python benchmarks/loader_speed.py [--images 256] [--workers 0 1 2] [--sizes 224 384] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srlora_utils.data.images import ImageListDataset, make_transform
from srlora_utils.training.run import make_loader


def write_images(folder: Path, n: int, fmt: str, side: int = 512) -> list[str]:
    """``n`` smooth random RGB images of ``side`` px saved as ``fmt`` (jpg or png) under ``folder``."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        small = rng.integers(0, 255, (side // 16, side // 16, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((side, side), Image.BICUBIC)
        name = f"img{i:04d}.{fmt}"
        img.save(folder / name, quality=90) if fmt == "jpg" else img.save(folder / name)
        names.append(name)
    return names


def images_per_second(folder: Path, names: list[str], size: int, workers: int, epochs: int) -> float:
    ds = ImageListDataset(folder, names, np.zeros(len(names), dtype=int), make_transform(size, True))
    loader = make_loader(ds, 4, True, 0, workers, torch.device("cpu"))
    t = time.perf_counter()
    for _ in range(epochs):
        for _batch in loader:
            pass
    return epochs * len(names) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 384])
    ap.add_argument("--formats", nargs="+", default=["jpg", "png"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)  # the training process's threads belong to the model, not to decoding
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for fmt in args.formats:
            (Path(tmp) / fmt).mkdir()
            files[fmt] = write_images(Path(tmp) / fmt, args.images, fmt)
        settings = [(f, s, w) for f in args.formats for s in args.sizes for w in args.workers]
        results: dict = {k: [] for k in settings}
        for _ in range(args.rounds):  # interleaved, so that machine drift hits every setting alike
            for fmt, size, workers in settings:
                results[(fmt, size, workers)].append(
                    images_per_second(Path(tmp) / fmt, files[fmt], size, workers, args.epochs)
                )
        for (fmt, size, workers), values in results.items():
            base = statistics.median(results[(fmt, size, args.workers[0])])
            med = statistics.median(values)
            rows.append({"format": fmt, "size": size, "workers": workers, "images_per_s": round(med, 1),
                         f"x {args.workers[0]} workers": round(med / base, 2)})  # fmt: skip
    print(f"{'format':6} {'size':>5} {'workers':>7} {'images/s':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['format']:6} {r['size']:>5} {r['workers']:>7} {r['images_per_s']:>9} {list(r.values())[-1]:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
