"""A task's domain gap, measured without training any of the methods compared (issue 27's definition, fixed before
the gap ladder's runs).

**Definition.** On the task's labelled pool (every pool image, not a few shots), the accuracy of a 5-nearest-neighbour
classifier (cosine distance, stratified 5-fold cross-validation, folds fixed by seed 0) is measured twice: on the raw
pixels of the task's images (as the loader holds them, before resizing), and on the frozen backbone's pooled features
(the offline DINOv2 ViT-S/14 at the runs' input size, the evaluation transform and normalisation the runs use). The
**gap** is raw-pixel accuracy minus frozen-feature accuracy, in points: how much class information that the pixels
carry the pretrained features fail to lay out for a neighbour to find. Negative: the features serve the task better
than the pixels. A fixed permutation of pixel positions leaves the raw-pixel accuracy exactly as it was, so on the
ladder's ``permuted`` rung the gap moves by what the features lose alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from ..data.gap_ladder import ladder_arrays, parse_ladder
from ..data.images import ArrayImageDataset, make_transform
from ..errors import SrLoraError
from ..models.backbones import load_backbone
from ..models.normalization import resolve_normalization

#: The definition's constants: neighbours, folds, the folds' seed, and the input side (px) the runs use.
GAP_NEIGHBOURS, GAP_FOLDS, GAP_FOLD_SEED, GAP_IMG_SIZE = 5, 5, 0, 56
#: Version of the definition, written into every gap record (a changed definition is a new version).
GAP_DEFINITION = "raw-pixel minus frozen-feature 5-NN accuracy (cosine, stratified 5-fold CV, seed 0), points; v1"


def knn_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    """Cross-validated 5-NN accuracy (%) of ``features`` (N, D) for ``labels`` (N,): cosine distance, stratified
    5-fold, folds fixed by seed 0 (scikit-learn)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if not np.isfinite(x).all():
        raise SrLoraError("features hold NaN or infinite values: check the backbone's weights and the images")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    folds = StratifiedKFold(GAP_FOLDS, shuffle=True, random_state=GAP_FOLD_SEED)
    scores = cross_val_score(KNeighborsClassifier(GAP_NEIGHBOURS), x, labels, cv=folds)
    return float(100 * scores.mean())


@torch.no_grad()
def frozen_features(images: np.ndarray, backbone=None, img_size: int = GAP_IMG_SIZE, batch: int = 64) -> np.ndarray:
    """The frozen ``backbone``'s pooled features (N, D) of uint8 ``images`` at ``img_size`` px, through the runs'
    evaluation transform and the backbone's normalisation (None: the offline ViT), ``batch`` images at a time."""
    model = load_backbone(backbone, num_classes=0, img_size=img_size).eval()
    norm = resolve_normalization("backbone", backbone)
    data = ArrayImageDataset(images, np.zeros(len(images)), make_transform(img_size, False, norm=norm))
    out = []
    for start in range(0, len(data), batch):
        x = torch.stack([data[i][0] for i in range(start, min(start + batch, len(data)))])
        out.append(model(x).float().numpy())
    return np.concatenate(out)


def _ladder_task(task: str) -> tuple[str, str]:
    """(source, rung) of gap-ladder task ``task``; a one-line error for any other task."""
    kind, _, sub = task.partition(":")
    if kind != "ladder":
        raise SrLoraError(f"measure_gap reads gap-ladder tasks (ladder:<source>:<rung>), not {task!r}")
    return parse_ladder(sub)


def gap_of_images(images: np.ndarray, labels: np.ndarray, backbone=None, img_size: int = GAP_IMG_SIZE) -> dict:
    """The gap's two accuracies and their difference (points) for any uint8 ``images`` with ``labels``: the
    definition of :func:`measure_gap` applied to images that are not a ladder rung (``backbone``, ``img_size`` as
    there)."""
    raw = knn_accuracy(images.astype(np.float64) / 255, labels)
    feat = knn_accuracy(frozen_features(images, backbone, img_size), labels)
    return {"raw_knn": raw, "feature_knn": feat, "gap": raw - feat}


def measure_gap(task: str, backbone=None, img_size: int = GAP_IMG_SIZE) -> dict:
    """Gap ladder task ``task``'s gap (see the module's docstring) for ``backbone`` at ``img_size`` px: a dict with
    ``raw_knn``, ``feature_knn``, ``gap`` (points), ``pool`` (images) and the definition."""
    images, labels, _, _ = ladder_arrays(*_ladder_task(task))
    g = gap_of_images(images, labels, backbone, img_size)
    raw, feat = g["raw_knn"], g["feature_knn"]
    return {"task": task, "raw_knn": round(raw, 4), "feature_knn": round(feat, 4), "gap": round(raw - feat, 4),
            "pool": int(len(labels)), "backbone": str(backbone or "dinov2_vits14_imgfocus"), "img_size": img_size,
            "definition": GAP_DEFINITION}  # fmt: skip


def measure_gaps(tasks: Iterable[str], path: str | Path | None = None, backbone=None, progress: bool = True) -> list:
    """:func:`measure_gap` for each of ``tasks`` (tqdm bar when ``progress``), written atomically as JSON to ``path``
    when given (a list of records, :func:`read_gaps` reads it). ``backbone`` as :func:`measure_gap`."""
    from tqdm.auto import tqdm

    from ..training.records import write_json_atomic

    tasks = list(tasks)
    for task in tasks:  # every name checked before the first measurement
        _ladder_task(task)
    out = [measure_gap(t, backbone) for t in tqdm(tasks, desc="gaps", disable=not progress)]
    if path is not None:
        write_json_atomic(path, out)
    return out


def read_gaps(path: str | Path) -> dict[str, dict]:
    """The gap records at ``path`` (written by :func:`measure_gaps`) by task; a missing or malformed file is one
    line naming the command that writes it."""
    try:
        items = json.loads(Path(path).read_text())
        return {r["task"]: r for r in items if r["definition"] == GAP_DEFINITION}
    except FileNotFoundError:
        raise SrLoraError(f"gap records {path} are missing: write them with `srlora gap --out {path}`") from None
    except (ValueError, KeyError, TypeError) as err:
        raise SrLoraError(f"gap records {path} are malformed ({err}): write them again with `srlora gap`") from None
