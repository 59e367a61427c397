import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srlora_utils as S
from srlora_utils.core.allocation import discordant_pairs, uniform_budget


def profile_of(sranks, dims=None):
    dims = dims or [(64, 64)] * len(sranks)
    return pd.DataFrame(
        {
            "module": [f"blocks.{i}.attn.proj" for i in range(len(sranks))],
            "d_out": [o for o, _ in dims],
            "d_in": [i for _, i in dims],
            "stable_rank": sranks,
        }
    )


def test_paper_rule_is_python_round_on_float64():
    p = profile_of([2.5, 3.5, 0.7, 10.49999, 10.5])
    # banker's rounding as in the official code; at least 1
    assert list(S.allocate_ranks(p, "paper").values()) == [2, 4, 1, 10, 10]


def test_paper_rule_r_max_clips_only_when_asked():
    p = profile_of([30.2, 5.1])
    assert list(S.allocate_ranks(p, "paper").values()) == [30, 5]
    assert list(S.allocate_ranks(p, "paper", r_max=16).values()) == [16, 5]


def test_uniform_rule():
    p = profile_of([3.0, 9.0])
    assert S.allocate_ranks(p, "uniform", r=4) == {"blocks.0.attn.proj": 4, "blocks.1.attn.proj": 4}
    with pytest.raises(S.SrLoraError, match="smallest matrix size 64"):
        S.allocate_ranks(p, "uniform", r=65)


def test_budget_defaults_to_uniform_cost_and_follows_stable_rank():
    p = profile_of([1.0, 2.0, 4.0, 8.0])
    ranks = S.allocate_ranks(p, "budget", r=8)
    total = S.lora_parameter_count(ranks, p)
    assert total <= uniform_budget(p, 8) == 8 * 4 * 128
    assert list(ranks.values()) == sorted(ranks.values())
    # proportional: 32 ranks shared 1:2:4:8
    assert list(ranks.values()) == pytest.approx([32 / 15, 64 / 15, 128 / 15, 256 / 15], abs=1)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(1.0, 300.0), st.integers(2, 300), st.integers(2, 300)),
        min_size=1,
        max_size=30,
    ),
    r=st.integers(1, 16),
    factor=st.floats(0.2, 3.0),
    r_min=st.integers(1, 2),
)
def test_budget_invariants(data, r, factor, r_min):
    p = profile_of([s for s, _, _ in data], [(o, i) for _, o, i in data])
    cost = (p["d_in"] + p["d_out"]).tolist()
    caps = [min(i, o) for i, o in zip(p["d_in"], p["d_out"])]
    budget = int(factor * uniform_budget(p, r))
    if budget < r_min * sum(cost):
        with pytest.raises(S.SrLoraError, match="too small"):
            S.allocate_ranks(p, "budget", budget=budget, r_min=r_min)
        return
    ranks = S.allocate_ranks(p, "budget", budget=budget, r_min=r_min)
    values = list(ranks.values())
    total = S.lora_parameter_count(ranks, p)
    assert total <= budget
    assert all(r_min <= v <= c for v, c in zip(values, caps))
    growable = [c for v, c, cap in zip(values, cost, caps) if v < cap]
    # no rank step that fits is left unused: within one step of the largest module below the budget
    assert not growable or budget - total < min(growable) <= max(cost)
    assert S.allocate_ranks(p, "budget", budget=budget, r_min=r_min) == ranks  # deterministic


def test_budget_respects_r_max_and_redistributes():
    p = profile_of([100.0, 1.0, 1.0])
    ranks = S.allocate_ranks(p, "budget", r=8, r_max=10)
    assert ranks["blocks.0.attn.proj"] == 10
    assert S.lora_parameter_count(ranks, p) <= uniform_budget(p, 8)
    assert sum(ranks.values()) == 24  # the capped module's share went to the others


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rule": "budget", "budget": 100}, "budget of 100 LoRA parameters is too small"),
        ({"rule": "magic"}, "unknown rule"),
        ({"rule": "budget", "r_min": 0}, "at least 1"),
        ({"rule": "budget", "r_min": 4, "r_max": 2}, "below r_min"),
    ],
)
def test_allocation_errors(kwargs, match):
    with pytest.raises(S.SrLoraError, match=match):
        S.allocate_ranks(profile_of([3.0, 4.0]), **kwargs)


def test_bad_profiles():
    with pytest.raises(S.SrLoraError, match="no rows"):
        S.allocate_ranks(profile_of([]))
    with pytest.raises(S.SrLoraError, match="columns"):
        S.allocate_ranks(pd.DataFrame({"module": ["a"]}))
    with pytest.raises(S.SrLoraError, match="non-finite"):
        S.allocate_ranks(profile_of([float("nan")]))


def test_parameter_count_from_model_and_profile(tiny_vit):
    S.split_qkv(tiny_vit)
    p = S.spectral_profile(tiny_vit, "official")
    ranks = S.allocate_ranks(p, "uniform", r=4)
    n = S.lora_parameter_count(ranks, p)
    assert n == S.lora_parameter_count(ranks, tiny_vit) == 2 * 3 * 4 * (192 + 192)
    with pytest.raises(S.SrLoraError, match="not found"):
        S.lora_parameter_count({"nope": 2}, tiny_vit)


def test_discordant_pairs_counts_strict_reversals_only():
    a = {"x": 1, "y": 2, "z": 3}
    assert discordant_pairs(a, a) == 0
    assert discordant_pairs(a, {"x": 1, "y": 1, "z": 3}) == 0  # a tie is not a reversal
    assert discordant_pairs(a, {"x": 3, "y": 2, "z": 1}) == 3
    assert discordant_pairs(a, {"x": 2, "y": 1, "z": 3}) == 1


@settings(max_examples=25, deadline=None)
@given(sranks=st.lists(st.floats(1, 60), min_size=2, max_size=20), r=st.integers(1, 16))
def test_budget_rule_never_reverses_the_paper_order_at_equal_costs(sranks, r):
    p = profile_of(sranks)
    assert discordant_pairs(S.allocate_ranks(p, "paper"), S.allocate_ranks(p, "budget", r=r)) == 0
