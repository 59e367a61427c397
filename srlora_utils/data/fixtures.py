"""Synthetic data in the exact official layouts (MedFMC, VTAB-1k, MedMNIST, EuroSAT), so every preset's path can run.

The images are small random textures, one template per class (multi-label images blend their classes'
templates) plus noise: a model can learn them, which is all a fixture needs to show. Every tree carries
:data:`~srlora_utils.data.paths.FIXTURE_MARKER`, so tasks, records, tables and figures made from it say
"synthetic fixture, not results". Nothing here is medical or remote-sensing data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import SrLoraError
from .eurosat import EUROSAT_CLASSES
from .fashion_mnist import FASHION_ROOT
from .medfmc import MEDFMC_CLASSES, MEDFMC_EXPS, MEDFMC_MULTILABEL
from .medmnist import MEDMNIST_SPLITS, medmnist_file
from .paths import DEFAULT_ROOTS, FIXTURE_MARKER
from .vtab import VTAB_CLASS_COUNTS

MEDFMC_SHOTS = (1, 5, 10)
#: VTAB-1k tasks of the fixture and their class counts (the real ones: EuroSAT 10, Resisc45 45).
VTAB_TASKS = {t: VTAB_CLASS_COUNTS[t] for t in ("eurosat", "resisc45")}
#: MedMNIST flags of the fixture: (classes or labels, channels, multi-label, sizes). DermaMNIST is the tutorial
#: preset's task (multi-class, RGB, at 28 and 64 px); ChestMNIST (multi-label) and PneumoniaMNIST (binary, grey)
#: cover MedMNIST's other task types, with the real files' class counts and channels.
MEDMNIST_FLAGS = {
    "dermamnist": (7, 3, False, (28, 64)),
    "chestmnist": (14, 1, True, (28,)),
    "pneumoniamnist": (2, 1, False, (28,)),
}
#: Images per class in each split of a MedMNIST fixture (train + val hold enough for 10-shot train and val).
MEDMNIST_PER_CLASS = {"train": 16, "val": 4, "test": 4}
#: Bumped whenever what the writers produce changes: an older fixture tree is then replaced, not reused.
FIXTURE_VERSION = 3
_NOTE = f"Synthetic fixture written by srlora_utils.data.fixtures (version {FIXTURE_VERSION}): not data, not results.\n"


def _templates(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` RGB templates (size x size x 3, 0-255): a base colour per class (which survives any crop) under a
    random low-frequency wave per channel."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, size, size, 3))
    for i in range(n):
        for ch in range(3):
            fx, fy, phase = rng.uniform(0.5, 4, 2).tolist() + [rng.uniform(0, 2 * np.pi)]
            out[i, :, :, ch] = rng.uniform(40, 215) + 40 * np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)
    return out


def _image(templates: np.ndarray, classes: list[int], rng: np.random.Generator) -> Image.Image:
    pixels = templates[classes].mean(0) + rng.normal(0, 25, templates.shape[1:])
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _label_field(classes: list[int], n_classes: int, multilabel: bool) -> str:
    if not multilabel:
        return str(classes[0])
    return ",".join("1" if c in classes else "0" for c in range(n_classes))


def _fresh(target: Path) -> Path | None:
    """A temporary folder beside ``target`` to build in; None when ``target`` is already a fixture."""
    if target.exists():
        marker = target / FIXTURE_MARKER
        if marker.is_file() and marker.read_text() == _NOTE:
            return None
        if marker.is_file():  # an older fixture: safe to replace
            shutil.rmtree(target)
        else:
            raise SrLoraError(
                f"{target} exists and is not a synthetic fixture: refusing to touch it; pick another folder"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


def _publish(tmp: Path, target: Path) -> Path:
    (tmp / FIXTURE_MARKER).write_text(_NOTE)
    try:
        os.rename(tmp, target)  # atomic: a reader sees the whole tree or none of it
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / FIXTURE_MARKER).is_file():  # another writer did not win the race either
            raise
    return target


def write_medfmc_fixture(root: str | os.PathLike, size: int = 32, test_per_class: int = 4, seed: int = 0) -> Path:
    """A MedFMC tree under ``root`` (chest, colon, endo; 1/5/10-shot train and val lists for exp1-exp5;
    ``test_WithLabel.txt``), as :func:`~srlora_utils.data.medfmc.load_medfmc` reads it: images of ``size`` px drawn from
    ``seed``, ``test_per_class`` test images per class. Returns ``root``."""
    target = Path(root)
    tmp = _fresh(target)
    if tmp is None:
        return target
    rng = np.random.default_rng(seed)
    per_class = 2 * max(MEDFMC_SHOTS)  # disjoint K-shot train and val for the largest K
    for task, names in MEDFMC_CLASSES.items():
        n, ml = len(names), MEDFMC_MULTILABEL[task]
        images = tmp / "MedFMC_train" / task / "images"
        anns = tmp / "data_anns" / "MedFMC" / task
        images.mkdir(parents=True)
        anns.mkdir(parents=True)
        templates = _templates(n, size, rng)
        lines: dict[int, list[str]] = {c: [] for c in range(n)}  # pool lines by primary class
        test: list[str] = []
        for c in range(n):
            for j in range(per_class + test_per_class):
                classes = [c] + ([int(rng.integers(n))] if ml and rng.random() < 0.3 else [])
                classes = sorted(set(classes))
                name = f"{task}_{c:02d}_{j:03d}.png"
                _image(templates, classes, rng).save(images / name)
                line = f"{name} {_label_field(classes, n, ml)}"
                (lines[c] if j < per_class else test).append(line)
        (anns / "test_WithLabel.txt").write_text("\n".join(test) + "\n")
        for shots in MEDFMC_SHOTS:
            for exp in MEDFMC_EXPS:
                pick = np.random.default_rng([seed, shots, exp])
                train, val = [], []
                for c in range(n):
                    order = pick.permutation(per_class)
                    train += [lines[c][i] for i in order[:shots]]
                    val += [lines[c][i] for i in order[shots : 2 * shots]]
                (anns / f"{task}_{shots}-shot_train_exp{exp}.txt").write_text("\n".join(train) + "\n")
                (anns / f"{task}_{shots}-shot_val_exp{exp}.txt").write_text("\n".join(val) + "\n")
    return _publish(tmp, target)


def write_vtab_fixture(
    root: str | os.PathLike,
    tasks: dict[str, int] | None = None,
    size: int = 32,
    per_class: tuple = (4, 1, 3),
    seed: int = 0,
) -> Path:
    """A VTAB-1k tree under ``root``: ``<task>/images/`` with ``train800.txt``, ``val200.txt``,
    ``train800val200.txt`` and ``test.txt`` (``images/<name> label`` lines). ``per_class``: train, val and
    test images per class (the real files hold 800/200/test images in all). ``tasks``: task -> classes (default
    EuroSAT and Resisc45); images of ``size`` px drawn from ``seed``. Returns ``root``."""
    target = Path(root)
    tmp = _fresh(target)
    if tmp is None:
        return target
    rng = np.random.default_rng(seed + 1)
    for task, n in (tasks or VTAB_TASKS).items():
        (tmp / task / "images").mkdir(parents=True)
        templates = _templates(n, size, rng)
        parts: dict[str, list[str]] = {"train800": [], "val200": [], "test": []}
        for c in range(n):
            for part, count in zip(parts, per_class):
                for j in range(count):
                    name = f"images/{part}_{c:02d}_{j:03d}.png"
                    _image(templates, [c], rng).save(tmp / task / name)
                    parts[part].append(f"{name} {c}")
        parts["train800val200"] = parts["train800"] + parts["val200"]
        for part, lines in parts.items():
            (tmp / task / f"{part}.txt").write_text("\n".join(lines) + "\n")
    return _publish(tmp, target)


def write_medmnist_fixture(
    root: str | os.PathLike, flags: dict | None = None, per_class: dict | None = None, seed: int = 0
) -> Path:
    """MedMNIST archives under ``root`` as the ``medmnist`` package names and reads them (``<flag>.npz`` at 28 px,
    ``<flag>_<size>.npz`` otherwise; ``train/val/test_images`` uint8 (N, H, W[, 3]) and ``*_labels`` (N, L)).
    ``flags``: flag -> (classes, channels, multi-label, sizes) (default :data:`MEDMNIST_FLAGS`); ``per_class``: images
    per class and split (default :data:`MEDMNIST_PER_CLASS`); drawn from ``seed``. Returns ``root``."""
    target = Path(root)
    tmp = _fresh(target)
    if tmp is None:
        return target
    rng = np.random.default_rng(seed + 2)
    counts = per_class or MEDMNIST_PER_CLASS
    for flag, (n, channels, ml, sizes) in (flags or MEDMNIST_FLAGS).items():
        for size in sizes:
            templates = _templates(n, size, rng)
            arrays = {}
            for split in MEDMNIST_SPLITS:
                images, labels = [], []
                for c in range(n):
                    for _ in range(counts[split]):
                        classes = sorted({c} | ({int(rng.integers(n))} if ml and rng.random() < 0.3 else set()))
                        pixels = np.asarray(_image(templates, classes, rng))
                        images.append(pixels if channels == 3 else pixels.mean(2).astype(np.uint8))
                        labels.append([int(k in classes) for k in range(n)] if ml else [c])
                arrays[f"{split}_images"] = np.stack(images).astype(np.uint8)
                arrays[f"{split}_labels"] = np.array(labels, dtype=np.uint8)
            np.savez_compressed(medmnist_file(tmp, flag, size), **arrays)  # type: ignore[arg-type]
    return _publish(tmp, target)


def write_eurosat_fixture(root: str | os.PathLike, size: int = 32, per_class: int = 30, seed: int = 0) -> Path:
    """A tree as torchvision's EuroSAT download leaves it: ``root/2750/<class>/<class>_<n>.jpg`` (``root`` is the
    ``eurosat`` folder under the data folder), ``per_class`` JPEG images of ``size`` px for each of the ten
    classes, drawn from ``seed``. Returns ``root``."""
    target = Path(root)
    tmp = _fresh(target)
    if tmp is None:
        return target
    rng = np.random.default_rng(seed + 3)
    templates = _templates(len(EUROSAT_CLASSES), size, rng)
    for c, name in enumerate(EUROSAT_CLASSES):
        folder = tmp / "2750" / name
        folder.mkdir(parents=True)
        for j in range(1, per_class + 1):
            _image(templates, [c], rng).save(folder / f"{name}_{j}.jpg", quality=95)
    (tmp / "2750" / FIXTURE_MARKER).write_text(_NOTE)  # the class tree alone, read as an ImageFolder, says it too
    return _publish(tmp, target)


def write_fashion_mnist_fixture(root: str | os.PathLike, train: int = 2000, per_class: int = 60, seed: int = 0) -> Path:
    """Fashion-MNIST's four official gzipped ``idx`` files under ``root`` (the ``fashion-mnist`` folder under the data
    folder): ``train`` random 28x28 images and ``per_class`` test images per class of ten class textures, from
    ``seed``. Returns ``root``."""
    from .fashion_mnist import FASHION_FILES, write_idx

    target = Path(root)
    tmp = _fresh(target)
    if tmp is None:
        return target
    rng = np.random.default_rng(seed + 4)
    templates = _templates(10, 28, rng)
    for split, n in (("train", train), ("test", 10 * per_class)):
        labels = np.arange(n) % 10
        images = np.stack([np.asarray(_image(templates, [int(c)], rng).convert("L")) for c in labels])
        for name, array, kind in zip(FASHION_FILES[split], (images, labels), ("images", "labels"), strict=True):
            write_idx(tmp / name, array, kind)
    return _publish(tmp, target)


def write_fixtures(data_dir: str | os.PathLike, size: int = 32, seed: int = 0) -> dict[str, Path]:
    """Every fixture under ``data_dir``, in the folders the presets read (``MedFMC/``, ``VTAB-1k/``, ``medmnist/``,
    ``eurosat/``, ``fashion-mnist/``), MedFMC, VTAB-1k and EuroSAT images of ``size`` px, all drawn from ``seed``;
    point ``SRLORA_DATA`` at ``data_dir`` to run the tutorial and paper presets on them. Existing fixtures are kept."""
    data_dir = Path(data_dir)
    return {
        "medfmc": write_medfmc_fixture(data_dir / DEFAULT_ROOTS["medfmc"], size=size, seed=seed),
        "vtab": write_vtab_fixture(data_dir / DEFAULT_ROOTS["vtab"], size=size, seed=seed),
        "medmnist": write_medmnist_fixture(data_dir / DEFAULT_ROOTS["medmnist"], seed=seed),
        "eurosat": write_eurosat_fixture(data_dir / DEFAULT_ROOTS["eurosat"] / "eurosat", size=size, seed=seed),
        "fashion-mnist": write_fashion_mnist_fixture(data_dir / FASHION_ROOT, seed=seed),
    }


def use_fixture_data(data_dir: str | os.PathLike) -> Path:
    """Write the fixtures under ``data_dir`` (kept if already there) and make it this process's data folder
    (``SRLORA_DATA``): the paper presets then read them. Returns the folder."""
    from .paths import DATA_ENV

    folder = Path(data_dir).resolve()
    write_fixtures(folder)
    os.environ[DATA_ENV] = str(folder)
    return folder
