"""Stable-rank speed against the official call, side by side in one run, with the paper-rule ranks each gives.

The anchor is exactly what the official script runs for every matrix: ``np.linalg.svd(W, compute_uv=False)`` on
the float32 weights of the state dict, then ``np.sum(s**2) / s[0]**2``. Beside it, on the same matrices and in
the same pass: NumPy's float64 SVD (values only), this kit's exact estimator (float64 singular values) and its fast
estimator (certified: largest singular value only, rounds as the exact estimator). Printed per group: total seconds per
method (median over --repeats passes), speed-ups against the official call (ratio of totals, and the median of
per-matrix ratios), and how many paper-rule ranks differ from the exact estimator's.

    python benchmarks/stable_rank_speed.py                    # ViT-B/16 shapes, one 7B decoder layer, real ViT-S
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
from srlora_utils.core.spectral import certified_stable_rank

SHAPES = {
    "vit_b": ("ViT-B/16, 12 blocks: qkv, proj, fc1, fc2",
              [(2304, 768), (768, 768), (3072, 768), (768, 3072)] * 12),
    "vit_l": ("ViT-L/16, 24 blocks: qkv, proj, fc1, fc2",
              [(3072, 1024), (1024, 1024), (4096, 1024), (1024, 4096)] * 24),
    "llm7b": ("7B decoder layer: q, k, v, o, gate, up, down",
              [(4096, 4096)] * 4 + [(11008, 4096)] * 2 + [(4096, 11008)]),
}  # fmt: skip


def decaying_matrix(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 matrix with a power-law spectrum k^-alpha (alpha in [0.4, 1.0]) over a small noise floor."""
    k = min(m, n)
    alpha = rng.uniform(0.4, 1.0)
    s = np.arange(1, k + 1, dtype=np.float64) ** -alpha
    left = rng.standard_normal((m, k), dtype=np.float32) / np.sqrt(m)
    right = rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(n)
    noise = 1e-3 * rng.standard_normal((m, n), dtype=np.float32) / np.sqrt(max(m, n))
    return ((left * s.astype(np.float32)) @ right + noise).astype(np.float32)  # as a state dict stores them


def official_call(w: np.ndarray) -> float:
    """The official script's computation, verbatim: float32 singular values only, float32 sums."""
    s = np.linalg.svd(w, compute_uv=False)
    return float(np.sum(s**2) / s[0] ** 2)


def numpy_f64_values(w: np.ndarray) -> float:
    """NumPy float64 SVD, singular values only."""
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    return float((s**2).sum() / s[0] ** 2)


METHODS = {
    "official": official_call,
    "numpy_f64": numpy_f64_values,
    "exact": lambda w: S.stable_rank(torch.from_numpy(w), estimator="exact"),
    "fast": lambda w: float(certified_stable_rank(torch.from_numpy(w))["stable_rank"]),
}


def measure(matrices: list[np.ndarray], repeats: int, label: str) -> dict:
    """Every method on every matrix, one after the other per matrix (so all see the same machine state)."""
    per_matrix = {name: [[] for _ in matrices] for name in METHODS}
    values = {name: [0.0] * len(matrices) for name in METHODS}
    for _ in range(repeats):
        for i, w in enumerate(tqdm(matrices, desc=label, leave=False)):
            for name, fn in METHODS.items():
                t0 = time.perf_counter()
                values[name][i] = fn(w)
                per_matrix[name][i].append(time.perf_counter() - t0)
    times = {name: [statistics.median(ts) for ts in rows] for name, rows in per_matrix.items()}
    total = {name: sum(ts) for name, ts in times.items()}
    exact_ranks = [round(v) for v in values["exact"]]
    return {
        "total_s": total,
        "speedup": {name: total["official"] / total[name] for name in METHODS},
        "median_ratio": {
            name: statistics.median(o / t for o, t in zip(times["official"], times[name])) for name in METHODS
        },  # fmt: skip
        "rank_diffs": {name: sum(round(v) != e for v, e in zip(values[name], exact_ranks)) for name in METHODS},
        "fast_max_rel_err": max(abs(f - e) / e for f, e in zip(values["fast"], values["exact"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--groups", nargs="+", default=["vit_b", "llm7b", "dinov2_s"], help="vit_b vit_l llm7b dinov2_s"
    )
    parser.add_argument("--repeats", type=int, default=1, help="passes over each group; the median is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for group in args.groups:
        if group == "dinov2_s":
            model = S.load_backbone()
            label = "offline DINOv2 ViT-S/14, real weights: qkv, proj, fc1, fc2"
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
        t, x = res["total_s"], res["speedup"]
        print(f"{label}: {len(mats)} matrices | s: official {t['official']:.2f}, numpy f64 {t['numpy_f64']:.2f}, "
              f"exact {t['exact']:.2f}, fast {t['fast']:.3f} | fast {x['fast']:.1f}x the official call | "
              f"paper ranks unlike exact: fast {res['rank_diffs']['fast']}, official {res['rank_diffs']['official']}",
              flush=True)  # fmt: skip
    print(f"\n{torch.get_num_threads()} threads, torch {torch.__version__}, numpy {np.__version__}, CPU")
    print(
        "| matrices | n | official call s | NumPy f64 values s | exact s | fast s | fast speed-up (totals) "
        "| fast speed-up (median per matrix) | paper ranks differing from exact: fast / official |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, n, res in rows:
        t = res["total_s"]
        print(f"| {label} | {n} | {t['official']:.2f} | {t['numpy_f64']:.2f} | {t['exact']:.2f} | {t['fast']:.3f} | "
              f"{res['speedup']['fast']:.1f}x | {res['median_ratio']['fast']:.1f}x | "
              f"{res['rank_diffs']['fast']} / {res['rank_diffs']['official']} |")  # fmt: skip


if __name__ == "__main__":
    main()
