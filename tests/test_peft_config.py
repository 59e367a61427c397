import math

import peft
import pytest
import torch
from torch import nn

import srlora_utils as S


def lora_ranks(model: nn.Module) -> dict[str, int]:
    return {
        name.removeprefix("base_model.model."): mod.r["default"]
        for name, mod in model.named_modules()
        if isinstance(mod, peft.tuners.lora.LoraLayer)
    }


def test_exact_placement_and_ranks(tiny_vit):
    S.split_qkv(tiny_vit)
    profile = S.spectral_profile(tiny_vit, "official")
    ranks = S.allocate_ranks(profile, "budget", r=8)
    ranks["blocks.1.attn.proj"] = 3  # make sure several distinct ranks are present
    head_params = sum(p.numel() for p in tiny_vit.head.parameters())
    model = peft.get_peft_model(tiny_vit, S.srlora_config(ranks))
    assert lora_ranks(model) == ranks
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("head" in n for n in trainable)
    assert not any("attn.qkv.k" in n for n in trainable)  # K untouched, as the official code
    expected = S.lora_parameter_count(ranks, profile) + head_params
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == expected


class Nested(nn.Module):
    """A model where one module name ('layer') is a suffix of another ('sub.layer')."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(16, 16)
        self.sub = nn.Module()
        self.sub.layer = nn.Linear(16, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.sub.layer(self.layer(x)))


@pytest.mark.parametrize("ranks", [{"layer": 4, "sub.layer": 2}, {"sub.layer": 2, "layer": 4}, {"layer": 4}])
def test_no_suffix_collisions(ranks):
    model = peft.get_peft_model(Nested(), S.srlora_config(ranks))
    assert lora_ranks(model) == ranks


@pytest.mark.parametrize(
    "alpha, scale", [("paper", lambda r: 1 / r), ("rslora", lambda r: 1 / math.sqrt(r)), (16.0, lambda r: 16 / r)]
)
def test_alpha_modes(alpha, scale):
    model = peft.get_peft_model(Nested(), S.srlora_config({"layer": 4, "sub.layer": 9}, alpha=alpha))
    for name, r in (("layer", 4), ("sub.layer", 9)):
        layer = model.base_model.model.get_submodule(name)
        assert layer.scaling["default"] == pytest.approx(scale(r))


def test_adapter_round_trip(tmp_path, tiny_vit):
    from tests.conftest import make_tiny_vit

    S.split_qkv(tiny_vit)
    ranks = S.allocate_ranks(S.spectral_profile(tiny_vit, "official"), "paper")
    model = peft.get_peft_model(tiny_vit, S.srlora_config(ranks))
    torch.manual_seed(1)
    with torch.no_grad():  # B starts at zero: give the adapter and head non-trivial values
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        expected = model(x)
    model.save_pretrained(tmp_path / "adapter")
    fresh = S.split_qkv(make_tiny_vit())
    loaded = peft.PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)
    with torch.no_grad(), loaded.disable_adapter():
        assert not torch.allclose(loaded(x), expected)  # the adapter really changes the output


@pytest.mark.parametrize(
    "ranks, kwargs, match",
    [
        ({}, {}, "no modules"),
        ({"layer": 0}, {}, "not a positive integer"),
        ({"layer": 2.5}, {}, "not a positive integer"),
        ({"layer": 2}, {"alpha": "big"}, "alpha="),
        ({"layer": 2}, {"r": 4}, "r is set from the rank dict"),
    ],
)
def test_config_errors(ranks, kwargs, match):
    with pytest.raises(S.SrLoraError, match=match):
        S.srlora_config(ranks, **kwargs)
