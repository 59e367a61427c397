import pytest
import torch

import srlora_utils as S
from srlora_utils.core.spectral import PROFILE_COLUMNS


def test_split_qkv_keeps_outputs(tiny_vit):
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = tiny_vit(x)
        S.split_qkv(tiny_vit)
        after = tiny_vit(x)
    assert (before - after).abs().max().item() < 1e-5
    names = {n for n, _ in tiny_vit.named_modules()}
    assert {"blocks.0.attn.qkv.q", "blocks.0.attn.qkv.k", "blocks.1.attn.qkv.v"} <= names
    S.split_qkv(tiny_vit)  # idempotent
    assert sum(isinstance(m, S.SplitQKV) for m in tiny_vit.modules()) == 2


def test_split_qkv_rejects_models_without_qkv():
    with pytest.raises(S.SrLoraError, match="no fused 'attn.qkv'"):
        S.split_qkv(torch.nn.Sequential(torch.nn.Linear(3, 3)))


def test_profiles_for_each_target(tiny_vit):
    fused = S.spectral_profile(tiny_vit, "qkv")
    assert list(fused.columns) == PROFILE_COLUMNS
    assert fused["kind"].tolist() == ["qkv", "proj"] * 2
    assert fused.loc[0, ["d_out", "d_in"]].tolist() == [576, 192]
    all_fused = S.spectral_profile(tiny_vit, "all_linear")
    assert all_fused["kind"].tolist() == ["qkv", "proj", "fc1", "fc2"] * 2

    S.split_qkv(tiny_vit)
    official = S.spectral_profile(tiny_vit, "official")
    assert official["module"].tolist()[:3] == ["blocks.0.attn.qkv.q", "blocks.0.attn.qkv.v", "blocks.0.attn.proj"]
    # Q and V take the fused qkv matrix's stable rank, as the official code does
    assert official.loc[0, "stable_rank"] == pytest.approx(fused.loc[0, "stable_rank"])
    assert official.loc[1, "stable_rank"] == official.loc[0, "stable_rank"]
    assert official.loc[0, ["d_out", "d_in"]].tolist() == [192, 192]
    separate = S.spectral_profile(tiny_vit, "qv_separate")
    q = tiny_vit.get_submodule("blocks.0.attn.qkv.q").weight
    assert separate.loc[0, "stable_rank"] == pytest.approx(S.stable_rank(q))
    assert separate.loc[2, "stable_rank"] == pytest.approx(official.loc[2, "stable_rank"])
    assert S.spectral_profile(tiny_vit, "all_linear")["kind"].tolist()[:6] == ["q", "k", "v", "proj", "fc1", "fc2"]
    fast = S.spectral_profile(tiny_vit, "official", estimator="fast")
    assert (fast["stable_rank"] - official["stable_rank"]).abs().max() / official["stable_rank"].max() < 1e-3


def test_profile_errors(tiny_vit):
    with pytest.raises(S.SrLoraError, match="call srlora_utils.split_qkv"):
        S.spectral_profile(tiny_vit, "official")
    with pytest.raises(S.SrLoraError, match="unknown target"):
        S.spectral_profile(tiny_vit, "mlp")
    S.split_qkv(tiny_vit)
    with pytest.raises(S.SrLoraError, match="needs the fused"):
        S.spectral_profile(tiny_vit, "qkv")
    with pytest.raises(S.SrLoraError, match="no '\\*.attn.qkv' layers"):
        S.spectral_profile(torch.nn.Linear(3, 3), "all_linear")
    with torch.no_grad():
        tiny_vit.blocks[0].attn.proj.weight[0, 0] = float("nan")
    with pytest.raises(S.SrLoraError, match="NaN"):
        S.spectral_profile(tiny_vit, "official")
