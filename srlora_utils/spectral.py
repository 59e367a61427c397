"""Spectral measures of weight matrices: stable rank, effective rank, numerical rank.

The stable rank ``srank(W) = ||W||_F^2 / ||W||_2^2`` is what SR-LoRA reads off each
pretrained weight. ``method="exact"`` takes it from all singular values;
``method="fast"`` needs only the largest one, found by randomized block power
(subspace) iteration, which is one or two orders of magnitude cheaper than an SVD.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from .errors import SrLoraError

Method = Literal["exact", "fast"]

#: Default stopping rule of the fast method: relative change of the sigma_1 estimate
#: between two iterations. The estimate is a lower bound that increases to sigma_1,
#: so srank's relative error is about twice sigma_1's; the benchmark and the tests
#: check it stays below 1e-3 on pretrained, random and decaying spectra.
FAST_RTOL = 1e-6
FAST_BLOCK = 8
FAST_MAX_ITER = 200


def as_matrix(weight: torch.Tensor | np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Return ``weight`` as a finite, non-zero 2-D tensor in ``dtype``; conv kernels are flattened."""
    if isinstance(weight, np.ndarray):
        weight = torch.from_numpy(weight)
    if not isinstance(weight, torch.Tensor):
        raise SrLoraError(f"expected a torch.Tensor or numpy array, got {type(weight).__name__}")
    w = weight.detach()
    if w.ndim == 4:  # conv weight (out, in, kh, kw) -> (out, in*kh*kw)
        w = w.reshape(w.shape[0], -1)
    elif w.ndim != 2:
        raise SrLoraError(
            f"expected a 2-D weight matrix or a 4-D conv kernel, got shape {tuple(w.shape)}: "
            "pass a Linear/Conv weight (e.g. module.weight)"
        )
    if w.numel() == 0:
        raise SrLoraError(f"weight of shape {tuple(w.shape)} is empty")
    if not (w.is_floating_point() or w.is_complex()):
        w = w.to(torch.float64)
    w = w.to(dtype)
    if not bool(torch.isfinite(w).all()):
        raise SrLoraError(
            "weight contains NaN or inf values: check the checkpoint or the training run that produced it"
        )
    if not bool((w != 0).any()):
        raise SrLoraError("weight is all zeros: its stable rank is undefined (0/0)")
    return w


def singular_values(weight: torch.Tensor | np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """All singular values of ``weight`` in descending order (float64 by default)."""
    return torch.linalg.svdvals(as_matrix(weight, dtype))


def top_singular_value(
    weight: torch.Tensor | np.ndarray,
    rtol: float = FAST_RTOL,
    block: int = FAST_BLOCK,
    max_iter: int = FAST_MAX_ITER,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Largest singular value by randomized block power iteration (a lower bound that converges to it).

    ``weight``: a 2-D matrix, computed on in ``dtype``. Stops when the estimate changes by less than ``rtol``
    (relative) between iterations, or after ``max_iter`` iterations of ``block`` vectors.
    Deterministic for a given ``seed``.
    """
    w = as_matrix(weight, dtype)
    if w.shape[0] < w.shape[1]:
        w = w.T  # iterate on the smaller Gram matrix side: w is (m, n) with m >= n
    n = w.shape[1]
    k = min(block, n)
    if n <= 2 * k:  # tiny matrix: the exact answer is cheaper than iterating
        return float(torch.linalg.svdvals(w.to(torch.float64))[0])
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n, k, generator=gen, dtype=dtype).to(w.device)
    q, _ = torch.linalg.qr(w.T @ (w @ q))
    prev = 0.0
    est = 0.0
    for _ in range(max_iter):
        z, _ = torch.linalg.qr(w @ q)  # (m, k) orthonormal basis of W Q
        y = w.T @ z  # (n, k); svdvals(y) are the Ritz values of W on that subspace
        est = float(torch.linalg.svdvals(y.to(torch.float64))[0])
        if abs(est - prev) <= rtol * est:
            break
        prev = est
        q, _ = torch.linalg.qr(y)
    return est


def fast_summary(weight: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Spectral norm (power iteration), squared Frobenius norm and stable rank, without an SVD."""
    w = as_matrix(weight, torch.float64)
    sigma1 = top_singular_value(w)
    fro_sq = float(torch.sum(w * w))
    # sigma1 is a lower bound: clip so the estimate stays inside the theoretical range [1, min(m, n)].
    srank = max(1.0, min(fro_sq / (sigma1 * sigma1), float(min(w.shape))))
    return {"spectral_norm": sigma1, "frobenius_sq": fro_sq, "stable_rank": srank}


def stable_rank(weight: torch.Tensor | np.ndarray, method: Method = "exact") -> float:
    """Stable rank ``||W||_F^2 / ||W||_2^2`` (in ``[1, rank(W)]``), exact (SVD, float64) or fast (power iteration)."""
    if method == "exact":
        s = singular_values(weight, torch.float64)
        return float(torch.sum(s * s) / (s[0] * s[0]))
    if method == "fast":
        return fast_summary(weight)["stable_rank"]
    raise SrLoraError(f"unknown method {method!r}: use 'exact' or 'fast'")


def _entropy_rank(s: torch.Tensor) -> float:
    p = s / s.sum()
    p = p[p > 0]
    return float(math.exp(float(-(p * torch.log(p)).sum())))


def effective_rank(weight: torch.Tensor | np.ndarray) -> float:
    """Effective rank of Roy & Vetterli (2007): ``exp`` of the entropy of the normalised singular values."""
    return _entropy_rank(singular_values(weight, torch.float64))


def numerical_rank(weight: torch.Tensor | np.ndarray, rtol: float | None = None) -> int:
    """Number of singular values above ``rtol * sigma_1`` (default ``max(m, n) * eps``, as numpy's matrix_rank)."""
    w = as_matrix(weight, torch.float64)
    s = torch.linalg.svdvals(w)
    if rtol is None:
        rtol = max(w.shape) * float(np.finfo(np.float64).eps)
    return int((s > rtol * s[0]).sum())


def spectral_summary(weight: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Spectral norm, squared Frobenius norm, stable rank and effective rank from one SVD."""
    s = singular_values(weight, torch.float64)
    fro_sq = float(torch.sum(s * s))
    sigma1 = float(s[0])
    return {
        "spectral_norm": sigma1,
        "frobenius_sq": fro_sq,
        "stable_rank": fro_sq / (sigma1 * sigma1),
        "effective_rank": _entropy_rank(s),
    }
