"""VTAB-1k tasks in the official layout (``<root>/<task>/train800val200.txt``, ``test.txt``)."""

from __future__ import annotations

from pathlib import Path

from .eurosat import EUROSAT_CLASSES
from .fewshot import FewShotTask, split_pool
from .images import ImageListDataset, make_transform
from .list_files import read_list
from .paths import is_fixture, need_dir

#: Classes of each VTAB-1k task, by folder name.
VTAB_CLASS_COUNTS = {
    "caltech101": 102, "cifar": 100, "dtd": 47, "oxford_flowers102": 102, "oxford_iiit_pet": 37, "sun397": 397,
    "svhn": 10, "patch_camelyon": 2, "eurosat": 10, "resisc45": 45, "diabetic_retinopathy": 5,
}  # fmt: skip


def load_vtab(
    task: str, root: Path, shots: int, seed: int, img_size: int, augment: str = "official", norm=None
) -> FewShotTask:
    """A VTAB-1k task from ``root/<task>/`` with ``train800val200.txt`` and ``test.txt`` (``path label`` lines).
    Other arguments (``shots``, ``seed``, ``img_size``, ``augment``, ``norm``) as :func:`load_task`."""
    base = need_dir(Path(root) / task, f"VTAB-1k {task}")
    paths, labels = read_list(base / "train800val200.txt", root=base)
    test_paths, test_labels = read_list(base / "test.txt", root=base)
    n_cls = int(max(labels.max(), test_labels.max())) + 1
    classes = EUROSAT_CLASSES if task.lower() == "eurosat" and n_cls == 10 else [f"class {i}" for i in range(n_cls)]
    plain = make_transform(img_size, False, norm=norm)
    full = ImageListDataset(base, paths, labels, make_transform(img_size, True, augment=augment, norm=norm))
    train_idx, val_idx = split_pool(labels, shots, seed)
    return FewShotTask(
        name=f"vtab-{task}", train=full.subset(train_idx), val=full.subset(val_idx, plain),
        test=ImageListDataset(base, test_paths, test_labels, plain),
        class_names=classes, multilabel=False, shots=shots, seed=seed, fixture=is_fixture(root, base),
        normalization=norm, description=f"VTAB-1k {task}: {shots}-shot train and val drawn from train800val200 by seed",
    )  # fmt: skip
