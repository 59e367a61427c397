"""Simple baselines a fine-tuned model must beat: nearest neighbour and logistic regression on raw pixels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from .fewshot import FewShotTask
from .tasks import load_task


def _pixels(dataset) -> tuple[np.ndarray, np.ndarray]:
    items = [dataset[i] for i in range(len(dataset))]
    return np.stack([x.numpy().ravel() for x, _ in items]), np.array([int(y) for _, y in items])


def pixel_baselines(task: FewShotTask) -> dict[str, float]:
    """Test accuracy (%) of 1-nearest-neighbour and logistic regression fitted to the K-shot training images.

    The images are read through the task's evaluation transform (resize, no augmentation); single-label only.
    """
    if task.multilabel:
        raise ValueError("pixel baselines are defined for single-label tasks")
    x_train, y_train = _pixels(task.train_without_augmentation())
    x_test, y_test = _pixels(task.test)
    return {
        "1-NN (raw pixels)": 100 * KNeighborsClassifier(1).fit(x_train, y_train).score(x_test, y_test),
        "logistic regression (raw pixels)": 100
        * LogisticRegression(max_iter=2000).fit(x_train, y_train).score(x_test, y_test),
    }


def baseline_table(
    task_name: str, shots: int, seeds: list[int], img_size: int, root: str | None = None
) -> pd.DataFrame:
    """Mean and std over ``seeds`` of :func:`pixel_baselines`, on the images the network sees (``img_size`` px)."""
    rows = [
        {"seed": s, **pixel_baselines(load_task(task_name, shots, s, root, img_size, augment="none"))} for s in seeds
    ]
    df = pd.DataFrame(rows).drop(columns="seed")
    return pd.DataFrame({"mean": df.mean(), "std": df.std(), "seeds": len(seeds)})
