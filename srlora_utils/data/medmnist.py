"""MedMNIST datasets from their ``.npz`` files, downloaded by the ``medmnist`` package when online."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SrLoraError
from .fewshot import FewShotTask, array_task


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
    return array_task(
        f"medmnist-{flag}", pool_imgs, pool_lbls, data["test_images"], squeeze(data["test_labels"]), classes,
        shots, seed, img_size, multilabel=multilabel, augment=augment, norm=norm,
        description=f"MedMNIST {flag} ({size} px)",
    )  # fmt: skip
