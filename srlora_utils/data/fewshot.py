"""Few-shot tasks: reproducible K-shot sampling and the ``FewShotTask`` that every loader returns."""

from __future__ import annotations

import copy
from collections.abc import Sized
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from torch.utils.data import Dataset

from ..errors import SrLoraError
from ..models.normalization import Normalization
from .images import ArrayImageDataset, make_transform

#: How every table and figure made from a synthetic fixture names it.
FIXTURE_LABEL = "synthetic fixture, not results"


@dataclass
class FewShotTask:
    """A few-shot classification task: train / val / test sets and what they are.

    ``standin`` is True when the data only stands in for the real task (the offline preset), ``fixture``
    when they are a synthetic tree in an official layout (:mod:`srlora_utils.data.fixtures`): every table and
    figure made from them must say so, and ``display_name`` does. ``exp`` is MedFMC's official split. ``benchmark``
    names a benchmark whose own metrics the test set also reports (``"medmnist"``: its evaluator's ACC and AUC).
    """

    name: str
    train: Dataset
    val: Dataset
    test: Dataset
    class_names: list[str]
    multilabel: bool
    shots: int
    seed: int
    standin: bool = False
    description: str = ""
    exp: int | None = None
    fixture: bool = False
    normalization: Normalization | None = None
    extra: dict = field(default_factory=dict)
    benchmark: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def display_name(self) -> str:
        """Name for tables and figures; stand-in data and synthetic fixtures are always labelled as such."""
        if self.fixture:
            return f"{self.name} ({FIXTURE_LABEL})"
        return f"{self.name} (stand-in)" if self.standin else self.name

    def train_without_augmentation(self) -> Dataset:
        """The training images through the evaluation transform (resize only): for data-driven initialisation
        and raw-pixel baselines."""
        plain = copy.copy(self.train)
        plain.transform = self.val.transform  # type: ignore[attr-defined]  # every kit dataset has one
        return plain

    def summary(self) -> str:
        """One line: name, classes, shots, seed and split sizes."""
        kind = "multi-label" if self.multilabel else "single-label"
        return (
            f"{self.display_name}: {self.num_classes} classes ({kind}), {self.shots}-shot, "
            f"{f'split exp{self.exp}' if self.exp is not None else f'seed {self.seed}'}; "
            f"train {_size(self.train)}, val {_size(self.val)}, test {_size(self.test)}"
        )


def _size(dataset: Dataset) -> int:
    return len(cast(Sized, dataset))


def sample_few_shot(
    labels: np.ndarray, shots: int, seed: int, exclude: np.ndarray | None = None, multilabel: bool = False
) -> np.ndarray:
    """Indices of ``shots`` examples per class, drawn reproducibly by ``seed`` (sorted).

    Single-label: ``labels`` is (N,) ints. Multi-label (``multilabel``): (N, C) 0/1; each class gets ``shots``
    examples that carry it (an example may count for several classes). ``exclude`` indices are never drawn.
    """
    if shots < 1:
        raise SrLoraError(f"shots={shots} must be at least 1")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    available = np.ones(len(labels), dtype=bool)
    if exclude is not None and len(exclude):
        available[np.asarray(exclude)] = False
    hot = labels.astype(bool) if multilabel else labels[:, None] == np.arange(int(labels.max()) + 1)[None, :]
    chosen: list[int] = []
    for c in range(hot.shape[1]):
        pool = np.flatnonzero(hot[:, c] & available)
        have = int(hot[chosen, c].sum()) if multilabel and chosen else 0
        need = shots - have
        if need <= 0:
            continue
        if len(pool) < need:
            raise SrLoraError(f"class {c} has {len(pool)} examples left, fewer than the {shots} shots asked for")
        pick = rng.choice(pool, size=need, replace=False)
        chosen.extend(int(i) for i in pick)
        available[pick] = False
    return np.array(sorted(set(chosen)), dtype=np.int64)


def split_pool(labels: np.ndarray, shots: int, seed: int, multilabel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint K-shot train and K-shot validation indices drawn by ``seed`` from one pool of ``labels``
    (``multilabel``: (N, C) 0/1), ``shots`` per class each."""
    train = sample_few_shot(labels, shots, seed, multilabel=multilabel)
    val = sample_few_shot(labels, shots, seed + 10_000, exclude=train, multilabel=multilabel)
    return train, val


def array_task(name, images, labels, test_images, test_labels, classes, shots, seed, img_size, **kw) -> FewShotTask:
    """Task ``name`` from in-memory images: ``shots`` per class for train and again for val, drawn by ``seed`` from
    (``images``, ``labels``); the test set is (``test_images``, ``test_labels``); ``classes`` names the classes and
    ``img_size`` is the side in px; ``kw``: ``multilabel``, ``augment``, ``norm`` and any :class:`FewShotTask` field."""
    ml = kw.pop("multilabel", False)
    augment, norm = kw.pop("augment", "official"), kw.pop("norm", None)
    train_idx, val_idx = split_pool(labels, shots, seed, ml)
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


def fixed_holdout(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Pool and test indices of ``n`` items, a ``fraction`` held out for test independently of any seed (the test
    set never changes with the experiment seed)."""
    order = np.random.default_rng(12345).permutation(n)
    n_test = int(round(n * fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
