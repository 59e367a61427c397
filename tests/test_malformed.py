"""Malformed user files never reach a traceback (issue 19, item 5): every reader validates what it reads and ends
in one :class:`~srlora_utils.errors.SrLoraError` line naming the file, the problem and the fix.

Property tests (hypothesis) feed each reader corrupted (random bytes), truncated (a prefix of a valid file) and
lying (valid structure, wrong lengths, offsets, shapes, dtypes, types or labels) inputs. The MedMNIST tests
(``-k medmnist``) cover srlora_utils/data/medmnist.py, which its owner hardens separately.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file

from srlora_utils.cli import main
from srlora_utils.core.checkpoint import checkpoint_profile, checkpoint_tensors
from srlora_utils.data.fixtures import write_medfmc_fixture, write_vtab_fixture
from srlora_utils.data.imagefolder import load_imagefolder
from srlora_utils.data.images import ImageListDataset, make_transform
from srlora_utils.data.list_files import read_list
from srlora_utils.data.medfmc import load_medfmc
from srlora_utils.data.tasks import load_task
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.grids import grid_configs, grid_settings
from srlora_utils.experiments.sweeps import run_configs, runs_table
from srlora_utils.training.config import TrainConfig, config_key
from srlora_utils.training.records import append_record, read_records

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SRLORA = str(Path(sys.executable).with_name("srlora"))


def one_line_error(call: Callable[[], Any], *names: str) -> str:
    """The message of the SrLoraError ``call`` raises (any other exception fails the test): one non-empty line,
    naming each of ``names`` (file names)."""
    with pytest.raises(SrLoraError) as info:
        call()
    message = str(info.value)
    assert message.strip() and "\n" not in message and "\r" not in message, repr(message)
    for name in names:
        assert name in message, (name, message)
    return message


def ok_or_one_line(call: Callable[[], Any], *names: str) -> Any:
    """What ``call`` returns, or None after checking that it raised a one-line SrLoraError naming ``names``."""
    try:
        return call()
    except SrLoraError:
        one_line_error(call, *names)
        return None


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="srlora-malformed-")


# --- safetensors checkpoints -------------------------------------------------------------------------------------


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "layers.0.proj.weight": torch.randn(6, 4, generator=g),
        "layers.0.proj.bias": torch.randn(6, generator=g),
        "layers.1.proj.weight": torch.randn(4, 6, generator=g).to(torch.float16),
    }


def _valid_checkpoint() -> bytes:
    with workdir() as d:
        save_file(_tensors(), f"{d}/model.safetensors", metadata={"format": "pt"})
        return Path(f"{d}/model.safetensors").read_bytes()


VALID = _valid_checkpoint()
_SIZE = int.from_bytes(VALID[:8], "little")
HEADER: dict = json.loads(VALID[8 : 8 + _SIZE])
BODY = VALID[8 + _SIZE :]
WEIGHTS = ("layers.0.proj.weight", "layers.1.proj.weight")
FLOATS = ("F64", "F32", "F16", "BF16")
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def pack(header: Any, body: bytes = BODY, size: int | None = None) -> bytes:
    """A safetensors file: 8-byte header length (``size``, default the true one), JSON header, data."""
    raw = json.dumps(header).encode()
    return (len(raw) if size is None else size).to_bytes(8, "little") + raw + body


def profile_error(data: bytes, name: str = "model.safetensors") -> str:
    """The one-line error of profiling a checkpoint file holding ``data``; it names the file."""
    with workdir() as d:
        file = Path(d) / name
        file.write_bytes(data)
        return one_line_error(lambda: checkpoint_profile(file, estimator="exact", progress=False), name)


def test_the_valid_checkpoint_reads():
    with workdir() as d:
        (Path(d) / "m.safetensors").write_bytes(pack(HEADER))  # re-packed without padding: still valid
        profile = checkpoint_profile(Path(d) / "m.safetensors", estimator="exact", progress=False)
    assert list(profile["module"]) == ["layers.0.proj", "layers.1.proj"]


@FAST
@given(st.binary(max_size=600))
def test_random_bytes_are_a_one_line_error(data):
    profile_error(data)


@FAST
@given(st.integers(0, len(VALID) - 1))
def test_every_truncated_checkpoint_is_a_one_line_error(cut):
    profile_error(VALID[:cut])


def _wrong_shape(entry: dict) -> st.SearchStrategy:
    nbytes = entry["data_offsets"][1] - entry["data_offsets"][0]
    item = ITEMSIZE[entry["dtype"]]
    return st.one_of(
        st.lists(st.integers(0, 60), max_size=3).filter(lambda s: math.prod(s) * item != nbytes),
        st.lists(st.integers(-9, -1), min_size=1, max_size=2),
        st.lists(st.integers(2**40, 2**70), min_size=1, max_size=2),
        st.lists(st.floats(allow_nan=False), min_size=1, max_size=2),
        st.text(max_size=5),
        st.none(),
    )


def _wrong_offsets(entry: dict) -> st.SearchStrategy:
    nbytes = entry["data_offsets"][1] - entry["data_offsets"][0]
    pairs = st.lists(st.integers(-50, len(BODY) + 50), min_size=2, max_size=2)
    return st.one_of(
        pairs.filter(lambda o: o[1] - o[0] != nbytes or o[1] > len(BODY) or o[0] < 0),
        st.lists(st.integers(0, len(BODY)), max_size=4).filter(lambda o: len(o) != 2),
        st.lists(st.floats(0, len(BODY)), min_size=2, max_size=2),
        st.text(max_size=5),
        st.none(),
    )


def _wrong_dtype(entry: dict) -> st.SearchStrategy:
    nbytes = entry["data_offsets"][1] - entry["data_offsets"][0]
    other = sorted(d for d, i in ITEMSIZE.items() if i * math.prod(entry["shape"]) != nbytes)
    same_size_not_float = sorted(d for d in ITEMSIZE if ITEMSIZE[d] == ITEMSIZE[entry["dtype"]] and d not in FLOATS)
    return st.one_of(
        st.sampled_from(other + same_size_not_float),
        st.text(alphabet="QXZ", min_size=1, max_size=4),  # unknown codes: not a floating-point weight
        st.integers(),
        st.none(),
    )


@st.composite
def lying_checkpoints(draw) -> bytes:
    """A checkpoint whose header lies about one thing (and so must be refused)."""
    header = copy.deepcopy(HEADER)
    name = draw(st.sampled_from(WEIGHTS))
    entry = header[name]
    lie = draw(st.sampled_from(["shape", "offsets", "dtype", "entry", "missing", "header", "metadata", "length",
                                "bias", "body"]))  # fmt: skip
    if lie == "shape":
        entry["shape"] = draw(_wrong_shape(entry))
    elif lie == "offsets":
        entry["data_offsets"] = draw(_wrong_offsets(entry))
    elif lie == "dtype":
        entry["dtype"] = draw(_wrong_dtype(entry))
    elif lie == "entry":
        header[name] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers())))
    elif lie == "missing":
        del entry[draw(st.sampled_from(["dtype", "shape", "data_offsets"]))]
    elif lie == "header":
        header = draw(st.one_of(st.lists(st.integers(), max_size=3), st.text(max_size=5), st.integers(), st.none()))
    elif lie == "metadata":
        header["__metadata__"] = draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text()))
    elif lie == "length":
        true = len(json.dumps(header).encode())
        return pack(header, size=draw(st.integers(0, 2**64 - 1).filter(lambda n: n != true)))
    elif lie == "bias":  # the tensor no target reads lies too: the header is checked whole
        header["layers.0.proj.bias"]["data_offsets"] = draw(_wrong_offsets(header["layers.0.proj.bias"]))
    else:  # the data end early
        return pack(header, BODY[: draw(st.integers(0, len(BODY) - 1))])
    return pack(header)


@FAST
@given(lying_checkpoints())
def test_a_lying_header_is_a_one_line_error(data):
    profile_error(data)


@FAST
@given(
    st.lists(st.floats(width=32), min_size=24, max_size=24),
    st.sampled_from(["exact", "fast"]),
)
def test_nan_inf_and_degenerate_weights_name_the_tensor_and_file(values, estimator):
    tensors = _tensors()
    tensors["layers.0.proj.weight"] = torch.tensor(values, dtype=torch.float32).reshape(6, 4)
    with workdir() as d:
        file = Path(d) / "weights.safetensors"
        save_file(tensors, file)
        call = lambda: checkpoint_profile(file, estimator=estimator, progress=False)  # noqa: E731
        if not all(math.isfinite(v) for v in values):
            message = one_line_error(call, "layers.0.proj.weight", "weights.safetensors")
            assert "NaN or inf" in message
        else:
            ok_or_one_line(call, "layers.0.proj.weight", "weights.safetensors")


@st.composite
def lying_indexes(draw) -> tuple[bytes, str]:
    """A sharded checkpoint's index that is corrupt, cut short or lying; and which file the error must name."""
    index = {"metadata": {"total_size": len(BODY)}, "weight_map": dict.fromkeys(HEADER.keys() - {"__metadata__"},
                                                                                "model-1.safetensors")}  # fmt: skip
    text = json.dumps(index).encode()
    kind = draw(st.sampled_from(["random", "cut", "map", "value", "missing shard", "wrong shard", "top"]))
    if kind == "random":
        return draw(st.binary(max_size=200)), "model.safetensors.index.json"
    if kind == "cut":
        return text[: draw(st.integers(0, len(text) - 1))], "model.safetensors.index.json"
    if kind == "map":
        index["weight_map"] = draw(st.one_of(st.none(), st.integers(), st.lists(st.text()), st.just({})))
    elif kind == "value":
        bad = draw(st.one_of(st.none(), st.integers(), st.just(""), st.just("/etc/passwd"), st.just("../x")))
        index["weight_map"]["layers.0.proj.weight"] = bad
    elif kind == "missing shard":
        index["weight_map"]["layers.0.proj.weight"] = draw(st.text("abc", min_size=1)) + ".safetensors"
    elif kind == "wrong shard":  # a shard that exists but does not hold the tensor
        index["weight_map"]["layers.0.proj.weight"] = "other.safetensors"
        return json.dumps(index).encode(), "other.safetensors"
    else:
        index = draw(st.one_of(st.lists(st.integers(), max_size=2), st.integers(), st.text(max_size=4)))
    return json.dumps(index).encode(), "model.safetensors.index.json"


@FAST
@given(lying_indexes())
def test_a_malformed_sharded_index_is_a_one_line_error(case):
    data, named = case
    with workdir() as d:
        folder = Path(d)
        (folder / "model-1.safetensors").write_bytes(VALID)
        save_file({"other.weight": torch.ones(2, 2)}, folder / "other.safetensors")
        (folder / "model.safetensors.index.json").write_bytes(data)
        one_line_error(lambda: checkpoint_profile(folder, estimator="exact", progress=False), named)


def test_a_valid_sharded_index_reads():
    with workdir() as d:
        folder = Path(d)
        (folder / "model-1.safetensors").write_bytes(VALID)
        weight_map = dict.fromkeys(HEADER.keys() - {"__metadata__"}, "model-1.safetensors")
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
        assert set(checkpoint_tensors(folder)) == set(weight_map)


def _malformed(kind: str) -> bytes:
    return np.random.default_rng(0).bytes(4096) if kind == "random" else VALID[: len(VALID) // 2]


@pytest.mark.parametrize("kind", ["random", "truncated"])
def test_the_cli_ends_a_malformed_checkpoint_in_one_line_and_writes_nothing(tmp_path, capsys, kind):
    file = tmp_path / f"{kind}.safetensors"
    file.write_bytes(_malformed(kind))
    out, config = tmp_path / "ranks.json", tmp_path / "lora"
    assert main(["allocate", "--checkpoint", str(file), "--json", str(out), "--lora-config", str(config)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and file.name in lines[0] and lines[0].startswith("srlora: error:") and not captured.out
    assert sorted(p.name for p in tmp_path.iterdir()) == [file.name]  # no output, not even half of one


@pytest.mark.slow  # a fresh interpreter imports torch and peft: several seconds
def test_the_srlora_command_ends_a_malformed_checkpoint_in_one_line(tmp_path):
    file = tmp_path / "random.safetensors"
    file.write_bytes(_malformed("random"))
    out = tmp_path / "ranks.json"
    done = subprocess.run([SRLORA, "allocate", "--checkpoint", str(file), "--json", str(out)], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1 and file.name in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not done.stdout and not out.exists()


# --- MedFMC splits -----------------------------------------------------------------------------------------------


@FAST
@given(st.one_of(st.integers().filter(lambda e: e not in range(1, 6)), st.none()))
def test_a_medfmc_exp_outside_1_to_5_is_named_before_any_file(exp):
    with workdir() as d:
        message = one_line_error(lambda: load_task("medfmc:chest", shots=1, root=d, img_size=16, exp=exp))
        assert "1-5" in message and "missing" not in message
        if exp is not None:
            message = one_line_error(lambda: load_medfmc("colon", Path(d), 1, exp, 16))
            assert "exp must be one of 1-5" in message and "missing" not in message


def test_the_cli_refuses_exp_9_before_reading_data(capsys):
    assert main(["train", "--task", "medfmc:chest", "--exp", "9", "--root", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "exp must be one of 1-5, got 9" in err


def test_a_shot_count_without_split_lists_names_the_shots_there(tmp_path):
    (tmp_path / "MedFMC_train" / "colon" / "images").mkdir(parents=True)
    anns = tmp_path / "data_anns" / "MedFMC" / "colon"
    anns.mkdir(parents=True)
    for k in (1, 5, 10):
        (anns / f"colon_{k}-shot_train_exp2.txt").write_text("a.png 0\n")
    message = one_line_error(lambda: load_task("medfmc:colon", shots=3, root=tmp_path, img_size=16, exp=2))
    assert "no 3-shot split exp2" in message and "shots with a split there: 1, 5, 10" in message


# --- split list files --------------------------------------------------------------------------------------------

LIST = b"images/a.png 0\nimages/b.png 2\n\nimages/c d.png 1\nimages/e.png 2\n"


def _read_list_bytes(data: bytes, num_classes: int | None = 3, multilabel: bool = False) -> Any:
    with workdir() as d:
        file = Path(d) / "train800val200.txt"
        file.write_bytes(data)
        return ok_or_one_line(lambda: read_list(file, num_classes, multilabel), "train800val200.txt")


@FAST
@given(st.binary(max_size=300), st.sampled_from([None, 3]), st.booleans())
def test_a_list_of_random_bytes_reads_or_is_a_one_line_error(data, num_classes, multilabel):
    if multilabel and num_classes is None:
        num_classes = 3
    result = _read_list_bytes(data, num_classes, multilabel)
    try:
        binary = "\0" in data.decode("utf-8")
    except UnicodeDecodeError:
        binary = True
    assert not (binary and result is not None), "binary content read as a list"


def test_binary_list_content_names_the_line(tmp_path):
    file = tmp_path / "test.txt"
    file.write_bytes(b"images/a.png 0\nimages/b.png 1\n\xff\xfe garbage\n")
    assert "test.txt:3: byte 0xff is not UTF-8 text" in one_line_error(lambda: read_list(file))
    file.write_bytes(b"images/a.png 0\n\x00\x00\x00\n")
    assert "test.txt:2: a NUL byte" in one_line_error(lambda: read_list(file))


@FAST
@given(st.integers(0, len(LIST)))
def test_a_truncated_list_reads_or_is_a_one_line_error(cut):
    _read_list_bytes(LIST[:cut])


@FAST
@given(st.sampled_from([0, 1, 3, 4]), st.one_of(st.integers(-(10**6), 10**6).map(str), st.text(max_size=6)))
def test_a_lying_label_names_file_and_line(row, label):
    rows = LIST.decode().split("\n")  # row 2 is the blank line
    rows[row] = f"images/x.png {label.replace(chr(10), ' ')}"
    with workdir() as d:
        file = Path(d) / "val.txt"
        file.write_text("\n".join(rows))
        ok_or_one_line(lambda: read_list(file, 3), f"val.txt:{row + 1}:")
        if label.lstrip("-").isascii() and label.lstrip("-").isdigit() and not 0 <= int(label) < 3:
            one_line_error(lambda: read_list(file, 3), f"val.txt:{row + 1}:", "out of range")


#: Each list file a loader reads image paths from, as (task, fixture writer, file under the fixture, loader kwargs).
LIST_READERS = [
    ("vtab:eurosat", write_vtab_fixture, "eurosat/train800val200.txt", {}),
    ("vtab:eurosat", write_vtab_fixture, "eurosat/test.txt", {}),
    ("medfmc:colon", write_medfmc_fixture, "data_anns/MedFMC/colon/colon_1-shot_train_exp1.txt", {"exp": 1}),
    ("medfmc:colon", write_medfmc_fixture, "data_anns/MedFMC/colon/colon_1-shot_val_exp1.txt", {"exp": 1}),
    ("medfmc:colon", write_medfmc_fixture, "data_anns/MedFMC/colon/test_WithLabel.txt", {"exp": 1}),
]


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "link"])
@pytest.mark.parametrize(("task", "write", "file", "kwargs"), LIST_READERS)
def test_a_list_line_that_leads_out_of_the_data_folder_is_one_line_naming_file_and_line(
    tmp_path, task, write, file, kwargs, escape
):
    root = write(tmp_path / "data", size=8)
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    listing = root / file
    first, *rest = listing.read_text().splitlines()
    name, label = first.rsplit(maxsplit=1)
    vtab = task.startswith("vtab")
    prefix, folder = ("images/", root / "eurosat/images") if vtab else ("", root / "MedFMC_train/colon/images")
    if escape == "link":
        (folder / "escape.png").symlink_to(outside)
        bad = f"{prefix}escape.png"
    else:
        bad = str(outside) if escape == "absolute" else f"{prefix}../../secret.png"
    listing.write_text("\n".join([*rest[:1], f"{bad} {label}", *rest[1:]]) + "\n")
    message = one_line_error(lambda: load_task(task, shots=1, root=root, img_size=8, **kwargs), f"{file}:2:")
    assert {"dotdot": "'..'", "absolute": "is absolute", "link": "a link out of"}[escape] in message


# --- records -----------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
records = st.lists(st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=4), min_size=1, max_size=3)


def _read(data: bytes) -> Any:
    with workdir() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        file = Path(d) / "runs.jsonl"
        file.write_bytes(data)
        return ok_or_one_line(lambda: read_records(file), "runs.jsonl:")


@FAST
@given(st.binary(max_size=300))
def test_a_records_file_of_random_bytes_reads_or_names_file_and_line(data):
    _read(data)


@FAST
@given(records, st.booleans(), st.data())
def test_a_records_file_cut_anywhere_loses_only_its_last_partial_record(recs, ascii_only, data):
    """A crash may cut the last line (inside a string, a number, a word, a multi-byte character): the reader skips
    it with a warning and returns the complete records, never an error."""
    lines = [json.dumps(r, ensure_ascii=ascii_only).encode() for r in recs]
    text = b"".join(line + b"\n" for line in lines)
    cut = data.draw(st.integers(0, len(text)))
    ends = np.cumsum([len(line) + 1 for line in lines]) - 1  # where each record's JSON ends
    with workdir() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        file = Path(d) / "runs.jsonl"
        file.write_bytes(text[:cut])
        got = read_records(file)
    want = [r for r, end in zip(recs, ends) if end <= cut]
    assert json.dumps(got) == json.dumps(want)


@FAST
@given(st.lists(json_values.filter(lambda v: not isinstance(v, dict)), min_size=1, max_size=2), st.integers(1, 3))
def test_a_record_that_is_not_an_object_names_file_and_line(values, before):
    lines = [json.dumps({"key": str(i)}) for i in range(before)] + [json.dumps(v) for v in values]
    with workdir() as d:
        file = Path(d) / "runs.jsonl"
        file.write_text("\n".join(lines) + "\n")
        one_line_error(lambda: read_records(file), f"runs.jsonl:{before + 1}:")


def _run_record(cfg: TrainConfig) -> dict:
    return {"key": config_key(cfg), "task": cfg.task, "config": {"method": cfg.method, "shots": cfg.shots,
            "seed": cfg.seed, "exp": None}, "test": {"accuracy": 50.0}, "trainable_params": 10,
            "step_s_median": 0.1, "total_s": 1.0}  # fmt: skip


@FAST
@given(
    st.sampled_from(["task", "config", "test", "trainable_params", "step_s_median", "total_s", "config.method",
                     "config.shots", "test.accuracy"]),
    st.one_of(st.none(), st.text(max_size=4), st.lists(st.integers(), max_size=2), st.booleans()),
)  # fmt: skip
def test_a_record_with_a_wrong_field_is_a_one_line_error_and_trains_nothing(field, value):
    cfg = TrainConfig(task="digits", epochs=1)
    record = _run_record(cfg)
    parent, _, name = field.rpartition(".")
    holder = record[parent] if parent else record
    if isinstance(value, str) and field in ("task", "config.method"):
        value = None  # text fits these: not a lie
    holder[name] = value
    one_line_error(lambda: runs_table([record]), name)
    with workdir() as d:
        file = Path(d) / "runs.jsonl"
        append_record(file, record)
        before = file.read_bytes()
        one_line_error(lambda: run_configs([cfg], records=str(file), progress=False), "runs.jsonl", name)
        assert file.read_bytes() == before


def test_a_records_directory_file_of_random_bytes_is_a_one_line_error(tmp_path):
    store = tmp_path / "recs"
    append_record(store, {"key": "a"})
    (store / "b.json").write_bytes(b"\xff\x00\x81garbage")
    one_line_error(lambda: read_records(store), "b.json: not a JSON record")
    (store / "b.json").write_text("[1, 2]")
    one_line_error(lambda: read_records(store), "b.json: a record must be a JSON object")


# --- grid files --------------------------------------------------------------------------------------------------

GRID = """base = "comparison:offline"
methods = ["lora", "srlora"]
seeds = [0, 1]
epochs = 2
stop_at_perfect_val = true
tasks = {"digits" = [1, 2]}
"""


def _toml(value: Any) -> str:
    """``value`` as a TOML value (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _grid(text: str | bytes) -> Any:
    with workdir() as d:
        file = Path(d) / "grid.toml"
        file.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ok_or_one_line(lambda: grid_configs(grid_settings(str(file))), "grid.toml")


def test_the_valid_grid_reads():
    assert len(_grid(GRID)) == 8


@FAST
@given(st.binary(max_size=200))
def test_a_grid_of_random_bytes_is_a_one_line_error(data):
    _grid(data)


@FAST
@given(st.integers(0, len(GRID)))
def test_a_truncated_grid_reads_or_is_a_one_line_error(cut):
    _grid(GRID[:cut])


toml_scalars = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4),
                         st.booleans())  # fmt: skip
WRONG = {
    "methods": st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), min_size=1, max_size=2)),
    "seeds": st.one_of(st.integers(), st.text(max_size=3), st.lists(st.text(max_size=2), min_size=1, max_size=2),
                       st.lists(st.integers(max_value=-1), min_size=1, max_size=2), st.just([])),
    "exps": st.one_of(st.integers(), st.lists(st.integers().filter(lambda e: e not in range(1, 6)), min_size=1,
                                              max_size=2)),
    "epochs": st.one_of(st.text(max_size=3), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                        st.lists(st.integers(), max_size=2)),
    "lr": st.one_of(st.text(max_size=3), st.booleans(), st.lists(st.integers(), max_size=2)),
    "tasks": st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(min_size=1, max_size=3), st.text(max_size=2), min_size=1, max_size=2),
                       st.dictionaries(st.text(min_size=1, max_size=3), st.integers(max_value=0), min_size=1,
                                       max_size=2)),
    "stop_at_perfect_val": st.one_of(st.integers(), st.text(max_size=3)),
    "base": st.one_of(st.integers(), st.text(max_size=6).filter(lambda b: ":" not in b), st.just("grid.toml")),
    "primary": st.one_of(st.integers(), st.text(max_size=3), st.just({"half_width": "wide"})),
    "blocks": st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), min_size=1, max_size=2)),
    "weight_decay": st.one_of(st.text(max_size=3), st.just({"vtab": 0.1})),
}  # fmt: skip


@FAST
@given(st.data())
def test_a_grid_value_of_the_wrong_type_is_a_one_line_error(data):
    key = data.draw(st.sampled_from(sorted(WRONG)))
    value = data.draw(WRONG[key])
    lines = [line for line in GRID.splitlines() if not line.startswith(f"{key} =")]
    text = "\n".join([f"{key} = {_toml(value)}", *lines]) + "\n"
    with workdir() as d:
        file = Path(d) / "grid.toml"
        file.write_text(text)
        one_line_error(lambda: grid_configs(grid_settings(str(file))), "grid.toml")


def test_a_grid_that_is_not_utf8_names_the_line(tmp_path):
    file = tmp_path / "g.toml"
    file.write_bytes(GRID.encode() + b'x = "\xff"\n')
    message = one_line_error(lambda: grid_settings(str(file)))
    assert f"g.toml:{GRID.count(chr(10)) + 1}: byte 0xff is not UTF-8" in message


# --- images ------------------------------------------------------------------------------------------------------


def _png() -> bytes:
    with workdir() as d:
        Image.fromarray(np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)).save(f"{d}/a.png")
        return Path(f"{d}/a.png").read_bytes()


PNG = _png()


@FAST
@given(st.one_of(st.binary(max_size=200), st.integers(0, len(PNG) - 1).map(lambda n: PNG[:n])))
def test_a_corrupt_or_truncated_image_is_a_one_line_error(data):
    with workdir() as d:
        (Path(d) / "x.png").write_bytes(data)
        dataset = ImageListDataset(Path(d), ["x.png"], np.array([0]), make_transform(8, False))
        ok_or_one_line(lambda: dataset[0], "x.png")


def test_an_imagefolder_without_classes_or_images_is_a_one_line_error(tmp_path):
    one_line_error(lambda: load_imagefolder(tmp_path, 1, 0, 16), "class folder")
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("no images")
    one_line_error(lambda: load_imagefolder(tmp_path, 1, 0, 16), "no valid file for the classes cats")


# --- MedMNIST archives (srlora_utils/data/medmnist.py: `-k medmnist`) -------------------------------------------


def _medmnist_arrays(n: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (np.arange(n) % 2).reshape(-1, 1)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    return {"train_images": images, "train_labels": labels, "val_images": images[:4], "val_labels": labels[:4],
            "test_images": images[:6], "test_labels": labels[:6]}  # fmt: skip


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    with workdir() as d:
        np.savez(f"{d}/a.npz", **arrays)  # type: ignore[arg-type]
        return Path(f"{d}/a.npz").read_bytes()


NPZ = _npz(_medmnist_arrays())


#: A flag the medmnist package knows (read through its dataset class when installed) and one it does not (NumPy).
FLAGS = ["dermamnist", "toymnist"]


def _load_medmnist(data: bytes, flag: str) -> Any:
    from srlora_utils.data.medmnist import load_medmnist

    with workdir() as d:
        (Path(d) / f"{flag}.npz").write_bytes(data)
        return load_medmnist(flag, Path(d), shots=1, seed=0, img_size=28)


@pytest.mark.parametrize("flag", FLAGS)
def test_medmnist_valid_archive_loads(flag):
    task = _load_medmnist(NPZ, flag)
    assert len(task.train) == len(task.val) == 2 and len(task.test) == 6


@pytest.mark.parametrize("flag", FLAGS)
@FEW
@given(data=st.binary(max_size=300))
def test_medmnist_random_bytes_are_a_one_line_error(flag, data):
    one_line_error(lambda: _load_medmnist(data, flag), f"{flag}.npz")


@pytest.mark.parametrize("flag", FLAGS)
@FEW
@given(cut=st.integers(0, len(NPZ) - 1))
def test_medmnist_truncated_archive_is_a_one_line_error(flag, cut):
    one_line_error(lambda: _load_medmnist(NPZ[:cut], flag), f"{flag}.npz")


@pytest.mark.parametrize("flag", FLAGS)
def test_medmnist_archive_missing_keys_is_a_one_line_error(flag):
    arrays = _medmnist_arrays()
    del arrays["test_labels"]
    one_line_error(lambda: _load_medmnist(_npz(arrays), flag), f"{flag}.npz")


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("key", ["train_labels", "test_labels", "val_images"])
def test_medmnist_images_and_labels_of_different_lengths_are_a_one_line_error(flag, key):
    arrays = _medmnist_arrays()
    arrays[key] = arrays[key][:-1]
    one_line_error(lambda: _load_medmnist(_npz(arrays), flag), f"{flag}.npz")


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("key", ["train_labels", "train_images"])
def test_medmnist_object_arrays_are_refused_without_unpickling(flag, key):
    arrays = _medmnist_arrays()
    arrays[key] = np.array([{"pickled": i} for i in range(12)], dtype=object)
    one_line_error(lambda: _load_medmnist(_npz(arrays), flag), f"{flag}.npz")
