"""Task metrics in percent. Single-label: accuracy, macro-F1 and AUC (one-vs-rest, macro, on softmax scores, as the
official SR-LoRA evaluation and the MedMNIST benchmark). Multi-label: mAP and macro AUC. MedMNIST tasks add ``ACC``,
the MedMNIST evaluator's accuracy (per-label at 0.5 for multi-label tasks), and their ``AUC`` is its ``getAUC``.

An AUC averages over the classes that occur in the split (a class absent from the targets has no AUC); the official
code repeats the previous class's AUC instead, and MedMNIST's evaluator raises. The selection metric is accuracy or
mAP, whatever else is reported.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

from ..errors import SrLoraError

#: Benchmarks whose own evaluator a task can ask for (``FewShotTask.benchmark``).
BENCHMARKS = ("medmnist",)


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _sigmoid(scores: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-scores))


def _safe_auc(y_true: np.ndarray, scores: np.ndarray, **kw) -> float:
    try:
        return float(roc_auc_score(y_true, scores, **kw))
    except ValueError:  # a class absent from y_true: AUC is undefined
        return float("nan")


def one_vs_rest_auc(probs: np.ndarray, targets: np.ndarray) -> float:
    """Macro one-vs-rest AUC (0-1) of class probabilities ``probs`` (N, C) against integer ``targets`` (N,), over
    the classes that occur in ``targets`` (NaN when fewer than two do)."""
    aucs = [
        roc_auc_score(targets == c, probs[:, c])
        for c in range(probs.shape[1])
        if 0 < (targets == c).sum() < len(targets)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def medmnist_task_type(multilabel: bool, num_classes: int) -> str:
    """MedMNIST's name for a task type (``INFO[flag]["task"]``) from whether it is ``multilabel`` and its
    ``num_classes`` (ordinal-regression tasks are scored as multi-class, as the evaluator does)."""
    if multilabel:
        return "multi-label, binary-class"
    return "binary-class" if num_classes == 2 else "multi-class"


def medmnist_scores(scores: np.ndarray, multilabel: bool) -> np.ndarray:
    """What MedMNIST's evaluator is given: sigmoid (multi-label) or softmax scores of the logits ``scores`` (N, C),
    as its training scripts compute them (``multilabel`` chooses)."""
    return _sigmoid(scores) if multilabel else _softmax(scores)


def medmnist_metrics(y_score: np.ndarray, targets: np.ndarray, task_type: str) -> dict[str, float]:
    """MedMNIST's ``ACC`` and ``AUC`` (in percent) of evaluator scores ``y_score`` (see :func:`medmnist_scores`)
    against ``targets`` for its ``task_type``: its own ``getACC``/``getAUC`` when the ``medmnist`` package is
    installed, else the same definitions here. AUC is NaN where the evaluator would fail (a class absent)."""
    y_true = targets.reshape(len(targets), -1)
    try:
        from medmnist.evaluator import getACC, getAUC
    except ImportError:
        getACC = getAUC = None  # noqa: N806 - the evaluator's names
    if getAUC is not None and getACC is not None:
        try:
            auc = float(getAUC(y_true, y_score, task_type))
        except ValueError:
            auc = float("nan")
        return {"ACC": 100 * float(getACC(y_true, y_score, task_type)), "AUC": 100 * auc}
    return {
        "ACC": 100 * _medmnist_acc(y_true, y_score, task_type),
        "AUC": 100 * _medmnist_auc(y_true, y_score, task_type),
    }


def _medmnist_acc(y_true: np.ndarray, y_score: np.ndarray, task_type: str) -> float:
    if task_type == "multi-label, binary-class":
        return float(np.mean([accuracy_score(y_true[:, j], y_score[:, j] > 0.5) for j in range(y_true.shape[1])]))
    if task_type == "binary-class":
        return float(accuracy_score(y_true[:, 0], y_score[:, -1] > 0.5))
    return float(accuracy_score(y_true[:, 0], y_score.argmax(1)))


def _medmnist_auc(y_true: np.ndarray, y_score: np.ndarray, task_type: str) -> float:
    if task_type == "multi-label, binary-class":
        columns = [(y_true[:, j], y_score[:, j]) for j in range(y_score.shape[1])]
    elif task_type == "binary-class":
        columns = [(y_true[:, 0], y_score[:, -1])]
    else:
        columns = [(y_true[:, 0] == c, y_score[:, c]) for c in range(y_score.shape[1])]
    if any(len(np.unique(t)) < 2 for t, _ in columns):
        return float("nan")
    return float(np.mean([roc_auc_score(t, s) for t, s in columns]))


def classification_metrics(
    scores: np.ndarray, targets: np.ndarray, multilabel: bool, benchmark: str | None = None
) -> dict[str, float]:
    """Metrics in percent from logits ``scores`` (N, C) and ``targets`` ((N,) ints, or (N, C) 0/1 when
    ``multilabel``); ``benchmark="medmnist"`` adds MedMNIST's ``ACC`` and takes ``AUC`` from its evaluator."""
    if multilabel:
        probs = _sigmoid(scores)
        present = targets.sum(0) > 0  # mAP / AUC over classes that occur in this split
        out = {
            "mAP": 100 * float(average_precision_score(targets[:, present], probs[:, present], average="macro")),
            "AUC": 100 * _safe_auc(targets[:, present], probs[:, present], average="macro"),
        }
    else:
        pred = scores.argmax(1)
        out = {
            "accuracy": 100 * float(accuracy_score(targets, pred)),
            "macro_f1": 100 * float(f1_score(targets, pred, average="macro", labels=np.arange(scores.shape[1]))),
        }
        if scores.shape[1] == 2:  # the binary AUC of class 1's probability (equal to the one-vs-rest macro AUC)
            out["AUC"] = 100 * _safe_auc(targets, _softmax(scores)[:, 1])
        elif scores.shape[1] > 2:
            out["AUC"] = 100 * one_vs_rest_auc(_softmax(scores), targets)
    if benchmark == "medmnist":
        task_type = medmnist_task_type(multilabel, scores.shape[1])
        out.update(medmnist_metrics(medmnist_scores(scores, multilabel), targets, task_type))
    elif benchmark is not None:
        raise SrLoraError(f"unknown benchmark {benchmark!r}: use one of {', '.join(BENCHMARKS)} or None")
    return out


#: The best score of every metric here (all are in percent).
PERFECT = 100.0


def selection_metric(multilabel: bool) -> str:
    """The metric used to pick the best epoch on the validation split (as the official code: mAP or accuracy)."""
    return "mAP" if multilabel else "accuracy"
