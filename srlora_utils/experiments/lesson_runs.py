"""The lessons' default runs come from shipped records; one is trained again live and checked against its record.

A seed fixes a run on one machine. Across machines it does not fix the last bits: another processor, ATen kernel set
(AVX-512, AVX2, default), BLAS code path or thread count adds the same numbers in another order, and a few epochs can
carry that difference into another prediction on a test image. nbval compares a lesson's printed numbers digit for
digit, so a lesson must not print numbers trained live. The default (offline) runs of lessons 03, 04 and 06 are
therefore trained once, on the machine that stores the lessons' outputs (``make lesson-records``), and shipped in
:data:`LESSON_RECORDS`; each lesson reads them (:func:`lesson_records`, through the sweep's ``shipped`` argument) and
trains one of them again here (:func:`recheck`), asserting that its test accuracy is within :data:`TOLERANCE_IMAGES`
test image of its record. On the machine that made the records the two agree exactly; elsewhere they may differ by
that much, and a larger gap is a regression (``docs/setup.md``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ..data.shipped import restore_how, shipped_path
from ..errors import SrLoraError
from ..training.config import TrainConfig, upgrade_config
from ..training.records import read_records
from ..training.run import numerics, train

#: Where the lessons' default runs are shipped, relative to the repository (and inside the wheel).
LESSON_RECORDS = "results/lessons/records.jsonl"
#: How far a run trained again may be from its record, in test images, before :func:`recheck` fails.
TOLERANCE_IMAGES = 1


def lesson_records(rerun: bool = False) -> Path | None:
    """The shipped records the lessons read their default runs from; None with ``rerun`` (every run trains here).
    A one-line error says how to restore the file when it is missing."""
    if rerun:
        return None
    path = shipped_path(LESSON_RECORDS)
    if not path.is_file():
        raise SrLoraError(
            f"the lessons' shipped records {path} are missing: restore them {restore_how(LESSON_RECORDS)}, or pass "
            "rerun=True to train every run here (minutes)"
        )
    return path


def _test_images(run: dict) -> int:
    """Test-set size of ``run``: recorded since records carry it, else counted by loading its task."""
    if isinstance(run.get("test_images"), int):
        return run["test_images"]
    from ..data.tasks import load_task, task_options

    c = run["config"]
    task = load_task(c["task"], c["shots"], c["seed"], c["root"], c["img_size"], "none", exp=c["exp"],
                     **task_options(c["task"], c.get("medmnist_size", 28)))  # fmt: skip
    return len(task.test)  # type: ignore[arg-type]


def recheck(
    runs: list[dict], method: str, task: str | None = None, progress: bool = False, shipped: str | Path | None = None
) -> pd.DataFrame:
    """Train again, here, the first run of ``method`` (on ``task``, when given: a task name as in its config) in
    ``runs`` that was read from the shipped records (``shipped``: another records file, for tests), and compare it
    with its record: one row per test metric (record, now, difference) plus the selected epoch; a line says where each
    was computed (``progress``: a bar over the run's epochs). Raises ``AssertionError`` unless the test accuracy is
    within :data:`TOLERANCE_IMAGES` test image of the record; the other metrics are shown, not checked (one image
    moves them by amounts that depend on the scores). An empty table when no run of ``method`` came from the shipped
    records (every run was trained in this session)."""
    path = Path(shipped) if shipped is not None else shipped_path(LESSON_RECORDS)
    keys = {r.get("key") for r in read_records(path)} if path.is_file() else set()
    candidates = [
        r for r in runs
        if r["config"]["method"] == method and r.get("key") in keys and task in (None, r["config"]["task"])
    ]  # fmt: skip
    if not candidates:
        which = f"{method} on {task}" if task else method
        print(f"no run of {which} was read from the shipped records: every run was trained here, nothing to re-check")
        return pd.DataFrame()
    record = candidates[0]
    if "accuracy" not in record["test"]:
        raise SrLoraError(f"recheck compares test accuracy, which {record['task']} does not report: pick a run of a "
                          "single-label task")  # fmt: skip
    cfg = TrainConfig(**upgrade_config(record["config"]))
    if record.get("device") == "cpu":  # a CPU record is checked on the CPU, even where a GPU would be used
        cfg = dataclasses.replace(cfg, device="cpu")
    again = train(cfg, progress=progress, stop_at_perfect_val=True)
    n = _test_images(record)
    tolerance = 100 * TOLERANCE_IMAGES / n
    rows = {m: [v, again["test"].get(m, float("nan"))] for m, v in record["test"].items()}
    table = pd.DataFrame(rows, index=["record", "now"]).T
    table["difference"] = table["now"] - table["record"]
    epochs = [record["best_epoch"], again["best_epoch"]]
    table.loc["selected epoch"] = [*epochs, epochs[1] - epochs[0]]
    made, here = record.get("numerics"), numerics()

    def machine(m: dict) -> str:
        return f"{m['processor']}, {m['cpu_capability']}, {m['threads']} threads"

    print(
        f"{record['task']}, {method}, {cfg.shots}-shot, seed {cfg.seed}: trained again here ({machine(here)}); the "
        f"record was made on {machine(made) if made else 'an unrecorded machine'}. Tolerance: {TOLERANCE_IMAGES} of "
        f"{n} test images = {tolerance:.2f} points of accuracy."
    )
    gap = abs(table.loc["accuracy", "difference"])
    assert gap <= tolerance + 1e-9, (
        f"{method}, seed {cfg.seed}: test accuracy {again['test']['accuracy']:.2f} here against "
        f"{record['test']['accuracy']:.2f} in the shipped record, {gap:.2f} points apart (tolerance {tolerance:.2f}): "
        "more than another machine's rounding explains. On the machine that made the record this is a regression; "
        "across machines, run the lesson with rerun=True on both and compare their records"
    )
    return table
