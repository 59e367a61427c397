"""Simple baselines a fine-tuned model must beat: nearest neighbour and logistic regression on raw pixels.

Both are computed in float64 and the logistic regression is solved to its optimum (Newton-CG, gradient tolerance
1e-10), so they print the same digits on every machine. scikit-learn's default (L-BFGS, tolerance 1e-4, on the float32
pixels) stopped far from the optimum of this ill-conditioned problem (thousands of pixels, a few dozen images that
it separates), at an iteration that depended on the order of floating-point sums: another thread count or processor
printed another second decimal. The model is unchanged: L2 penalty with C = 1, multinomial for single-label tasks,
one binary model per label for multi-label ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier

from ..data.fewshot import FewShotTask
from ..data.tasks import load_task, task_options
from ..errors import SrLoraError
from ..training.metrics import classification_metrics, selection_metric


def _pixels(dataset) -> tuple[np.ndarray, np.ndarray]:
    items = [dataset[i] for i in range(len(dataset))]
    x = np.stack([x.numpy().ravel() for x, _ in items]).astype(np.float64)
    return x, np.stack([y.numpy() for _, y in items])


#: Newton-CG's iteration cap (it converges in a few dozen on the lessons' tasks).
NEWTON_ITERATIONS = 1000
#: The logistic regression's solver settings: Newton-CG to a gradient tolerance of 1e-10 (see the module's docstring).
LOGISTIC = dict(solver="newton-cg", tol=1e-10, max_iter=NEWTON_ITERATIONS)


def _check_converged(model, name: str) -> None:
    """One-line error if a fitted logistic regression (or any of its one-vs-rest copies) stopped at its iteration cap:
    its numbers would then depend on the machine."""
    fitted = getattr(model, "estimators_", [model])
    if any(int(np.max(getattr(m, "n_iter_", 0))) >= NEWTON_ITERATIONS for m in fitted):
        raise SrLoraError(f"{name} did not converge in {NEWTON_ITERATIONS} Newton-CG iterations: its scores would "
                          "differ between machines; report it with the task and shots")  # fmt: skip


def _scores(model, x: np.ndarray, multilabel: bool) -> np.ndarray:
    """Class scores in the form :func:`~srlora_utils.training.metrics.classification_metrics` reads (logits)."""
    p = np.clip(model.predict_proba(x), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)) if multilabel else np.log(p)


def pixel_baselines(task: FewShotTask) -> dict[str, float]:
    """Test metric (%) of 1-nearest-neighbour and logistic regression fitted to the K-shot training images:
    accuracy for single-label tasks, mAP (one-vs-rest) for multi-label ones.

    The images are read through the task's evaluation transform (resize, no augmentation).
    """
    x_train, y_train = _pixels(task.train_without_augmentation())
    x_test, y_test = _pixels(task.test)
    ml, metric = task.multilabel, selection_metric(task.multilabel)
    models = {
        "1-NN (raw pixels)": KNeighborsClassifier(1),
        "logistic regression (raw pixels)": LogisticRegression(**LOGISTIC),
    }
    out = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (ConvergenceWarning, UserWarning))  # convergence is checked below
            fitted = (OneVsRestClassifier(model) if ml else model).fit(x_train, y_train)
            scores = _scores(fitted, x_test, ml)
        if name.startswith("logistic"):
            _check_converged(fitted, name)
        if not ml:  # classes absent from the K-shot training set get no column: put them back
            full = np.full((len(x_test), task.num_classes), -np.inf)
            full[:, fitted.classes_.astype(int)] = scores
            scores = full
        out[name] = classification_metrics(scores, y_test, ml)[metric]
    return out


def baseline_runs(
    task_name: str,
    shots: int,
    seeds: Iterable[int],
    img_size: int,
    root: str | None = None,
    exps: Iterable[int] | None = None,
    medmnist_size: int = 28,
) -> pd.DataFrame:
    """One row per run of :func:`pixel_baselines` on task ``task_name`` at ``shots`` per class (``root`` as
    :func:`~srlora_utils.data.tasks.load_task`), on the images the network sees (``img_size`` px): one run per seed of
    ``seeds``, or per MedFMC split in ``exps`` (with the first seed); columns task, shots, seed, exp (0: none) and
    one per baseline, so that a method's runs can be paired with them. ``medmnist_size``: the MedMNIST+ archive read,
    as the runs' own setting."""
    seeds = list(seeds)
    splits = [(seeds[0], e) for e in exps] if exps is not None else [(s, None) for s in seeds]
    rows = []
    for s, e in splits:
        task = load_task(task_name, shots, s, root, img_size, "none", exp=e, **task_options(task_name, medmnist_size))
        rows.append({"task": task.display_name, "shots": shots, "seed": s, "exp": e or 0, **pixel_baselines(task)})
    return pd.DataFrame(rows)


def baseline_table(
    task_name: str,
    shots: int,
    seeds: Iterable[int],
    img_size: int,
    root: str | None = None,
    exps: Iterable[int] | None = None,
    medmnist_size: int = 28,
) -> pd.DataFrame:
    """Mean and std over runs of :func:`pixel_baselines` (arguments as :func:`baseline_runs`)."""
    df = baseline_runs(task_name, shots, seeds, img_size, root, exps, medmnist_size)
    df = df[[c for c in df.columns if c.endswith("(raw pixels)")]]
    return pd.DataFrame({"mean": df.mean(), "std": df.std(), "runs": len(df)})
