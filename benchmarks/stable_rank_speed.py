"""Stable-rank profile speed: the official approach (NumPy float64 SVD) vs this kit's exact and fast methods.

For each group of matrix shapes (ViT-B/16 and ViT-L/16 blocks, one 7B-LLM decoder layer, and the
real offline DINOv2 ViT-S/14), every matrix is measured by the three methods side by side, one
after the other. Printed: total seconds per method (median over --repeats passes), the median of
the per-matrix speed-up ratios, and the fast method's largest relative error against the exact one.

    python benchmarks/stable_rank_speed.py            # all groups (about 12 minutes on 2 CPU cores)
    python benchmarks/stable_rank_speed.py --groups vit_b --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from tqdm import tqdm

import srlora_utils as S

SHAPES = {
    "vit_b": ("ViT-B/16 (12 blocks: qkv, proj, fc1, fc2)", [(2304, 768), (768, 768), (3072, 768), (768, 3072)] * 12),
    "vit_l": (
        "ViT-L/16 (24 blocks: qkv, proj, fc1, fc2)",
        [(3072, 1024), (1024, 1024), (4096, 1024), (1024, 4096)] * 24,
    ),
    "llm7b": (
        "7B LLM, one decoder layer (q, k, v, o, gate, up, down)",
        [(4096, 4096)] * 4 + [(11008, 4096)] * 2 + [(4096, 11008)],
    ),
}


def decaying_matrix(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 matrix with a power-law spectrum k^-alpha (alpha in [0.4, 1.0]) over a small noise floor."""
    k = min(m, n)
    alpha = rng.uniform(0.4, 1.0)
    s = np.arange(1, k + 1, dtype=np.float64) ** -alpha
    left = rng.standard_normal((m, k), dtype=np.float32) / np.sqrt(m)
    right = rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(n)
    noise = 1e-3 * rng.standard_normal((m, n), dtype=np.float32) / np.sqrt(max(m, n))
    return (left * s.astype(np.float32)) @ right + noise


def official_reference(w: np.ndarray) -> float:
    """What the official code does: a NumPy float64 SVD (U, S and V), then sum(s^2) / s_max^2."""
    _, s, _ = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    return float((s**2).sum() / s[0] ** 2)


def measure(matrices: list[np.ndarray], repeats: int, label: str) -> dict:
    methods = {
        "numpy_f64_svd": official_reference,
        "exact": lambda w: S.stable_rank(torch.from_numpy(w), method="exact"),
        "fast": lambda w: S.stable_rank(torch.from_numpy(w), method="fast"),
    }
    per_matrix = {name: [[] for _ in matrices] for name in methods}
    values = {name: [0.0] * len(matrices) for name in methods}
    for _ in range(repeats):
        for i, w in enumerate(tqdm(matrices, desc=label, leave=False)):
            for name, fn in methods.items():
                t0 = time.perf_counter()
                values[name][i] = fn(w)
                per_matrix[name][i].append(time.perf_counter() - t0)
    times = {name: [statistics.median(ts) for ts in rows] for name, rows in per_matrix.items()}
    rel_err = max(abs(f - e) / e for f, e in zip(values["fast"], values["exact"]))
    ref_err = max(abs(r - e) / e for r, e in zip(values["numpy_f64_svd"], values["exact"]))
    return {
        "total_s": {name: sum(ts) for name, ts in times.items()},
        "median_ratio_exact": statistics.median(r / e for r, e in zip(times["numpy_f64_svd"], times["exact"])),
        "median_ratio_fast": statistics.median(r / f for r, f in zip(times["numpy_f64_svd"], times["fast"])),
        "fast_max_rel_err": rel_err,
        "exact_vs_numpy_max_rel_err": ref_err,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=["dinov2_s", "vit_b", "vit_l", "llm7b"])
    parser.add_argument("--repeats", type=int, default=1, help="passes over each group; the median is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rows = []
    for group in args.groups:
        if group == "dinov2_s":
            model = S.load_backbone()
            label = "DINOv2 ViT-S/14 offline weights (real, 48 matrices)"
            mats = [
                model.get_submodule(m).weight.detach().numpy()
                for m in S.spectral_profile(model, "all_linear")["module"]
            ]
        else:
            label, shapes = SHAPES[group]
            rng = np.random.default_rng(args.seed)
            mats = [decaying_matrix(m, n, rng) for m, n in shapes]
        res = measure(mats, args.repeats, group)
        rows.append((label, len(mats), res))
        t = res["total_s"]
        print(
            f"{label}: {len(mats)} matrices | total s: numpy {t['numpy_f64_svd']:.2f}, exact {t['exact']:.2f}, "
            f"fast {t['fast']:.2f} | median speed-up vs numpy: exact {res['median_ratio_exact']:.1f}x, "
            f"fast {res['median_ratio_fast']:.1f}x | fast max rel err {res['fast_max_rel_err']:.1e}",
            flush=True,
        )
    threads = torch.get_num_threads()
    print(
        f"\n| matrices (torch {torch.__version__}, numpy {np.__version__}, {threads} threads, CPU) | n "
        "| NumPy f64 SVD s | exact s | fast s | exact speed-up | fast speed-up | fast max rel. err |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, n, res in rows:
        t = res["total_s"]
        print(
            f"| {label} | {n} | {t['numpy_f64_svd']:.2f} | {t['exact']:.2f} | {t['fast']:.2f} | "
            f"{res['median_ratio_exact']:.1f}x | {res['median_ratio_fast']:.1f}x | {res['fast_max_rel_err']:.1e} |"
        )


if __name__ == "__main__":
    main()
