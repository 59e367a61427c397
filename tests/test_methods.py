"""The method table: every method's adapter, ranks and per-step work, checked on small models."""

from collections import Counter

import numpy as np
import pytest
import torch

import srlora_utils as S
from conftest import make_tiny_vit
from srlora_utils.training.methods import (
    METHOD_SPECS,
    METHODS,
    MethodContext,
    adalora_schedule,
    get_spec,
    method_ranks,
    prepare_method,
    shuffled_ranks,
)
from srlora_utils.training.nested import NestedRankSampler


def _batch(n: int = 4, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_the_table_is_the_one_place_a_method_lives():
    assert METHODS == tuple(METHOD_SPECS) and len(METHODS) == 14
    for name, spec in METHOD_SPECS.items():
        assert spec.name == name and spec.lr > 0 and spec.summary
        assert (spec.rule is None) == (spec.kind != "lora")
    with pytest.raises(S.SrLoraError, match="unknown method 'sora': use one of linear_probe"):
        get_spec("sora")


def test_shuffled_keeps_the_multiset_and_moves_ranks():
    model = S.split_qkv(make_tiny_vit())
    budget = method_ranks(model, "srlora_budget")
    for seed in range(3):
        shuffled = method_ranks(model, "srlora_shuffled", seed=seed)
        assert list(shuffled) == list(budget)
        assert Counter(shuffled.values()) == Counter(budget.values())
        assert shuffled != budget
    assert method_ranks(model, "srlora_shuffled", seed=1) == method_ranks(model, "srlora_shuffled", seed=1)
    assert shuffled_ranks({"a": 4, "b": 4}, 0) == {"a": 4, "b": 4}  # nothing to move: returned as is


def test_pissa_starts_at_the_base_models_output():
    x = _batch()
    base = make_tiny_vit()
    with torch.no_grad():
        expected = base(x)
    adapted = prepare_method(make_tiny_vit(), "pissa")
    with torch.no_grad():
        got = adapted.model.eval()(x)
    assert torch.allclose(got, expected, atol=1e-4)
    # and the adapter holds the principal components: B A is not zero, unlike plain LoRA
    layer = adapted.model.base_model.model.blocks[0].attn.qkv.q
    assert layer.lora_B["default"].weight.abs().sum() > 0


def test_dora_magnitudes_are_trained_and_counted():
    lora = prepare_method(make_tiny_vit(), "lora")
    dora = prepare_method(make_tiny_vit(), "dora")
    mags = [(n, p) for n, p in dora.model.named_parameters() if "lora_magnitude_vector" in n]
    assert len(mags) == 6 and all(p.requires_grad for _, p in mags)  # q, v, proj of 2 blocks
    assert dora.info["trainable_params"] == lora.info["trainable_params"] + sum(p.numel() for _, p in mags)


def _make_b_nonzero(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("method", ["dylora", "srlora_nested"])
def test_nested_sampling_in_training_full_rank_in_eval(method):
    adapted = prepare_method(make_tiny_vit(), method, MethodContext(seed=0))
    model, sampler = adapted.model, adapted.sampler
    assert isinstance(sampler, NestedRankSampler)
    _make_b_nonzero(model)
    x = _batch()
    model.train()
    outs = [model(x) for _ in range(2)]
    full = adapted.info["ranks"]
    names = {n.removeprefix("base_model.model."): b for n, b in sampler.last_ranks.items()}
    assert set(names) == set(full) and all(1 <= b <= full[n] for n, b in names.items())
    assert not torch.allclose(outs[0], outs[1])  # a new rank per module and step
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a, b)
    assert {n.removeprefix("base_model.model."): r for n, r in sampler.last_ranks.items()} == full
    sampler.eval_rank = "random"  # the official evaluation: random ranks even in eval mode
    with torch.no_grad():
        assert not torch.allclose(model(x), a)


def test_nested_full_rank_equals_plain_lora():
    """At rank b = r the nested scale 1/b is LoRA's 1/r: eval-mode outputs equal an unhooked twin's."""
    adapted = prepare_method(make_tiny_vit(), "dylora")
    _make_b_nonzero(adapted.model)
    x = _batch()
    adapted.model.eval()
    with torch.no_grad():
        hooked = adapted.model(x)
        adapted.sampler.remove()
        plain = adapted.model(x)
    assert torch.equal(hooked, plain)


def test_adalora_schedule_and_errors():
    s = adalora_schedule(100)
    assert s == {"tinit": 10, "tfinal": 30, "deltaT": 2, "total_step": 100}
    with pytest.raises(S.SrLoraError, match="at least 4 training steps"):
        adalora_schedule(3)
    with pytest.raises(S.SrLoraError, match="total number of steps"):
        prepare_method(make_tiny_vit(), "adalora")
    with pytest.raises(S.SrLoraError, match="training batches"):
        prepare_method(make_tiny_vit(), "eva")


def test_adalora_prunes_to_lora_r8_budget():
    torch.manual_seed(0)
    total = 24
    adapted = prepare_method(make_tiny_vit(), "adalora", MethodContext(total_steps=total))
    model = adapted.model
    initial = adapted.ranks()
    assert set(initial.values()) == {12}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    x, y = _batch(8), torch.arange(8) % 3
    for step in range(1, total + 1):
        loss = torch.nn.functional.cross_entropy(model(x), y) + adapted.regulariser()
        opt.zero_grad()
        loss.backward()
        opt.step()
        adapted.after_step(step)
    final = adapted.ranks()
    assert final != initial and set(final) == set(initial)
    assert sum(final.values()) <= 8 * len(final)  # every module here is 192x192: ranks are the budget
    assert len(set(final.values())) > 1
    assert adapted.selectable_from_step == total - adalora_schedule(total)["tfinal"]
    reg = adapted.regulariser()
    assert reg.requires_grad and float(reg.detach()) > 0


def test_scaling_option():
    with pytest.raises(S.SrLoraError, match="unknown scaling"):
        prepare_method(make_tiny_vit(), "lora", MethodContext(scaling="sqrt"))
    adapted = prepare_method(make_tiny_vit(), "srlora", MethodContext(scaling="rslora"))
    layer = adapted.model.base_model.model.blocks[0].attn.proj
    r = layer.r["default"]
    assert layer.scaling["default"] == pytest.approx(1 / np.sqrt(r))
