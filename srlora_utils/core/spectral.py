"""Spectral measures of weight matrices: stable rank, effective rank, numerical rank.

The stable rank ``srank(W) = ||W||_F^2 / ||W||_2^2`` is what SR-LoRA reads off each
pretrained weight. ``estimator="exact"`` takes it from all singular values;
``estimator="fast"`` needs only the largest one, found by randomized block power
(subspace) iteration, which is one or two orders of magnitude cheaper than an SVD.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from ..errors import SrLoraError

#: How a stable rank is computed: see :func:`stable_rank`.
Estimator = Literal["exact", "fast", "official"]
ESTIMATORS: tuple[str, ...] = ("exact", "fast", "official")

#: The fast estimator's block size (vectors iterated together) and iteration caps. It stops as soon as its certified
#: interval for the stable rank holds no rounding boundary (a half-integer) and is narrower than FAST_RTOL
#: (relative): enough for the paper rule (``round``) and, with room to spare, for the budget rule.
FAST_RTOL = 1e-3
FAST_BLOCK = 8
FAST_MAX_ITER = 60
FAST_REFINE_ITER = 8
#: Rounding error allowed for in a Rayleigh quotient computed in a given precision, as a multiple of
#: ``sqrt(m + n) * eps``. The probabilistic bound of Higham and Mary (2019) on inner products grows like
#: ``sqrt(n) * eps``; the factor 16 leaves a wide margin (the largest seen over the tests' matrices is below 1).
ROUNDOFF_FACTOR = 16.0


def as_matrix(weight: torch.Tensor | np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Return ``weight`` as a finite, non-zero 2-D tensor in ``dtype``; conv kernels are flattened."""
    return _checked_matrix(weight, dtype)[0]


def _checked_matrix(weight: torch.Tensor | np.ndarray, dtype: torch.dtype) -> tuple[torch.Tensor, float]:
    """:func:`as_matrix` and the matrix's squared Frobenius norm (the one pass that also checks it): exact for a
    float64 ``dtype``, from float32 row norms (relative error below about ``sqrt(columns) * eps32``) otherwise."""
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
    fro_sq = frobenius_sq(w) if w.dtype == torch.float64 else _row_energy(w)
    _check_energy(fro_sq, w)  # NaN or inf entries make it NaN or inf; an all-zero matrix makes it 0
    return w, fro_sq


#: Elements per chunk when a float32 matrix is read in float64 (a copy of a chunk, not of the whole matrix).
_CHUNK = 1 << 22


def frobenius_sq(w: torch.Tensor) -> float:
    """``||W||_F^2`` accumulated in float64, in one pass over ``w`` by row chunks, so the workspace stays small
    for large matrices (NaN or inf when ``w`` holds one)."""
    rows = max(1, _CHUNK // max(1, w[0].numel()))
    return float(sum(float(torch.sum(torch.square(w[i : i + rows].to(torch.float64)))) for i in range(0, len(w), rows)))


def _row_energy(w: torch.Tensor) -> float:
    """``||W||_F^2`` from the rows' norms in ``w``'s precision, summed in float64: one fast pass."""
    return float(torch.sum(torch.linalg.vector_norm(w, dim=1).to(torch.float64) ** 2))


def _check_energy(fro_sq: float, w: torch.Tensor) -> None:
    """One-line errors for a weight ``w`` whose squared Frobenius norm ``fro_sq`` shows NaN/inf entries (counted, and
    the first located, only then), an all-zero matrix, or entries too large or too small to square in ``w``'s
    precision."""
    if not math.isfinite(fro_sq):
        bad = ~torch.isfinite(w)
        if not bool(bad.any()):
            hint = "" if w.dtype == torch.float64 else ", or use estimator='exact' (float64)"
            raise SrLoraError(
                f"weight has entries too large to square in {str(w.dtype).removeprefix('torch.')} (largest "
                f"{float(w.abs().max()):.3g}): check the checkpoint{hint}"
            )
        first = [int(i) for i in bad.nonzero()[0]]
        raise SrLoraError(
            f"weight contains NaN or inf values ({int(bad.sum())} of {w.numel()}, the first at {first}): check the "
            "checkpoint or the training run that produced it"
        )
    if fro_sq == 0:
        if bool(w.any()):  # non-zero entries whose squares underflow
            raise SrLoraError(
                f"weight has entries too small to square in {str(w.dtype).removeprefix('torch.')} (largest "
                f"{float(w.abs().max()):.3g}): check the checkpoint, or use estimator='exact' (float64)"
            )
        raise SrLoraError("weight is all zeros: its stable rank is undefined (0/0)")


def singular_values(weight: torch.Tensor | np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """All singular values of ``weight`` in descending order (float64 by default)."""
    return torch.linalg.svdvals(as_matrix(weight, dtype))


def _gram_times(w: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of ``w`` on its smaller side times the block ``q``: ``W^T W q`` for a tall ``w``, ``W W^T q``
    for a wide one, written so that both products read ``w`` row by row (several times faster than ``W.T @ ...``).
    A ``w`` stored in lower precision than ``q`` is converted chunk by chunk: no full-size copy is made."""
    tall = w.shape[0] >= w.shape[1]
    if w.dtype == q.dtype:
        return ((w @ q).T @ w).T if tall else w @ (q.T @ w).T
    g = torch.zeros_like(q)
    if tall:
        rows = max(1, _CHUNK // w.shape[1])
        for i in range(0, w.shape[0], rows):
            part = w[i : i + rows].to(q.dtype)
            g += ((part @ q).T @ part).T
    else:
        cols = max(1, _CHUNK // w.shape[0])
        for j in range(0, w.shape[1], cols):
            part = w[:, j : j + cols].to(q.dtype)
            g += part @ (q.T @ part).T
    return g


def _ritz(w: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rayleigh-Ritz for the Gram matrix ``G`` of ``w`` on the orthonormal block ``q``: Ritz values (descending,
    float64), the residual norms ``||G x_i - theta_i x_i||`` of the top two Ritz vectors, and ``G q``."""
    g = _gram_times(w, q)
    h = (q.T @ g).to(torch.float64)
    theta, vec = torch.linalg.eigh((h + h.T) / 2)
    theta, vec = theta.flip(0), vec.flip(1)[:, :2]
    gx, x = g.to(torch.float64) @ vec, q.to(torch.float64) @ vec
    return theta, torch.linalg.vector_norm(gx - x * theta[:2], dim=0), g


def _sigma1_sq_bounds(theta: torch.Tensor, res: torch.Tensor, roundoff: float) -> tuple[float, float]:
    """Bounds on ``lambda_1 = sigma_1^2`` from the top Ritz values and residuals.

    Lower: the top Ritz value (Cauchy interlacing), less rounding. Upper: Kato-Temple,
    ``theta_1 + r_1^2 / (theta_1 - alpha)`` with ``alpha = theta_2 + r_2`` standing for the rest of the spectrum, or
    the residual bound ``theta_1 + r_1`` when that is tighter or no gap is seen, plus rounding. Both assume the
    random start block is not orthogonal to the top singular vector (probability one for a Gaussian start).
    """
    t1, r1 = float(theta[0]), float(res[0])
    alpha = float(theta[1] + res[1]) if len(theta) > 1 else 0.0
    slack = r1 if t1 <= alpha else min(r1, r1 * r1 / (t1 - alpha))
    return t1 * (1 - roundoff), (t1 + slack) * (1 + roundoff)


def _decided(lo: float, hi: float, rtol: float) -> bool:
    """True when ``[lo, hi]`` holds no half-integer (``round`` is settled) and is narrower than ``rtol``. An end
    exactly on a half-integer counts as holding it (``round`` goes to the even neighbour there)."""
    on_half = (lo + 0.5).is_integer()
    return not on_half and math.floor(lo + 0.5) == math.floor(hi + 0.5) and hi - lo <= rtol * lo


def _start_block(size: int, block: int, seed: int, w: torch.Tensor) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(size, block, generator=gen, dtype=torch.float64))
    return q.to(device=w.device, dtype=w.dtype)


def top_singular_value(
    weight: torch.Tensor | np.ndarray,
    rtol: float = 1e-6,
    block: int = FAST_BLOCK,
    max_iter: int = 200,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Largest singular value by randomized block subspace iteration (a lower bound that converges to it).

    ``weight``: a 2-D matrix, computed on in ``dtype``. Stops when the estimate changes by less than ``rtol``
    (relative) between iterations, or after ``max_iter`` iterations of ``block`` vectors.
    Deterministic for a given ``seed``.
    """
    w = as_matrix(weight, dtype)
    side = min(w.shape)
    if side <= 2 * block:  # tiny matrix: the exact answer is cheaper than iterating
        return float(torch.linalg.svdvals(w.to(torch.float64))[0])
    q = _start_block(side, block, seed, w)
    prev = 0.0
    for _ in range(max_iter):
        theta, _, g = _ritz(w, q)
        if abs(float(theta[0]) - prev) <= rtol * float(theta[0]):
            break
        prev = float(theta[0])
        q, _ = torch.linalg.qr(g)
    return math.sqrt(float(theta[0]))


def certified_stable_rank(
    weight: torch.Tensor | np.ndarray, rtol: float = FAST_RTOL, block: int = FAST_BLOCK, seed: int = 0
) -> dict[str, float | str]:
    """Stable rank with a certified interval, from the largest singular value alone (no SVD).

    Block subspace iteration on the Gram matrix with ``block`` Gaussian start vectors (drawn from ``seed``) runs in
    the weight's precision (float32 for float32, bf16 and fp16 weights) until the interval ``[low, high]`` that
    bounds the stable rank holds no half-integer and is narrower than ``rtol`` (relative): then ``round`` of the
    returned ``stable_rank`` equals ``round`` of the exact one. Where float32 cannot settle it, the iteration goes on
    in float64 (reading the weight by chunks), and where that cannot either, the SVD decides. Returns
    ``stable_rank``, ``low``, ``high``, ``spectral_norm``, ``frobenius_sq``, ``iterations`` and ``stage``
    (``float32``, ``float64`` or ``exact``: where it was settled).
    """
    w, fro_sq = _checked_matrix(weight, torch.float32 if _is_single(weight) else torch.float64)
    side, top = min(w.shape), float(min(w.shape))
    if side <= 2 * block:  # tiny matrix: the SVD is cheaper than iterating
        return _exact_result(w)
    q = _start_block(side, block, seed, w)
    stages = [torch.float32, torch.float64] if w.dtype == torch.float32 else [torch.float64]
    iterations = 0
    for i, dtype in enumerate(stages):
        if q.dtype != dtype:  # refine in float64 from the float32 subspace, orthonormal again to float64 accuracy
            q, _ = torch.linalg.qr(q.to(dtype))
            fro_sq = frobenius_sq(w)  # exact, by float64 chunks
        eps = float(torch.finfo(dtype).eps)
        roundoff = ROUNDOFF_FACTOR * math.sqrt(sum(w.shape)) * eps  # Rayleigh quotients
        fro_err = 0.0 if w.dtype == dtype == torch.float64 or i > 0 else ROUNDOFF_FACTOR * math.sqrt(w.shape[1]) * eps
        for _ in range(FAST_MAX_ITER if i == 0 else FAST_REFINE_ITER):
            theta, res, g = _ritz(w, q)
            iterations += 1
            lam_lo, lam_hi = _sigma1_sq_bounds(theta, res, roundoff)
            low = max(1.0, fro_sq * (1 - fro_err) / lam_hi)
            high = min(top, fro_sq * (1 + fro_err) / max(lam_lo, 1e-300))
            if _decided(low, high, rtol):
                sr = min(max(fro_sq / float(theta[0]), low), high)
                return {"stable_rank": sr, "low": low, "high": high, "spectral_norm": math.sqrt(float(theta[0])),
                        "frobenius_sq": fro_sq, "iterations": iterations,
                        "stage": str(dtype).removeprefix("torch.")}  # fmt: skip
            q, _ = torch.linalg.qr(g)
    return _exact_result(w, iterations)


def _is_single(weight: torch.Tensor | np.ndarray) -> bool:
    dtype = weight.dtype
    return dtype in (torch.float32, torch.float16, torch.bfloat16, np.float32, np.float16)


def _exact_result(w: torch.Tensor, iterations: int = 0) -> dict[str, float | str]:
    s = torch.linalg.svdvals(w.to(torch.float64))
    fro_sq = float(torch.sum(s * s))
    sr = fro_sq / float(s[0] * s[0])
    return {"stable_rank": sr, "low": sr, "high": sr, "spectral_norm": float(s[0]), "frobenius_sq": fro_sq,
            "iterations": iterations, "stage": "exact"}  # fmt: skip


def fast_summary(weight: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Spectral norm, squared Frobenius norm and stable rank without a full SVD (:func:`certified_stable_rank`:
    ``round`` of this stable rank is the exact one's)."""
    r = certified_stable_rank(weight)
    return {"spectral_norm": float(r["spectral_norm"]), "frobenius_sq": float(r["frobenius_sq"]),
            "stable_rank": float(r["stable_rank"])}  # fmt: skip


def official_stable_rank(weight: torch.Tensor | np.ndarray) -> float:
    """The stable rank exactly as the official script computes it: ``np.linalg.svd(W, compute_uv=False)`` on the
    float32 weights, then ``np.sum(s**2) / s[0]**2`` in float32 (its ``round`` is the official rank)."""
    w = as_matrix(weight, torch.float32).cpu().numpy()
    s = np.linalg.svd(w, compute_uv=False)
    return float(np.sum(s**2) / s[0] ** 2)


def stable_rank(weight: torch.Tensor | np.ndarray, estimator: Estimator = "exact") -> float:
    """Stable rank ``||W||_F^2 / ||W||_2^2`` (in ``[1, rank(W)]``) by ``estimator``: ``exact`` (all singular values in
    float64), ``fast`` (largest singular value only, certified: rounds as ``exact`` does) or ``official`` (the
    official script's float32 arithmetic, for bit-exact official ranks)."""
    if estimator == "exact":
        s = singular_values(weight, torch.float64)
        return float(torch.sum(s * s) / (s[0] * s[0]))
    if estimator == "fast":
        return float(certified_stable_rank(weight)["stable_rank"])
    if estimator == "official":
        return official_stable_rank(weight)
    raise SrLoraError(f"unknown estimator {estimator!r}: use 'exact', 'fast' or 'official'")


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


def marchenko_pastur_stable_rank(d_out: int, d_in: int) -> float:
    """Stable rank a large ``d_out x d_in`` matrix of i.i.d. entries tends to (Marchenko-Pastur):
    ``||W||_F^2 ~ m n v`` over ``sigma_1^2 ~ (sqrt(m) + sqrt(n))^2 v``, i.e. ``m n / (sqrt(m) + sqrt(n))^2``."""
    return d_out * d_in / (math.sqrt(d_out) + math.sqrt(d_in)) ** 2


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


#: The columns of a profile: one row per matrix (see :func:`~srlora_utils.core.profile.spectral_profile`).
PROFILE_COLUMNS = [
    "module",
    "block",
    "kind",
    "d_out",
    "d_in",
    "stable_rank",
    "spectral_norm",
    "frobenius_sq",
    "effective_rank",
    "source",
]


def measure_matrix(weight: torch.Tensor, estimator: Estimator, name: str | None = None) -> dict[str, float]:
    """Spectral norm, squared Frobenius norm, stable rank (by ``estimator``) and effective rank (NaN for ``fast``,
    which computes no SVD) of one ``weight``; ``name`` (e.g. the parameter's name and its file) names the weight in
    any error about it (NaN or inf entries, all zeros)."""
    try:
        return _measure(weight, estimator)
    except SrLoraError as err:
        if name is None:
            raise
        message = str(err)  # the checks' messages begin "weight ...": the weight gets its name
        raise SrLoraError(
            f"{name}{message.removeprefix('weight')}" if message.startswith("weight ") else f"{name}: {message}"
        ) from None


def _measure(weight: torch.Tensor, estimator: Estimator) -> dict[str, float]:
    if estimator == "exact":
        return spectral_summary(weight)
    if estimator == "fast":
        return {**fast_summary(weight), "effective_rank": float("nan")}
    if estimator == "official":  # the official script's float32 stable rank; the other measures in float64
        return {**spectral_summary(weight), "stable_rank": official_stable_rank(weight)}
    raise SrLoraError(f"unknown estimator {estimator!r}: use 'exact', 'fast' or 'official'")
