"""Any ``<root>/<class>/<image>`` tree, with a fixed, seed-independent test hold-out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SrLoraError
from .fewshot import FewShotTask, fixed_holdout, split_pool
from .images import ImageListDataset, make_transform
from .paths import is_fixture, need_dir


def load_imagefolder(
    root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None, test_fraction: float = 0.3
) -> FewShotTask:
    """Any ``root/<class>/<image>`` tree; a fixed ``test_fraction`` is held out independently of ``seed``.
    Other arguments (``shots``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    root = need_dir(Path(root), "ImageFolder")
    try:  # both raise FileNotFoundError: no class folders, or a class folder without an image
        classes, to_idx = find_classes(str(root))
        samples = make_dataset(str(root), to_idx, extensions=IMG_EXTENSIONS)
    except (FileNotFoundError, PermissionError) as err:
        detail = " ".join(str(err).split(". Supported extensions")[0].rstrip(".").split())  # one line, no extensions
        raise SrLoraError(
            f"{root} is not a <class>/<image> tree ({detail}): put each class's images "
            f"({', '.join(IMG_EXTENSIONS[:4])}, ...) in a folder named after the class"
        ) from None
    paths = [str(Path(p).relative_to(root)) for p, _ in samples]
    labels = np.array([y for _, y in samples])
    pool, test = fixed_holdout(len(paths), test_fraction)
    full = ImageListDataset(root, paths, labels, make_transform(img_size, True, augment=augment, norm=norm))
    train_idx, val_idx = split_pool(labels[pool], shots, seed)
    plain = make_transform(img_size, False, norm=norm)
    return FewShotTask(
        name=f"imagefolder-{root.name}", train=full.subset(pool[train_idx]), val=full.subset(pool[val_idx], plain),
        test=full.subset(test, plain), class_names=classes, multilabel=False, shots=shots, seed=seed,
        fixture=is_fixture(root), normalization=norm, description=f"ImageFolder {root}",
    )  # fmt: skip
