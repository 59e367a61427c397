"""When the stable-rank prior helps (tasks with a known need for rank), the official backbone's identity, and the
official script's float32 stable ranks."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import srlora_utils as S
from srlora_utils.analysis.controlled import (
    allocation_experiment,
    build_targets,
    experiment_reading,
    fit_error,
    needed_ranks,
)
from srlora_utils.analysis.reference import OFFICIAL_BACKBONE_CANDIDATES, check_official_backbone, weights_in_cache
from srlora_utils.core.official import OFFICIAL_VITB16_RANKS, official_rule_ranks


def toy_profile(n: int = 12, d: int = 64) -> pd.DataFrame:
    """``n`` square ``d x d`` modules whose stable ranks grow from 2 to 30."""
    return pd.DataFrame({"module": [f"m{i}" for i in range(n)], "d_out": d, "d_in": d,
                         "stable_rank": np.linspace(2, 30, n)})  # fmt: skip


def test_needed_ranks_follow_the_stable_rank_as_asked():
    profile = toy_profile()
    right, wrong, equal = (needed_ranks(profile, k, mean_rank=8) for k in ("proportional", "inverse", "equal"))
    assert list(right.values()) == sorted(right.values()) and right["m11"] > 3 * right["m0"]
    assert list(wrong.values()) == sorted(wrong.values(), reverse=True)
    assert set(equal.values()) == {8} and abs(np.mean(list(right.values())) - 8) < 1
    with pytest.raises(S.SrLoraError, match="unknown need"):
        needed_ranks(profile, "random")  # type: ignore[arg-type]


def test_the_prior_wins_when_right_and_loses_when_wrong_at_equal_budgets():
    table = allocation_experiment(toy_profile(), budgets_r=[8], mean_rank=8).set_index(["need", "allocation"])
    err = table["relative error"]
    spent = table["LoRA parameters"]
    assert (spent.xs("stable-rank allocation", level=1) <= spent.xs("uniform LoRA", level=1)).all()  # equal budgets
    assert err[("proportional", "stable-rank allocation")] < 0.5 * err[("proportional", "uniform LoRA")]
    assert err[("inverse", "stable-rank allocation")] > 1.5 * err[("inverse", "uniform LoRA")]
    assert err[("equal", "uniform LoRA")] == pytest.approx(0, abs=1e-12)
    assert err[("equal", "stable-rank allocation")] > 0.05


def test_the_experiment_reading_states_what_its_table_shows():
    profile = toy_profile()
    table = allocation_experiment(profile, budgets_r=[2, 8, 16], mean_rank=8)
    text = "\n".join(experiment_reading(table, profile, mean_rank=8))
    err = table.set_index(["need", "budget (uniform r)", "allocation"])["relative error"]
    uniform_at_8 = err[("proportional", 8, "uniform LoRA")]
    assert f"uniform LoRA leaves {100 * uniform_at_8:.1f}% of the updates' energy out" in text
    assert "spends exactly uniform LoRA's parameters" in text or "spends at most" in text
    assert text.count("* **") == 3 and "gains at an equal budget only where" in text
    with pytest.raises(KeyError):
        experiment_reading(table, profile, mean_rank=4)  # the reading budget must be in the table


def test_a_trained_lora_reaches_the_eckart_young_error():
    """The experiment scores an allocation by the truncated-SVD error; LoRA fitted by gradient descent on a linear
    layer with whitened inputs gets there."""
    profile = toy_profile(1, 48).assign(stable_rank=10.0)
    target = build_targets(profile, {"m0": 12}, seed=1)["m0"].float()
    r = 5
    gen = torch.Generator().manual_seed(0)
    a = torch.nn.Parameter(0.1 * torch.randn(r, 48, generator=gen))
    b = torch.nn.Parameter(0.1 * torch.randn(48, r, generator=gen))
    opt = torch.optim.Adam([a, b], lr=0.01)
    for _ in range(3000):
        opt.zero_grad()
        loss = ((b @ a - target) ** 2).sum()
        loss.backward()
        opt.step()
    assert float(loss) == pytest.approx(fit_error({"m0": target.double()}, {"m0": r}), rel=1e-3)


def near_half(k: int, seed: int) -> np.ndarray:
    """A 64 x 64 float32 matrix whose stable rank is close to ``k + 0.5`` (before the float32 cast)."""
    gen = np.random.default_rng(seed)
    s = np.arange(1, 65, dtype=np.float64) ** -0.2  # flat enough that s[0], set below, stays the largest
    s[0] = math.sqrt((s[1:] ** 2).sum() / (k + 0.5 - 1))
    u, _ = np.linalg.qr(gen.standard_normal((64, 64)))
    v, _ = np.linalg.qr(gen.standard_normal((64, 64)))
    return ((u * s) @ v.T).astype(np.float32)


def test_official_precision_is_the_scripts_own_arithmetic_and_differs_from_float64_next_to_half_integers():
    """Matrices whose stable rank sits within 1e-6 of a half-integer: estimator="official" is the script's float32
    computation bit for bit; float64 (the default) rounds differently for some of them."""
    close = []
    for seed in range(400):
        w = near_half(9, seed)
        exact = S.stable_rank(w)
        if abs(exact - 9.5) < 1e-6:
            close.append((w, exact))
        if len(close) == 12:
            break
    assert len(close) >= 10
    differ = 0
    for w, exact in close:
        s = np.linalg.svd(w, compute_uv=False)  # the official script, verbatim
        script = round(np.sum(s**2) / s[0] ** 2)
        assert S.stable_rank(w, estimator="official") == float(np.sum(s**2) / s[0] ** 2)
        profile = pd.DataFrame({"module": ["m"], "d_out": [64], "d_in": [64],
                                "stable_rank": [S.stable_rank(w, estimator="official")]})  # fmt: skip
        assert S.allocate_ranks(profile, "paper") == {"m": script}
        differ += round(exact) != script
    assert differ >= 1, "float64 and the script's float32 rounded alike on every matrix: the cases do not probe"


def test_official_rule_ranks_on_a_vit():
    model = S.load_backbone()
    ranks = official_rule_ranks(model)
    assert len(ranks) == 12 and all(len(row) == 2 and min(row) >= 1 for row in ranks)
    for block, (r_qkv, r_proj) in zip(model.blocks, ranks):  # the script's own arithmetic, computed here by NumPy
        for layer, rank in ((block.attn.qkv, r_qkv), (block.attn.proj, r_proj)):
            s = np.linalg.svd(layer.weight.detach().numpy().astype(np.float32), compute_uv=False)
            assert rank == round(float(np.sum(s**2) / s[0] ** 2))


@pytest.mark.parametrize("name", OFFICIAL_BACKBONE_CANDIDATES)
def test_the_paper_backbone_is_the_one_that_reproduces_the_shipped_ranks(name):
    if not weights_in_cache(name):
        pytest.skip(f"weights of timm/{name} are not in the local Hugging Face cache: `srlora check-backbone` with "
                    "a network settles which checkpoint is official")  # fmt: skip
    result = check_official_backbone(name)
    assert len(result["ranks"]) == len(OFFICIAL_VITB16_RANKS)
    assert result["reproduces"] == (name == S.PAPER_BACKBONE), result
