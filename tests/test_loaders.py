"""One test per dataset family, on the synthetic fixtures in each official layout (or the stand-ins, which need no
files): shapes, class counts, split sizes, determinism, the fixture label, and the one-line error for a missing or
malformed tree. Loading goes through ``load_task``, the path a user's real files take."""

import json
import shutil

import numpy as np
import pytest
import torch

import srlora_utils as S
from srlora_utils.data.eurosat import EUROSAT_CLASSES
from srlora_utils.data.fixtures import MEDMNIST_PER_CLASS
from srlora_utils.data.tasks import load_task

# family -> (task name, extra load_task arguments, classes, (train, val, test) sizes at 2 shots, multi-label)
FAMILIES = {
    "stand-ins": ("textures", {}, 6, (12, 12, 180), False),
    "vtab": ("vtab:eurosat", {}, 10, (20, 20, 30), False),
    "medfmc": ("medfmc:colon", {"exp": 1}, 2, None, False),  # the official 1/5/10-shot lists: 5-shot below
    "medmnist": ("medmnist:dermamnist", {}, 7, (14, 14, 7 * MEDMNIST_PER_CLASS["test"]), False),
    "eurosat": ("eurosat", {}, 10, (20, 20, 90), False),
    "imagefolder": ("imagefolder", {"root": "eurosat/2750"}, 10, (20, 20, 90), False),
}


def _load(name, kw, seed=0, shots=2, exp=None):
    kw = dict(kw)
    if exp is not None:
        kw["exp"] = exp
    shots = 5 if name.startswith("medfmc") else shots
    return load_task(name, shots=shots, seed=seed, img_size=24, augment="none", **kw)


def _train_images(task):
    return [x for x, _ in task.train_without_augmentation()]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_loader_family_on_its_fixture(family, fixture_data, monkeypatch):
    monkeypatch.setenv("SRLORA_DATA", str(fixture_data))
    name, kw, classes, sizes, multilabel = FAMILIES[family]
    task = _load(name, kw)
    assert task.num_classes == classes and task.multilabel is multilabel
    if sizes is None:  # MedFMC: as many images as its 5-shot split lists name
        sizes = (5 * classes, 5 * classes, 4 * classes)
    assert (len(task.train), len(task.val), len(task.test)) == sizes
    x, y = task.train[0]
    assert x.shape == (3, 24, 24) and x.dtype == torch.float32 and y.dtype == torch.long
    if family == "stand-ins":
        assert task.standin and "(stand-in)" in task.summary()
    else:  # every fixture tree says what it is, in every name a table or figure shows
        assert task.fixture and "synthetic fixture, not results" in task.summary()
    if family in ("eurosat", "vtab"):
        assert task.class_names == EUROSAT_CLASSES
    # determinism: the same seed (or MedFMC split) gives the same images; another one other training images and the
    # same test set
    again = _load(name, kw, exp=kw.get("exp"))
    assert all(torch.equal(a, b) for a, b in zip(_train_images(task), _train_images(again)))
    other = _load(name, kw, seed=1, exp=2 if "exp" in kw else None)
    assert any(not torch.equal(a, b) for a, b in zip(_train_images(task), _train_images(other)))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(task.test, other.test))


def test_medmnist_reads_every_task_type_and_size_through_the_medmnist_package_or_numpy(fixture_data, monkeypatch):
    """DermaMNIST at 28 and 64 px, ChestMNIST (multi-label) and PneumoniaMNIST (binary); the medmnist package's
    reader (when installed) and NumPy's give the same task."""
    from srlora_utils.data import medmnist as M

    monkeypatch.setenv("SRLORA_DATA", str(fixture_data))
    chest = load_task("medmnist:chestmnist", shots=2, img_size=24)
    assert chest.multilabel and chest.num_classes == 14 and chest.train[0][1].shape == (14,)
    assert chest.benchmark == "medmnist" and chest.fixture
    pneumonia = load_task("medmnist:pneumoniamnist", shots=2, img_size=24)
    assert pneumonia.num_classes == 2 and pneumonia.train[0][0].shape == (3, 24, 24)  # grey images become RGB
    big = load_task("medmnist:dermamnist", shots=2, img_size=24, size=64)
    assert "64 px" in big.description and big.test.images.shape[1:] == (64, 64, 3)
    with pytest.raises(S.SrLoraError, match="MedMNIST size 32 does not exist"):
        load_task("medmnist:dermamnist", shots=2, img_size=24, size=32)
    pytest.importorskip("medmnist")
    via_package = load_task("medmnist:dermamnist", shots=2, img_size=24)
    monkeypatch.setattr(M, "_info", lambda flag: None)  # as without the medmnist package
    via_numpy = load_task("medmnist:dermamnist", shots=2, img_size=24)
    assert np.array_equal(via_package.test.images, via_numpy.test.images)
    assert np.array_equal(via_package.train.labels, via_numpy.train.labels)
    assert via_package.class_names[0].startswith("actinic") and via_numpy.class_names[0] == "class 0"


def test_medmnist_size_reaches_a_run_the_tutorial_preset_a_grid_and_the_command_line(
    fixture_data, tmp_path, monkeypatch, capsys
):
    """``medmnist_size`` is a run setting: the tutorial preset sets it, a grid applies it to its MedMNIST tasks only,
    ``srlora train --medmnist-size`` trains on that archive (the 28 px file removed, to prove which one was read),
    and a run at 28 px keeps the key it had before the field existed."""
    import dataclasses

    from srlora_utils.cli import main
    from srlora_utils.experiments import base_config, grid_settings
    from srlora_utils.training.config import TrainConfig, config_key

    settings = grid_settings("comparison:tutorial")
    assert settings["medmnist_size"] == 64
    assert base_config(settings, "medmnist:dermamnist").medmnist_size == 64
    assert base_config(settings, "eurosat").medmnist_size == 28  # not a MedMNIST task: left at its default
    assert config_key(TrainConfig()) == config_key(dataclasses.replace(TrainConfig(), medmnist_size=28))
    assert config_key(TrainConfig()) != config_key(dataclasses.replace(TrainConfig(), medmnist_size=64))
    grid = tmp_path / "grid.toml"
    grid.write_text('task = "medmnist:dermamnist"\nshots = [1]\nmethods = ["lora"]\nmedmnist_size = 32\n')
    with pytest.raises(S.SrLoraError, match=r"grid.toml: medmnist_size = 32 is not a MedMNIST\+ size"):
        grid_settings(str(grid))

    data = tmp_path / "data"
    shutil.copytree(fixture_data / "medmnist", data / "medmnist")
    (data / "medmnist" / "dermamnist.npz").unlink()
    monkeypatch.setenv("SRLORA_DATA", str(data))
    records = tmp_path / "runs.jsonl"
    argv = ["train", "--task", "medmnist:dermamnist", "--method", "linear_probe", "--shots", "1", "--epochs", "1",
            "--img-size", "28", "--records", str(records)]  # fmt: skip
    assert main([*argv, "--medmnist-size", "64"]) == 0
    assert json.loads(records.read_text())["config"]["medmnist_size"] == 64
    assert main(argv) == 2 and "dermamnist.npz" in capsys.readouterr().err  # the 28 px archive is not there
    assert main(["train", "--task", "eurosat", "--medmnist-size", "64", "--records", str(records)]) == 2
    assert "medmnist_size=64 applies to medmnist:<flag> tasks, not 'eurosat'" in capsys.readouterr().err
    assert len(records.read_text().splitlines()) == 1


def _damage(family, data):
    """Break one thing in a copy of a family's tree; returns the load_task call's name, arguments and the message."""
    if family == "vtab":
        (data / "VTAB-1k" / "eurosat" / "test.txt").write_text("images/test_00_000.png\n")
        return r"test.txt:1: expected 'relative/path label'"
    if family == "medfmc":
        (data / "MedFMC" / "data_anns" / "MedFMC" / "colon" / "colon_5-shot_train_exp1.txt").unlink()
        return r"colon_5-shot_train_exp1.txt is missing"
    if family == "medmnist":
        (data / "medmnist" / "dermamnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
        return r"dermamnist.npz is not a readable MedMNIST archive"
    if family in ("eurosat", "imagefolder"):
        shutil.rmtree(data / "eurosat" / "2750" / "Forest")
        (data / "eurosat" / "2750" / "Forest").mkdir()  # a class folder without images
        return r"Found no valid file for the classes Forest"
    return r"fewer than the 10000 shots"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_loader_family_fails_in_one_line_on_a_missing_or_damaged_tree(family, fixture_data, tmp_path, monkeypatch):
    name, kw, *_ = FAMILIES[family]
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SRLORA_DATA", str(empty))
    if family != "stand-ins":
        with pytest.raises(S.SrLoraError) as missing:
            _load(name, kw)
        assert "\n" not in str(missing.value) and str(empty) in str(missing.value)
    data = tmp_path / "data"
    shutil.copytree(fixture_data, data)
    monkeypatch.setenv("SRLORA_DATA", str(data))
    match = _damage(family, data)
    with pytest.raises(S.SrLoraError, match=match) as damaged:
        _load(name, kw, shots=10_000) if family == "stand-ins" else _load(name, kw)
    assert "\n" not in str(damaged.value)
