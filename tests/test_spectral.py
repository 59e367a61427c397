import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import srlora_utils as S
from srlora_utils.core.profile import random_matrix_check
from srlora_utils.core.spectral import marchenko_pastur_stable_rank, top_singular_value


def random_matrix(m: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(m, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def decaying(m: int, n: int, alpha: float = 0.8, seed: int = 0) -> torch.Tensor:
    """A matrix with singular values k^-alpha and random singular vectors."""
    u, _ = torch.linalg.qr(random_matrix(m, min(m, n), seed))
    v, _ = torch.linalg.qr(random_matrix(n, min(m, n), seed + 1))
    s = torch.arange(1, min(m, n) + 1, dtype=torch.float64) ** -alpha
    return u @ torch.diag(s) @ v.T


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 40), n=st.integers(1, 40), k=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_bounds_between_one_and_rank(m, n, k, seed):
    k = min(k, m, n)
    w = random_matrix(m, k, seed) @ random_matrix(k, n, seed + 1)  # rank k almost surely
    s = S.stable_rank(w)
    assert 1.0 - 1e-9 <= s <= k + 1e-9


@settings(max_examples=25, deadline=None)
@given(m=st.integers(2, 30), n=st.integers(2, 30), seed=st.integers(0, 10_000), c=st.floats(1e-3, 1e3))
def test_invariant_to_rotations_and_scaling(m, n, seed, c):
    w = random_matrix(m, n, seed)
    q1, _ = torch.linalg.qr(random_matrix(m, m, seed + 1))
    q2, _ = torch.linalg.qr(random_matrix(n, n, seed + 2))
    base = S.stable_rank(w)
    assert S.stable_rank(q1 @ w @ q2) == pytest.approx(base, rel=1e-9)
    assert S.stable_rank(c * w) == pytest.approx(base, rel=1e-9)
    assert S.stable_rank(w.T) == pytest.approx(base, rel=1e-9)


def test_known_spectra():
    assert S.stable_rank(torch.eye(7)) == pytest.approx(7.0)
    assert S.stable_rank(torch.outer(torch.arange(1.0, 5.0), torch.ones(3))) == pytest.approx(1.0)
    s = torch.tensor([3.0, 2.0, 1.0, 0.5])
    assert S.stable_rank(torch.diag(s)) == pytest.approx(float((s**2).sum() / 9.0))
    assert S.effective_rank(torch.eye(5)) == pytest.approx(5.0)
    assert S.effective_rank(torch.outer(torch.ones(4), torch.ones(6))) == pytest.approx(1.0)
    assert S.numerical_rank(random_matrix(20, 3) @ random_matrix(3, 15)) == 3


def test_robust_to_small_perturbations_unlike_rank():
    w = random_matrix(60, 5) @ random_matrix(5, 40)
    noisy = w + 1e-6 * random_matrix(60, 40, seed=9)
    assert S.numerical_rank(w) == 5 and S.numerical_rank(noisy) == 40
    assert S.stable_rank(noisy) == pytest.approx(S.stable_rank(w), rel=1e-6)


def test_conv_kernels_are_flattened():
    k = torch.randn(8, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    assert S.stable_rank(k) == pytest.approx(S.stable_rank(k.reshape(8, 27)))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_low_precision_inputs_are_computed_in_float64(dtype):
    w = random_matrix(64, 32).to(dtype)
    assert S.stable_rank(w) == pytest.approx(S.stable_rank(w.to(torch.float64)), rel=1e-12)
    assert S.stable_rank(w, estimator="fast") == pytest.approx(S.stable_rank(w.to(torch.float64)), rel=1e-3)


def test_numpy_input_matches_torch():
    w = np.random.default_rng(0).standard_normal((30, 20))
    assert S.stable_rank(w) == pytest.approx(S.stable_rank(torch.from_numpy(w)))
    s = np.linalg.svd(w, compute_uv=False)
    assert S.stable_rank(w) == pytest.approx(float((s**2).sum() / s[0] ** 2), rel=1e-12)


@pytest.mark.parametrize(
    "w",
    [random_matrix(384, 1152), decaying(768, 768, 0.5), decaying(300, 900, 1.0), random_matrix(200, 200)],
    ids=["gaussian-384x1152", "decay0.5-768", "decay1.0-300x900", "gaussian-square"],
)
def test_fast_estimator_within_1e_3_of_exact(w):
    exact = S.stable_rank(w)
    fast = S.stable_rank(w, estimator="fast")
    assert abs(fast - exact) / exact <= 1e-3
    # the power-iteration estimate of sigma_1 never exceeds the truth (up to float32 rounding)
    assert top_singular_value(w) <= float(torch.linalg.svdvals(w)[0]) * (1 + 1e-6)


def test_fast_estimator_is_deterministic_and_independent_of_the_global_seed():
    w = decaying(256, 512)
    torch.manual_seed(0)
    first = S.stable_rank(w, estimator="fast")
    torch.manual_seed(123)
    torch.rand(1000)  # move the global generator: the fast estimator must not draw from it
    assert S.stable_rank(w, estimator="fast") == first
    s = np.linalg.svd(w.double().numpy(), compute_uv=False)  # an independent reference
    assert first == pytest.approx(float((s**2).sum() / s[0] ** 2), rel=1e-3)


def test_spectral_summary_is_consistent():
    w = decaying(50, 80)
    out = S.spectral_summary(w)
    assert out["stable_rank"] == pytest.approx(S.stable_rank(w))
    assert out["effective_rank"] == pytest.approx(S.effective_rank(w))
    assert out["frobenius_sq"] == pytest.approx(float((w**2).sum()))
    assert math.isclose(out["spectral_norm"], float(torch.linalg.matrix_norm(w, ord=2)), rel_tol=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(4, 4), "all zeros"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), "NaN or inf"),
        (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), "NaN or inf"),
        (torch.ones(2, 3, 4), "2-D weight matrix or a 4-D conv kernel"),
        (torch.ones(5), "2-D weight matrix or a 4-D conv kernel"),
        (torch.ones(0, 3), "empty"),
        ([[1.0, 2.0]], "torch.Tensor or numpy array"),
    ],
)
def test_bad_weights_get_clear_errors(bad, match):
    with pytest.raises(S.SrLoraError, match=match):
        S.stable_rank(bad)


def test_unknown_estimator():
    with pytest.raises(S.SrLoraError, match="unknown estimator"):
        S.stable_rank(torch.eye(3), estimator="lanczos")


def near_half_integer(m: int, n: int, target: float, seed: int) -> torch.Tensor:
    """A float32 matrix whose stable rank is ``target`` (before the float32 cast): a decaying spectrum whose top
    singular value is set so that sum(s^2) / s_1^2 = target."""
    gen = np.random.default_rng(seed)
    k = min(m, n)
    alpha = gen.uniform(0.2, 1.0)
    while True:  # a tail flat enough that the top singular value, set to hit the target, stays the largest
        s = np.arange(1, k + 1, dtype=np.float64) ** -alpha
        s[0] = math.sqrt((s[1:] ** 2).sum() / (target - 1))
        if s[0] > 1.01 * s[1]:
            break
        alpha /= 2
    u, _ = np.linalg.qr(gen.standard_normal((m, k)))
    v, _ = np.linalg.qr(gen.standard_normal((n, k)))
    return torch.from_numpy(((u * s) @ v.T).astype(np.float32))


def test_fast_paper_ranks_are_the_exact_ones_next_to_half_integers():
    """Stable ranks within 1e-4 of a half-integer (after the float32 cast): the certified interval holds the exact
    value and round() of the fast stable rank is round() of the exact one, every time."""
    from srlora_utils.core.spectral import certified_stable_rank

    gen = np.random.default_rng(1)
    checked = 0
    for i in range(24):
        m, n = [(256, 256), (512, 256), (200, 300), (384, 1152)][i % 4]
        half = int(gen.integers(3, 60)) + 0.5
        w = near_half_integer(m, n, half + gen.choice([-1, 1]) * gen.uniform(1e-6, 6e-5), seed=i)
        exact = S.stable_rank(w)
        if abs(exact - half) >= 1e-4:  # the float32 cast moved it further: not a case for this test
            continue
        r = certified_stable_rank(w)
        assert r["low"] <= exact <= r["high"], (m, n, exact, r)
        assert round(S.stable_rank(w, estimator="fast")) == round(exact), (m, n, exact, r)
        checked += 1
    assert checked >= 20


def test_fast_refines_in_float64_only_where_float32_cannot_decide():
    from srlora_utils.core.spectral import certified_stable_rank

    w = near_half_integer(256, 256, 12.5 + 2e-7, seed=3)  # 2e-8 relative: below float32's resolution
    exact = S.stable_rank(w)
    r = certified_stable_rank(w)
    assert r["stage"] in ("float64", "exact") and round(r["stable_rank"]) == round(exact)
    assert certified_stable_rank(decaying(256, 512).to(torch.float32))["stage"] == "float32"


def test_fast_paper_ranks_are_the_exact_ones_on_real_weights():
    """All 48 linear matrices of the offline ViT (and their paper-rule ranks) by the fast and the exact estimator."""
    from srlora_utils.core.spectral import certified_stable_rank

    model = S.load_backbone()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and ".blocks." in f".{name}":
            exact = S.stable_rank(module.weight)
            r = certified_stable_rank(module.weight)
            assert r["low"] <= exact <= r["high"] and round(r["stable_rank"]) == round(exact), name


def test_official_method_is_the_scripts_float32_arithmetic():
    w = near_half_integer(300, 200, 20.5, seed=5).numpy()
    s = np.linalg.svd(w, compute_uv=False)  # the official script, verbatim
    assert S.stable_rank(w, estimator="official") == float(np.sum(s**2) / s[0] ** 2)


def test_marchenko_pastur_predicts_the_stable_rank_of_random_matrices():
    assert marchenko_pastur_stable_rank(384, 384) == pytest.approx(96.0)  # n / 4 for a square matrix
    assert marchenko_pastur_stable_rank(1536, 384) == pytest.approx(marchenko_pastur_stable_rank(384, 1536))
    for m, n in ((600, 300), (400, 400)):
        assert S.stable_rank(random_matrix(m, n, 3)) == pytest.approx(marchenko_pastur_stable_rank(m, n), rel=0.06)


def test_random_matrix_check_finds_a_single_outlying_weight(tiny_vit):
    with torch.no_grad():
        tiny_vit.blocks[0].mlp.fc1.weight[0, 0] = 2.0  # what timm's trunc_normal_(std=.02, a=-2, b=2) can draw
    check = random_matrix_check(S.spectral_profile(tiny_vit, "all_linear"), tiny_vit).set_index("module")
    spiked = check.loc["blocks.0.mlp.fc1"]
    assert not spiked["near"] and spiked["max_abs"] == 2.0 and spiked["max_sd"] > 50
    assert spiked["stable_rank"] < 0.5 * spiked["mp"]
    assert check["mp"]["blocks.0.attn.proj"] == pytest.approx(192 / 4)
