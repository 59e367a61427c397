"""Few-shot tasks: reproducible K-shot sampling and the ``FewShotTask`` that every loader returns."""

from __future__ import annotations

import copy
from collections.abc import Sized
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from torch.utils.data import Dataset

from .errors import SrLoraError
from .normalization import Normalization

#: How every table and figure made from a synthetic fixture names it.
FIXTURE_LABEL = "synthetic fixture, not results"


@dataclass
class FewShotTask:
    """A few-shot classification task: train / val / test sets and what they are.

    ``standin`` is True when the data only stands in for the real task (offline profile), ``fixture``
    when they are a synthetic tree in an official layout (:mod:`srlora_utils.fixtures`): every table and
    figure made from them must say so, and ``display_name`` does. ``exp`` is MedFMC's official split.
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
