"""Task metrics: accuracy, macro-F1 and (binary) AUC for single-label; mAP and macro AUC for multi-label."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score


def _safe_auc(y_true: np.ndarray, scores: np.ndarray, **kw) -> float:
    try:
        return float(roc_auc_score(y_true, scores, **kw))
    except ValueError:  # a class absent from y_true: AUC is undefined
        return float("nan")


def classification_metrics(scores: np.ndarray, targets: np.ndarray, multilabel: bool) -> dict[str, float]:
    """Metrics in percent from logits ``scores`` (N, C) and ``targets`` ((N,) ints, or (N, C) 0/1 when
    ``multilabel``)."""
    if multilabel:
        probs = 1 / (1 + np.exp(-scores))
        present = targets.sum(0) > 0  # mAP / AUC over classes that occur in this split
        return {
            "mAP": 100 * float(average_precision_score(targets[:, present], probs[:, present], average="macro")),
            "AUC": 100 * _safe_auc(targets[:, present], probs[:, present], average="macro"),
        }
    pred = scores.argmax(1)
    out = {
        "accuracy": 100 * float(accuracy_score(targets, pred)),
        "macro_f1": 100 * float(f1_score(targets, pred, average="macro", labels=np.arange(scores.shape[1]))),
    }
    if scores.shape[1] == 2:
        z = scores - scores.max(1, keepdims=True)
        p1 = np.exp(z[:, 1]) / np.exp(z).sum(1)
        out["AUC"] = 100 * _safe_auc(targets, p1)
    return out


#: The best score of every metric here (all are in percent).
PERFECT = 100.0


def selection_metric(multilabel: bool) -> str:
    """The metric used to pick the best epoch on the validation split (as the official code: mAP or accuracy)."""
    return "mAP" if multilabel else "accuracy"
