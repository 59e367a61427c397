"""Per-image test predictions stored compactly in a run's record, so that an interval can resample test images as
well as seeds (the second registration's readings, ``srlora_utils.analysis.registration2``).

A record's ``predictions`` holds three strings of one character per test image, in the test set's fixed order: the
class predicted at the selected epoch (``test``), at the last epoch (``test_last``), and the true class (``labels``);
class ``k`` is :data:`ALPHABET`'s ``k``-th character. Multi-label tasks and tasks of more classes than the alphabet
has store none. Records written before this existed have none either: their intervals resample seeds only.
"""

from __future__ import annotations

import numpy as np

from ..errors import SrLoraError

#: One character per class: up to 62 classes.
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def encode_classes(classes: np.ndarray) -> str:
    """Class indices as one character each (:data:`ALPHABET`)."""
    return "".join(ALPHABET[int(k)] for k in classes)


def decode_classes(text: str) -> np.ndarray:
    """The class indices :func:`encode_classes` wrote; a one-line error for a character it never writes."""
    try:
        return np.array([ALPHABET.index(c) for c in text], dtype=np.int64)
    except ValueError:
        raise SrLoraError("a record's predictions hold a character outside the class alphabet: the record is "
                          "damaged; train that run again") from None  # fmt: skip


def encode_predictions(selected: np.ndarray, last: np.ndarray, labels: np.ndarray) -> dict[str, str] | None:
    """A record's ``predictions``: the ``selected`` and ``last`` epochs' predicted classes and the true ones
    (``labels``); None when there are none (multi-label) or more classes than :data:`ALPHABET` has."""
    if len(labels) == 0 or max(int(np.max(labels)), int(np.max(selected)), int(np.max(last))) >= len(ALPHABET):
        return None
    return {"test": encode_classes(selected), "test_last": encode_classes(last), "labels": encode_classes(labels)}


def correct_matrix(records: list[dict], epoch: str = "test") -> np.ndarray:
    """Runs x test images, 1 where a run's ``epoch`` prediction (``test`` or ``test_last``) is right; every record
    needs ``predictions`` over the same test set (one-line errors otherwise)."""
    rows, labels = [], None
    for r in records:
        p = r.get("predictions")
        if not p:
            raise SrLoraError(f"run {r.get('key')} has no per-image predictions (written before they were stored): "
                              "resample seeds only")  # fmt: skip
        if labels is None:
            labels = p["labels"]
        elif p["labels"] != labels:
            raise SrLoraError(f"run {r.get('key')} was tested on other images than the first run: pair runs of one "
                              "test set")  # fmt: skip
        rows.append(decode_classes(p[epoch]) == decode_classes(p["labels"]))
    return np.array(rows, dtype=float)
