"""Sampling, the stand-ins, list files and data errors on tiny files made here (each loader family on its fixture:
test_loaders.py)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import srlora_utils as S
from srlora_utils.data.fewshot import sample_few_shot
from srlora_utils.data.list_files import read_list
from srlora_utils.data.tasks import load_task


def write_images(folder: Path, names: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(path)


def test_sample_few_shot_is_reproducible_and_balanced():
    labels = np.repeat(np.arange(4), 10)
    a = sample_few_shot(labels, 3, seed=7)
    assert np.array_equal(a, sample_few_shot(labels, 3, seed=7))
    assert not np.array_equal(a, sample_few_shot(labels, 3, seed=8))
    assert np.bincount(labels[a]).tolist() == [3, 3, 3, 3]
    b = sample_few_shot(labels, 3, seed=7, exclude=a)
    assert not set(a) & set(b)
    with pytest.raises(S.SrLoraError, match="fewer than the 20 shots"):
        sample_few_shot(labels, 20, seed=0)


def test_multilabel_sampling_covers_every_class():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 5)) < 0.3).astype(int)
    idx = sample_few_shot(labels, 2, seed=1, multilabel=True)
    assert (labels[idx].sum(0) >= 2).all()


@pytest.mark.parametrize("name, shots", [("digits", 2), ("lfw", 3)])  # textures: test_loaders.py
def test_standins_are_labelled_and_deterministic(name, shots):
    task = load_task(name, shots=shots, seed=0, img_size=32)
    assert task.standin and "stand-in" in task.display_name and "stand-in" in task.summary()
    assert len(task.train) == shots * task.num_classes == len(task.val)
    x, y = task.train[0]
    assert x.shape == (3, 32, 32) and y.dtype == torch.long
    again = load_task(name, shots=shots, seed=0, img_size=32)
    assert torch.equal(task.val[0][0], again.val[0][0])
    other = load_task(name, shots=shots, seed=1, img_size=32)
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(task.test, other.test))  # seed-free test set
    plain, plain_other = task.train_without_augmentation(), other.train_without_augmentation()
    assert all(torch.equal(a[0], b[0]) for a, b in zip(plain, again.train_without_augmentation()))  # same seed
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(plain, plain_other))  # another seed, another split


def test_texture_patches_keep_test_pixels_out_of_the_pool():
    from srlora_utils.data.standins import _texture_patches

    image = np.arange(100 * 80).reshape(100, 80)  # every pixel distinct: a patch's values reveal its rows
    rng = np.random.default_rng(0)
    pool = _texture_patches(image, 10, 200, (0.0, 0.6), rng)
    test = _texture_patches(image, 10, 200, (0.65, 1.0), rng)
    assert pool.shape == (200, 10, 10) and not set(pool.ravel()) & set(test.ravel())
    assert (pool // 80).max() < 60 and (test // 80).min() >= 65
    task = load_task("textures", shots=1, seed=0, img_size=24, augment="none")
    assert task.class_names[:3] == ["brick", "grass", "gravel"] and len(task.test) == 6 * 30


def make_vtab(root: Path, n_per_class: int = 6, classes: int = 3) -> Path:
    base = root / "eurosat"
    names = [f"images/{c}_{i}.png" for c in range(classes) for i in range(n_per_class)]
    write_images(base, names)
    lines = [f"{n} {n.split('/')[1].split('_')[0]}" for n in names]
    (base / "train800val200.txt").write_text("\n".join(lines) + "\n")
    (base / "test.txt").write_text("\n".join(lines[::2]) + "\n")
    return root


def test_medfmc_loader_multilabel(tmp_path):
    images = tmp_path / "MedFMC_train" / "endo" / "images"
    anns = tmp_path / "data_anns" / "MedFMC" / "endo"
    anns.mkdir(parents=True)
    write_images(images, [f"e{i}.png" for i in range(6)])
    (anns / "endo_1-shot_train_exp1.txt").write_text("e0.png 1,0,0,0\ne1.png 0,1,1,0\ne2.png 0,0,0,1\n")
    (anns / "endo_1-shot_val_exp1.txt").write_text("e3.png 1,1,0,0\ne4.png 0,0,1,1\n")
    (anns / "test_WithLabel.txt").write_text("e5.png 0,0,1,0\n")
    task = load_task("medfmc:endo", shots=1, root=tmp_path, img_size=16, exp=1)
    assert task.multilabel and task.class_names == ["ulcer", "erosion", "polyp", "tumor"]
    x, y = task.train[1]
    assert y.tolist() == [0.0, 1.0, 1.0, 0.0] and y.dtype == torch.float32


@pytest.mark.parametrize(
    "content, match",
    [
        ("a.png\n", r"list.txt:1: expected 'relative/path label'"),
        ("a.png 0\nb.png x\n", r"list.txt:2: label 'x' is not an integer"),
        ("a.png 7\n", r"list.txt:1: label 7 is out of range for 3 classes"),
        ("\n", "has no entries"),
    ],
)
def test_malformed_list_files(tmp_path, content, match):
    (tmp_path / "list.txt").write_text(content)
    with pytest.raises(S.SrLoraError, match=match):
        read_list(tmp_path / "list.txt", num_classes=3)


def test_data_errors(tmp_path):
    with pytest.raises(S.SrLoraError, match="VTAB-1k eurosat folder .* is missing"):
        load_task("vtab:eurosat", root=tmp_path, img_size=16)
    with pytest.raises(S.SrLoraError, match="VTAB-1k/eurosat is missing: place the data there .*SRLORA_DATA"):
        load_task("vtab:eurosat", img_size=16)
    with pytest.raises(S.SrLoraError, match="pass exp=1..5"):
        load_task("medfmc:chest", root=tmp_path, img_size=16)
    with pytest.raises(S.SrLoraError, match="drop exp"):
        load_task("lfw", exp=2, img_size=16)
    with pytest.raises(S.SrLoraError, match="unknown task"):
        load_task("imagenet", root=tmp_path, img_size=16)
    root = make_vtab(tmp_path)
    (root / "eurosat" / "test.txt").unlink()
    with pytest.raises(S.SrLoraError, match="test.txt is missing"):
        load_task("vtab:eurosat", shots=1, root=root, img_size=16)
    (root / "eurosat" / "test.txt").write_text("images/0_0.png 0\n")
    (root / "eurosat" / "images" / "0_0.png").write_bytes(b"not a png")
    task = load_task("vtab:eurosat", shots=1, root=root, img_size=16)
    with pytest.raises(S.SrLoraError, match="0_0.png does not decode"):
        task.test[0]
    with pytest.raises(S.SrLoraError, match="dermamnist.npz is missing|could not download MedMNIST"):
        load_task("medmnist:dermamnist", root=tmp_path / "none", img_size=16)
    with pytest.raises(S.SrLoraError, match="could not be downloaded .*unzip EuroSAT.zip"):
        load_task("eurosat", root=tmp_path / "nowhere", img_size=16)

    with pytest.raises(S.SrLoraError, match=r"load_task\('lfw'\) needs img_size"):
        load_task("lfw", shots=1)
