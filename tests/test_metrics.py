"""The field's metrics: one-vs-rest macro AUC for single-label tasks of any class count (as the official SR-LoRA
evaluation), and exactly what MedMNIST's evaluator reports for MedMNIST tasks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

import srlora_utils as S
from srlora_utils.training.metrics import (
    classification_metrics,
    medmnist_metrics,
    medmnist_scores,
    medmnist_task_type,
)


def _case(seed: int, n: int, classes: int, multilabel: bool):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, classes)) * rng.uniform(0.1, 5)
    if multilabel:
        targets = (rng.random((n, classes)) < 0.4).astype(np.int64)
        targets[:2] = [[1] * classes, [0] * classes]  # every label has positives and negatives
    else:
        targets = np.concatenate([np.arange(classes), rng.integers(0, classes, n - classes)])
    return scores, targets


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 60), classes=st.integers(3, 9))
def test_multiclass_auc_is_sklearns_one_vs_rest_macro_auc_on_softmax(seed, n, classes):
    scores, targets = _case(seed, n, classes, False)
    z = np.exp(scores - scores.max(1, keepdims=True))
    probs = z / z.sum(1, keepdims=True)
    expected = 100 * roc_auc_score(targets, probs, multi_class="ovr", average="macro")
    assert classification_metrics(scores, targets, False)["AUC"] == pytest.approx(expected, abs=1e-9)


def test_auc_averages_over_the_classes_that_occur_and_keeps_the_binary_auc():
    scores, targets = _case(0, 30, 4, False)
    seen = targets != 3
    kept = classification_metrics(scores[seen], targets[seen], False)["AUC"]
    per_class = [roc_auc_score(targets[seen] == c, scores[seen][:, c] - np.log(np.exp(scores[seen]).sum(1)))
                 for c in range(3)]  # fmt: skip
    assert kept == pytest.approx(100 * np.mean(per_class))
    assert np.isnan(classification_metrics(scores[:5], np.zeros(5, dtype=int), False)["AUC"])
    binary = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert classification_metrics(binary, np.array([1, 0, 1, 0]), False)["AUC"] == 0.0
    assert "AUC" not in classification_metrics(np.zeros((3, 1)), np.zeros(3, dtype=int), False)


@pytest.mark.parametrize("kind", ["multi-class", "binary-class", "multi-label, binary-class"])
@pytest.mark.parametrize("seed", range(8))
def test_medmnist_metrics_equal_the_medmnist_evaluators(kind, seed, monkeypatch):
    """The kit's own MedMNIST ACC and AUC (used without the package) against the package's getACC and getAUC."""
    evaluator = pytest.importorskip("medmnist.evaluator")
    multilabel, classes = kind.startswith("multi-label"), {"binary-class": 2}.get(kind, 5 + seed % 4)
    scores, targets = _case(seed, 40, classes, multilabel)
    assert medmnist_task_type(multilabel, classes) == kind
    y_score = medmnist_scores(scores, multilabel)
    y_true = targets.reshape(len(targets), -1)
    official = {
        "ACC": 100 * evaluator.getACC(y_true, y_score, kind),
        "AUC": 100 * evaluator.getAUC(y_true, y_score, kind),
    }
    assert medmnist_metrics(y_score, targets, kind) == pytest.approx(official)  # through the package
    with monkeypatch.context() as m:
        m.setitem(__import__("sys").modules, "medmnist.evaluator", None)  # as without the package
        assert medmnist_metrics(y_score, targets, kind) == pytest.approx(official, abs=1e-9)
    metrics = classification_metrics(scores, targets, multilabel, benchmark="medmnist")
    assert metrics["ACC"] == pytest.approx(official["ACC"]) and metrics["AUC"] == pytest.approx(official["AUC"])
    if not multilabel:  # selection and the kit's columns are unchanged by the benchmark
        assert metrics["accuracy"] == classification_metrics(scores, targets, False)["accuracy"] == metrics["ACC"]


def test_medmnist_auc_is_nan_where_the_evaluator_fails_and_unknown_benchmarks_are_refused():
    scores, targets = _case(1, 20, 4, False)
    targets[targets == 3] = 0
    assert np.isnan(classification_metrics(scores, targets, False, benchmark="medmnist")["AUC"])
    with pytest.raises(S.SrLoraError, match="unknown benchmark 'imagenet'"):
        classification_metrics(scores, targets, False, benchmark="imagenet")


def test_report_shows_every_metric_of_tasks_outside_the_papers_tables():
    from srlora_utils.analysis.report import format_report, task_table

    def rec(seed, acc, auc):
        return {"config": {"task": "medmnist:dermamnist", "method": "lora", "shots": 5, "seed": seed},
                "test": {"accuracy": acc, "macro_f1": acc - 5, "AUC": auc, "ACC": acc}, "fixture": True}  # fmt: skip

    records = [rec(0, 40.0, 70.0), rec(1, 50.0, 80.0)]
    table = task_table(records)
    assert table.loc[("medmnist:dermamnist", 5, "lora (synthetic fixture, not results)"), "AUC"] == "75.00 ± 7.07 (2)"
    assert list(table.columns) == ["accuracy", "macro_f1", "AUC", "ACC"]
    text = format_report(records)
    assert "Other tasks" in text and "75.00 ± 7.07 (2)" in text and "SYNTHETIC FIXTURE" in text
