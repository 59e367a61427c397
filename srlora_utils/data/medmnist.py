"""MedMNIST datasets from their ``.npz`` files: ``<flag>.npz`` (28 px) or ``<flag>_<size>.npz`` (64, 128, 224 px),
read by the ``medmnist`` package's own dataset classes when it is installed (and downloaded by them when online),
else by NumPy. Every archive is checked before it is trusted: keys, shapes, dtypes and labels."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import SrLoraError
from .fewshot import FewShotTask, array_task
from .paths import is_fixture

#: The splits of a MedMNIST archive; each is ``<split>_images`` and ``<split>_labels``.
MEDMNIST_SPLITS = ("train", "val", "test")
#: Image sizes MedMNIST+ publishes (28 px is the file without a size suffix).
MEDMNIST_SIZES = (28, 64, 128, 224)
_SOURCE = "zenodo.org/records/10519652"
# What reading a damaged or hostile archive can raise (NumPy refuses pickled object arrays: allow_pickle=False).
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, RuntimeError, AssertionError, zipfile.BadZipFile, zlib.error)


def medmnist_file(root: Path, flag: str, size: int = 28) -> Path:
    """Where MedMNIST's ``flag`` archive at ``size`` px lives under ``root``: ``<flag>.npz`` at 28 px, else
    ``<flag>_<size>.npz`` (the names the ``medmnist`` package downloads)."""
    if size not in MEDMNIST_SIZES:
        raise SrLoraError(f"MedMNIST size {size} does not exist: use one of {', '.join(map(str, MEDMNIST_SIZES))}")
    return Path(root) / (f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz")


def _info(flag: str) -> dict | None:
    """The ``medmnist`` package's description of ``flag`` (None when the package or the flag is unknown)."""
    try:
        import medmnist
    except ImportError:
        return None
    return medmnist.INFO.get(flag)


def _download(flag: str, root: Path, size: int, info: dict | None) -> None:
    path = medmnist_file(root, flag, size)
    if info is None:
        raise SrLoraError(
            f"MedMNIST file {path} is missing and the medmnist package is not installed (or does not know {flag!r}): "
            f"`pip install medmnist` (online) or place {path.name} (from {_SOURCE}) there"
        )
    import medmnist

    try:
        root.mkdir(parents=True, exist_ok=True)
        getattr(medmnist, info["python_class"])(split="test", download=True, root=str(root), size=size)
    except Exception as err:  # noqa: BLE001 - offline, server down, checksum: the same advice
        raise SrLoraError(
            f"could not download MedMNIST {flag} ({err.__class__.__name__}): place {path.name} (from {_SOURCE}) "
            f"in {root}"
        ) from None


def _read_arrays(path: Path, flag: str, size: int, info: dict | None) -> dict[str, np.ndarray]:
    """Every split's images and labels, through the medmnist package's dataset class when it knows ``flag``."""
    try:
        if info is not None:
            import medmnist

            cls = getattr(medmnist, info["python_class"])
            data = {}
            for split in MEDMNIST_SPLITS:
                ds = cls(split=split, root=str(path.parent), size=size, download=False)
                data[f"{split}_images"], data[f"{split}_labels"] = np.asarray(ds.imgs), np.asarray(ds.labels)
            return data
        with np.load(path, allow_pickle=False) as npz:
            missing = {f"{s}_{k}" for s in MEDMNIST_SPLITS for k in ("images", "labels")} - set(npz.files)
            if missing:
                raise SrLoraError(
                    f"{path} is not a MedMNIST archive: arrays {', '.join(sorted(missing))} are missing; "
                    f"download it again from {_SOURCE}"
                )
            return {k: npz[k] for k in npz.files}
    except SrLoraError:
        raise
    except _READ_ERRORS as err:
        reason = str(err).splitlines()[0][:120] if str(err) else err.__class__.__name__
        raise SrLoraError(
            f"{path} is not a readable MedMNIST archive ({err.__class__.__name__}: {reason}): download it again "
            f"from {_SOURCE}"
        ) from None


def _check_arrays(path: Path, data: dict[str, np.ndarray], multilabel: bool | None) -> bool:
    """Shapes, dtypes and labels of every split; returns whether the labels are multi-label (several columns)."""
    widths = set()
    for split in MEDMNIST_SPLITS:
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        bad = None
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
            bad = f"{split}_images has shape {images.shape} and dtype {images.dtype}, not uint8 (N, H, W[, 3])"
        elif labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            bad = f"{split}_labels has shape {labels.shape} and dtype {labels.dtype}, not integers (N, L)"
        elif len(images) != len(labels):
            bad = f"{split} holds {len(images)} images but {len(labels)} labels"
        elif len(images) == 0:
            bad = f"{split} is empty"
        elif labels.min() < 0:
            bad = f"{split}_labels holds a negative class"
        if bad:
            raise SrLoraError(f"{path} is not a valid MedMNIST archive: {bad}; download it again from {_SOURCE}")
        widths.add(labels.shape[1])
    if len(widths) != 1:
        raise SrLoraError(f"{path}: the splits' labels have different widths {sorted(widths)}; download it again")
    ml = bool(multilabel) if multilabel is not None else widths.pop() > 1
    if ml and any(data[f"{s}_labels"].max() > 1 for s in MEDMNIST_SPLITS):
        raise SrLoraError(f"{path}: multi-label labels must be 0/1; download it again from {_SOURCE}")
    return ml


def load_medmnist(
    flag: str, root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None, size: int = 28
) -> FewShotTask:
    """MedMNIST ``flag`` from ``root/<flag>[_<size>].npz`` (downloaded by the ``medmnist`` package when online and
    missing). K-shot train and val are drawn by ``seed`` from the archive's train and val splits together; the test
    split is MedMNIST's. Other arguments (``shots``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    root = Path(root)
    path = medmnist_file(root, flag, size)
    info = _info(flag)
    if not path.is_file():
        _download(flag, root, size, info)
    data = _read_arrays(path, flag, size, info)
    ml = _check_arrays(path, data, info["task"] == "multi-label, binary-class" if info else None)
    squeeze = (lambda y: y) if ml else (lambda y: y.reshape(-1))
    width = data["train_labels"].shape[1]
    n_cls = width if ml else int(max(data[f"{s}_labels"].max() for s in MEDMNIST_SPLITS)) + 1
    if info is not None:
        if len(info["label"]) < n_cls:
            raise SrLoraError(f"{path}: labels go up to class {n_cls - 1}, but MedMNIST {flag} has "
                              f"{len(info['label'])} classes; download it again from {_SOURCE}")  # fmt: skip
        n_cls = len(info["label"])
        classes = [info["label"][str(i)] for i in range(n_cls)]
    else:
        classes = [f"class {i}" for i in range(n_cls)]
    pool_imgs = np.concatenate([data["train_images"], data["val_images"]])
    pool_lbls = squeeze(np.concatenate([data["train_labels"], data["val_labels"]]))
    fixture = is_fixture(root)
    return array_task(
        f"medmnist-{flag}", pool_imgs, pool_lbls, data["test_images"], squeeze(data["test_labels"]), classes,
        shots, seed, img_size, multilabel=ml, augment=augment, norm=norm, fixture=fixture, benchmark="medmnist",
        description=f"MedMNIST {flag} ({size} px){', synthetic fixture' if fixture else ''}",
    )  # fmt: skip
