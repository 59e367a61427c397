"""Few-shot tasks by name: offline stand-ins, VTAB-1k, MedFMC, MedMNIST, EuroSAT and any ImageFolder tree.

``load_task(name, shots, seed, root, img_size)`` returns a :class:`FewShotTask`. K-shot train and
validation sets are drawn by ``seed`` from the training pool and are disjoint (MedFMC: the official
split ``exp`` fixes them); the test set is never used for model selection. Relative roots are read
under the data folder (:mod:`srlora_utils.data_paths`).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

from .data_paths import resolve_root, where_hint
from .errors import SrLoraError
from .fewshot import FewShotTask, sample_few_shot
from .image_data import ArrayImageDataset, ImageListDataset, make_transform
from .list_files import read_list
from .normalization import Normalization

#: A file of this name at a dataset root marks a synthetic fixture (:mod:`srlora_utils.fixtures`), not real data.
FIXTURE_MARKER = "SYNTHETIC_FIXTURE.txt"

MEDFMC_CLASSES = {
    "chest": [
        "pleural_effusion", "nodule", "pneumonia", "cardiomegaly", "hilar_enlargement", "fracture_old",
        "fibrosis", "aortic_calcification", "tortuous_aorta", "thickened_pleura", "TB", "pneumothorax",
        "emphysema", "atelectasis", "calcification", "pulmonary_edema", "increased_lung_markings",
        "elevated_diaphragm", "consolidation",
    ],
    "colon": ["non_tumor", "tumor"],
    "endo": ["ulcer", "erosion", "polyp", "tumor"],
}  # fmt: skip
MEDFMC_MULTILABEL = {"chest": True, "colon": False, "endo": True}
EUROSAT_CLASSES = [
    "AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
    "Pasture", "PermanentCrop", "Residential", "River", "SeaLake",
]  # fmt: skip
#: Classes of each VTAB-1k task, by folder name.
VTAB_CLASS_COUNTS = {
    "caltech101": 102, "cifar": 100, "dtd": 47, "oxford_flowers102": 102, "oxford_iiit_pet": 37, "sun397": 397,
    "svhn": 10, "patch_camelyon": 2, "eurosat": 10, "resisc45": 45, "diabetic_retinopathy": 5,
}  # fmt: skip
STANDINS = ("digits", "lfw", "textures")
#: scikit-image images (shipped in the wheel) whose grey-level texture names a class of the ``textures`` stand-in.
TEXTURE_SOURCES = ("brick", "grass", "gravel", "cell", "immunohistochemistry", "retina")


def _split_pool(labels: np.ndarray, shots: int, seed: int, multilabel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint K-shot train and K-shot validation indices drawn from one pool."""
    train = sample_few_shot(labels, shots, seed, multilabel=multilabel)
    val = sample_few_shot(labels, shots, seed + 10_000, exclude=train, multilabel=multilabel)
    return train, val


def _array_task(name, images, labels, test_images, test_labels, classes, shots, seed, img_size, **kw) -> FewShotTask:
    ml = kw.pop("multilabel", False)
    augment, norm = kw.pop("augment", "official"), kw.pop("norm", None)
    train_idx, val_idx = _split_pool(labels, shots, seed, ml)
    plain = make_transform(img_size, False, norm=norm)
    return FewShotTask(
        name=name,
        train=ArrayImageDataset(
            images[train_idx], labels[train_idx], make_transform(img_size, True, augment=augment, norm=norm), ml
        ),
        val=ArrayImageDataset(images[val_idx], labels[val_idx], plain, ml),
        test=ArrayImageDataset(test_images, test_labels, plain, ml),
        class_names=classes, multilabel=ml, shots=shots, seed=seed, normalization=norm, **kw,
    )  # fmt: skip


def _fixed_holdout(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A seed-independent pool/test split (the test set never changes with the experiment seed)."""
    order = np.random.default_rng(12345).permutation(n)
    n_test = int(round(n * fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def load_digits_standin(shots: int, seed: int, img_size: int, augment: str = "official", norm=None) -> FewShotTask:
    """scikit-learn's 8x8 handwritten digits as a stand-in with a large gap from natural images. Arguments
    (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.repeat((d.images * (255 / 16)).round().astype(np.uint8)[..., None], 3, axis=-1)
    pool, test = _fixed_holdout(len(images), 0.5)
    return _array_task(
        "digits", images[pool], d.target[pool], images[test], d.target[test], [str(i) for i in range(10)],
        shots, seed, img_size, standin=True, augment=augment, norm=norm,
        description="scikit-learn digits (8x8 grey, 10 classes): stand-in for a large-gap task, not medical data",
    )  # fmt: skip


def load_lfw_standin(shots: int, seed: int, img_size: int, augment: str = "official", norm=None) -> FewShotTask:
    """scikit-image's LFW subset (25x25 faces vs non-faces) as a stand-in with a small gap. Arguments
    (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    from skimage.data import lfw_subset

    faces = lfw_subset()
    images = np.repeat((faces * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    labels = np.array([1] * 100 + [0] * 100)
    pool, test = _fixed_holdout(len(images), 0.5)
    return _array_task(
        "lfw", images[pool], labels[pool], images[test], labels[test], ["non-face", "face"], shots, seed, img_size,
        standin=True, augment=augment, norm=norm,
        description="scikit-image LFW subset (faces vs non-faces): stand-in for a small-gap task",
    )  # fmt: skip


def _texture_patches(image: np.ndarray, size: int, n: int, rows: tuple[float, float], rng) -> np.ndarray:
    """``n`` random ``size``-px square patches whose top-left corners lie in the ``rows`` band of ``image``."""
    h, w = image.shape
    top = rng.integers(int(rows[0] * h), int(rows[1] * h) - size, n)
    left = rng.integers(0, w - size, n)
    return np.stack([image[t : t + size, x : x + size] for t, x in zip(top, left)])


def load_textures_standin(
    shots: int, seed: int, img_size: int, augment: str = "official", norm=None, patch: int = 48, per_class: int = 30
) -> FewShotTask:
    """Grey texture patches from six scikit-image photographs (brick, grass, gravel, cell, immunohistochemistry,
    retina): a stand-in for patch classification as in histology (MedFMC ColonPath), **not medical data**.

    Patches of ``patch`` px are cut at fixed, seed-independent positions: the pool (200 per class) from the top
    60% of each image, the test set (``per_class`` per class) from the bottom 35%, so no test pixel is in the pool.
    Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`.
    """
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    rng = np.random.default_rng(2024)
    pool, test, pool_y, test_y = [], [], [], []
    for c, name in enumerate(TEXTURE_SOURCES):
        img = getattr(skimage.data, name)()
        grey = img_as_ubyte(rgb2gray(img)) if img.ndim == 3 else img
        pool.append(_texture_patches(grey, patch, 200, (0.0, 0.6), rng))
        test.append(_texture_patches(grey, patch, per_class, (0.65, 1.0), rng))
        pool_y += [c] * 200
        test_y += [c] * per_class
    to_rgb = lambda a: np.repeat(np.concatenate(a)[..., None], 3, axis=-1)
    return _array_task(
        "textures", to_rgb(pool), np.array(pool_y), to_rgb(test), np.array(test_y), list(TEXTURE_SOURCES),
        shots, seed, img_size, standin=True, augment=augment, norm=norm,
        description="grey texture patches of six scikit-image photographs: stand-in for histology-like patch "
        "classification, not medical data",
    )  # fmt: skip


def _need_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise SrLoraError(f"{what} folder {path} is missing: place the data there ({where_hint()})")
    return path


def is_fixture(*folders: Path) -> bool:
    """True when any of ``folders`` holds the synthetic-fixture marker."""
    return any((Path(f) / FIXTURE_MARKER).is_file() for f in folders)


def load_vtab(
    task: str, root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None
) -> FewShotTask:
    """A VTAB-1k task from ``root/<task>/`` with ``train800val200.txt`` and ``test.txt`` (``path label`` lines).
    Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    base = _need_dir(Path(root) / task, f"VTAB-1k {task}")
    paths, labels = read_list(base / "train800val200.txt")
    test_paths, test_labels = read_list(base / "test.txt")
    n_cls = int(max(labels.max(), test_labels.max())) + 1
    classes = EUROSAT_CLASSES if task.lower() == "eurosat" and n_cls == 10 else [f"class {i}" for i in range(n_cls)]
    plain = make_transform(img_size, False, norm=norm)
    full = ImageListDataset(base, paths, labels, make_transform(img_size, True, augment=augment, norm=norm))
    train_idx, val_idx = _split_pool(labels, shots, seed)
    return FewShotTask(
        name=f"vtab-{task}", train=full.subset(train_idx), val=full.subset(val_idx, plain),
        test=ImageListDataset(base, test_paths, test_labels, plain),
        class_names=classes, multilabel=False, shots=shots, seed=seed, fixture=is_fixture(root, base),
        normalization=norm, description=f"VTAB-1k {task}: {shots}-shot train and val drawn from train800val200 by seed",
    )  # fmt: skip


def load_medfmc(
    task: str, root: Path, shots: int, exp: int, img_size: int, augment: str = "official", norm=None
) -> FewShotTask:
    """MedFMC ``chest``/``colon``/``endo`` in the challenge layout under ``root``, official split ``exp`` (1-5).

    ``root/MedFMC_train/<task>/images/`` and ``root/data_anns/MedFMC/<task>/`` holding
    ``<task>_<N>-shot_train_exp<K>.txt``, ``<task>_<N>-shot_val_exp<K>.txt`` and ``test_WithLabel.txt``.
    Other arguments (``shots``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`.
    """
    if task not in MEDFMC_CLASSES:
        raise SrLoraError(f"unknown MedFMC task {task!r}: use chest, colon or endo")
    images = _need_dir(Path(root) / "MedFMC_train" / task / "images", f"MedFMC {task} images")
    anns = _need_dir(Path(root) / "data_anns" / "MedFMC" / task, f"MedFMC {task} split lists")
    classes, ml = MEDFMC_CLASSES[task], MEDFMC_MULTILABEL[task]

    def part(file: str, train: bool) -> ImageListDataset:
        paths, labels = read_list(anns / file, len(classes), ml)
        return ImageListDataset(images, paths, labels, make_transform(img_size, train, augment=augment, norm=norm), ml)

    return FewShotTask(
        name=f"medfmc-{task}", train=part(f"{task}_{shots}-shot_train_exp{exp}.txt", True),
        val=part(f"{task}_{shots}-shot_val_exp{exp}.txt", False), test=part("test_WithLabel.txt", False),
        class_names=classes, multilabel=ml, shots=shots, seed=exp, exp=exp, fixture=is_fixture(root),
        normalization=norm, description=f"MedFMC {task}, official {shots}-shot split exp{exp}",
    )  # fmt: skip


def load_medmnist(
    flag: str, root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None, size: int = 28
) -> FewShotTask:
    """A MedMNIST dataset from ``root/<flag>[_<size>].npz``, or downloaded by the ``medmnist`` package when online.
    Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    root = Path(root)
    candidates = [root / f"{flag}_{size}.npz", root / f"{flag}.npz"] if size != 28 else [root / f"{flag}.npz"]
    path = next((p for p in candidates if p.is_file()), None)
    info = None
    try:
        import medmnist

        info = medmnist.INFO.get(flag)
    except ImportError:
        pass
    if path is None:
        if info is None:
            raise SrLoraError(
                f"MedMNIST file {candidates[0]} is missing and the medmnist package is not installed: "
                f"`pip install medmnist` (online) or place {candidates[0].name} there"
            )
        try:
            cls = getattr(medmnist, info["python_class"])
            root.mkdir(parents=True, exist_ok=True)
            cls(split="train", download=True, root=str(root), size=size)
            path = next(p for p in candidates if p.is_file())
        except Exception as err:  # noqa: BLE001 - any download failure gets the same advice
            raise SrLoraError(
                f"could not download MedMNIST {flag} ({err.__class__.__name__}): place {candidates[0].name} "
                f"(from zenodo.org/records/10519652) in {root}"
            ) from None
    with np.load(path) as npz:
        missing = {"train_images", "train_labels", "test_images", "test_labels"} - set(npz.files)
        if missing:
            raise SrLoraError(f"{path} is not a MedMNIST file: keys {sorted(missing)} are missing")
        data = {k: npz[k] for k in npz.files}
    multilabel = info is not None and info.get("task") == "multi-label, binary-class"
    multilabel = multilabel or data["train_labels"].shape[1] > 1
    squeeze = (lambda y: y) if multilabel else (lambda y: y.reshape(-1))
    n_cls = data["train_labels"].shape[1] if multilabel else int(data["train_labels"].max()) + 1
    classes = [info["label"][str(i)] for i in range(n_cls)] if info else [f"class {i}" for i in range(n_cls)]
    pool_imgs = np.concatenate([data["train_images"], data.get("val_images", data["train_images"][:0])])
    pool_lbls = squeeze(np.concatenate([data["train_labels"], data.get("val_labels", data["train_labels"][:0])]))
    return _array_task(
        f"medmnist-{flag}", pool_imgs, pool_lbls, data["test_images"], squeeze(data["test_labels"]), classes,
        shots, seed, img_size, multilabel=multilabel, augment=augment, norm=norm,
        description=f"MedMNIST {flag} ({size} px)",
    )  # fmt: skip


def load_imagefolder(
    root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None, test_fraction: float = 0.3
) -> FewShotTask:
    """Any ``root/<class>/<image>`` tree; a fixed ``test_fraction`` is held out independently of ``seed``.
    Other arguments (``shots``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    root = _need_dir(Path(root), "ImageFolder")
    classes, to_idx = find_classes(str(root))
    samples = make_dataset(str(root), to_idx, extensions=IMG_EXTENSIONS)
    paths = [str(Path(p).relative_to(root)) for p, _ in samples]
    labels = np.array([y for _, y in samples])
    pool, test = _fixed_holdout(len(paths), test_fraction)
    full = ImageListDataset(root, paths, labels, make_transform(img_size, True, augment=augment, norm=norm))
    train_idx, val_idx = _split_pool(labels[pool], shots, seed)
    plain = make_transform(img_size, False, norm=norm)
    return FewShotTask(
        name=f"imagefolder-{root.name}", train=full.subset(pool[train_idx]), val=full.subset(pool[val_idx], plain),
        test=full.subset(test, plain), class_names=classes, multilabel=False, shots=shots, seed=seed,
        fixture=is_fixture(root), normalization=norm, description=f"ImageFolder {root}",
    )  # fmt: skip


def load_eurosat(root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None) -> FewShotTask:
    """EuroSAT RGB: a local ``root/eurosat/2750/<class>/`` tree, or torchvision's download when online.
    Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    root = Path(root)
    tree = root / "eurosat" / "2750"
    if not tree.is_dir():
        try:
            from torchvision.datasets import EuroSAT

            EuroSAT(str(root), download=True)
        except Exception as err:  # noqa: BLE001 - any download failure gets the same advice
            raise SrLoraError(
                f"EuroSAT is not in {tree} and could not be downloaded ({err.__class__.__name__}): "
                f"unzip EuroSAT.zip (RGB) so that {tree}/<class>/*.jpg exist"
            ) from None
    task = load_imagefolder(tree, shots, seed, img_size, augment, norm)
    task.name, task.description = "eurosat", "EuroSAT RGB (10 land-use classes), fixed 30% test hold-out"
    return task


def check_exp(name: str, exp: int | None) -> None:
    """MedFMC tasks need their official split ``exp`` (1, 2, ...); every other task draws splits by seed."""
    if name.partition(":")[0] == "medfmc":
        if exp is None or int(exp) < 1:
            raise SrLoraError(f"MedFMC runs name their official split: pass exp=1..5 (got {exp!r}) for {name!r}")
    elif exp is not None:
        raise SrLoraError(f"exp={exp} names a MedFMC split; task {name!r} draws its splits by seed: drop exp")


def load_task(
    name: str,
    shots: int = 5,
    seed: int = 0,
    root: str | Path | None = None,
    img_size: int = 224,
    augment: str = "official",
    exp: int | None = None,
    norm: Normalization | None = None,
    **kwargs,
) -> FewShotTask:
    """A few-shot task by name: ``digits``/``lfw``/``textures`` (stand-ins), ``vtab:<task>``,
    ``medfmc:<chest|colon|endo>`` (``exp`` names the official split, 1-5), ``medmnist:<flag>``, ``eurosat`` or
    ``imagefolder`` (``root`` is the tree).

    ``shots``: K examples per class in the training split (and again, disjoint, in the validation split).
    ``seed``: draws both splits (except on MedFMC, where ``exp`` fixes them). ``root`` None: the dataset's folder
    under the data folder; a relative root is read under the data folder. ``img_size``: side in px of the images
    the network sees. ``augment`` names the training augmentation (:data:`~srlora_utils.image_data.AUGMENTATIONS`),
    ``norm`` the mean/std (None: ImageNet's). The loaders below take the same arguments."""
    check_exp(name, exp)
    kind, _, sub = name.partition(":")
    if kind in STANDINS:
        loader = {"digits": load_digits_standin, "lfw": load_lfw_standin, "textures": load_textures_standin}[kind]
        return loader(shots, seed, img_size, augment, norm)

    def folder(kind: str | None = None) -> Path:
        path = resolve_root(root, kind)
        if path is None:
            raise SrLoraError(f"task {name!r} reads a local folder: pass root=<folder> (see data/README.md)")
        return path

    if kind == "medmnist":
        return load_medmnist(sub, folder(kind), shots, seed, img_size, augment, norm, **kwargs)
    if kind == "eurosat":
        return load_eurosat(folder(kind), shots, seed, img_size, augment, norm)
    if kind == "vtab":
        return load_vtab(sub, folder(kind), shots, seed, img_size, augment, norm)
    if kind == "medfmc":
        return load_medfmc(sub, folder(kind), shots, int(cast(int, exp)), img_size, augment, norm)
    if kind == "imagefolder":
        if root is None:
            raise SrLoraError("task 'imagefolder' reads a local tree: pass root=<folder> (see data/README.md)")
        return load_imagefolder(folder(), shots, seed, img_size, augment, norm)
    raise SrLoraError(
        f"unknown task {name!r}: use digits, lfw, textures, vtab:<task>, medfmc:<chest|colon|endo>, medmnist:<flag>, "
        "eurosat or imagefolder"
    )
