import math

import numpy as np
import pytest

import srlora_utils as S
from srlora_utils.data.tasks import load_task
from srlora_utils.experiments.sweeps import run_sweep, summary_table
from srlora_utils.training.config import TrainConfig
from srlora_utils.training.methods import METHODS, get_spec
from srlora_utils.training.metrics import classification_metrics
from srlora_utils.training.records import read_records
from srlora_utils.training.run import train

QUICK = dict(task="digits", shots=1, img_size=28, epochs=2, batch_size=4, warmup_iters=2)


def test_metrics_known_values():
    scores = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    m = classification_metrics(scores, np.array([0, 1, 0, 1]), multilabel=False)
    assert m == {"accuracy": 100.0, "macro_f1": 100.0, "AUC": 100.0}
    m = classification_metrics(scores, np.array([1, 0, 0, 1]), multilabel=False)
    assert m["accuracy"] == 50.0
    ml = classification_metrics(
        np.array([[3.0, -3.0], [-3.0, 3.0], [3.0, 3.0]]), np.array([[1, 0], [0, 1], [1, 1]]), True
    )
    assert ml["mAP"] == pytest.approx(100.0) and ml["AUC"] == pytest.approx(100.0)


def _assert_selected_on_validation(rec: dict) -> None:
    """The kept epoch is the best validation epoch among those the method may select (first of equals)."""
    vals = [h["val_accuracy"] for h in rec["history"]]
    first = len(vals) - len([h for h in rec["history"] if h["epoch"] >= rec["best_epoch"]])
    assert rec["val"]["accuracy"] == vals[rec["best_epoch"] - 1] == max(vals[first:])
    assert all(v < rec["val"]["accuracy"] for v in vals[first : rec["best_epoch"] - 1])


def _assert_whole_test_set(rec: dict, n_test: int) -> None:
    """Test accuracy is counted over every test image: a whole number of images out of ``n_test``."""
    correct = rec["test"]["accuracy"] * n_test / 100
    assert abs(correct - round(correct)) < 1e-6 and 0 <= round(correct) <= n_test


def test_train_record_resume_and_determinism(tmp_path):
    records = tmp_path / "runs.jsonl"
    cfg = TrainConfig(method="srlora_budget", seed=3, **QUICK)
    rec = train(cfg, records=str(records), progress=False)
    assert rec["standin"] and rec["task"] == "digits (stand-in)"
    assert set(rec["test"]) == {"accuracy", "macro_f1", "AUC"}  # ten classes: one-vs-rest AUC
    _assert_selected_on_validation(rec)
    _assert_whole_test_set(rec, n_test=len(load_task("digits", 1, 3, img_size=28).test))
    assert rec["trainable_params"] == rec["lora_params"] + 10 * 384 + 10
    assert rec["lora_params"] <= 8 * 36 * 768  # the budget rule never exceeds LoRA r=8's count
    assert 1 <= rec["best_epoch"] <= 2 and len(rec["history"]) == 2
    assert rec["peak_memory_mb"] > 0 and rec["step_s_median"] > 0 and rec["versions"]["torch"]
    again = train(cfg, records=str(records), progress=False)  # resumed: read back, not re-run
    assert again == rec and len(read_records(records)) == 1
    forced = train(cfg, records=str(records), force=True, progress=False)
    assert forced["test"] == rec["test"] and forced["history"] == rec["history"]  # same seed, same numbers
    assert len(read_records(records)) == 2


LORA_R8 = 8 * 36 * 768  # LoRA r=8 on Q, V and proj of the offline ViT-S/14 (36 matrices of 384x384)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains(method):
    rec = train(TrainConfig(method=method, **QUICK), progress=False)
    assert all(math.isfinite(h["train_loss"]) for h in rec["history"])
    assert rec["init_s"] > 0
    _assert_selected_on_validation(rec)
    _assert_whole_test_set(rec, n_test=len(load_task("digits", 1, 0, img_size=28).test))
    n_head = 10 * 384 + 10
    if method == "linear_probe":
        assert rec["trainable_params"] == n_head and rec["ranks"] == {}
    elif method == "full_ft":
        assert rec["trainable_params"] > 20_000_000
    else:
        ranks = rec["ranks"]
        adapted = 9 if method == "lora_first_quarter" else 36  # the control adapts blocks 0-2 only, at rank 32
        assert len(ranks) == adapted and all(r >= 1 for r in ranks.values())
        assert rec["lora_params"] == sum(ranks.values()) * 768
        if method not in ("srlora", "srlora_nested"):  # the paper's rule spends 5.6x more
            assert rec["lora_params"] <= LORA_R8
        if method in ("lora", "srlora", "srlora_budget", "srlora_shuffled", "srlora_reversed", "lora_first_quarter",
                      "dylora", "pissa", "eva"):  # fmt: skip
            assert rec["trainable_params"] == rec["lora_params"] + n_head
    if method == "eva":  # data-driven redistribution: unequal ranks within LoRA r=8's budget
        assert len(set(rec["ranks"].values())) > 1
    if get_spec(method).nested:
        assert set(rec["test_random_rank"]) == set(rec["test"])
    else:
        assert "test_random_rank" not in rec


def test_sweep_summary(tmp_path):
    runs = run_sweep(
        TrainConfig(epochs=1, **{k: v for k, v in QUICK.items() if k != "epochs"}),
        methods=["linear_probe", "lora"],
        seeds=[0, 1],
        records=str(tmp_path / "r.jsonl"),
        progress=False,
    )
    table = summary_table(runs)
    assert list(table.index.get_level_values("method")) == ["linear_probe", "lora"]
    assert (table["runs"] == 2).all()
    for method in ("linear_probe", "lora"):
        values = [r["test"]["accuracy"] for r in runs if r["config"]["method"] == method]
        row = table.xs(method, level="method").iloc[0]
        assert row["accuracy mean"] == pytest.approx(np.mean(values))
        assert row["accuracy std"] == pytest.approx(np.std(values, ddof=1))
    again = run_sweep(TrainConfig(epochs=1, **{k: v for k, v in QUICK.items() if k != "epochs"}),
                      methods=["linear_probe", "lora"], seeds=[0, 1], records=str(tmp_path / "r.jsonl"),
                      progress=False)  # fmt: skip
    assert again == runs and len(read_records(tmp_path / "r.jsonl")) == 4  # resumed: nothing trained twice


def test_training_errors():
    with pytest.raises(S.SrLoraError, match="unknown method"):
        train(TrainConfig(method="sora", **QUICK), progress=False)
    with pytest.raises(S.SrLoraError, match="needs a nested method"):
        train(TrainConfig(method="lora", eval_rank="random", **QUICK), progress=False)
    with pytest.raises(S.SrLoraError, match="unknown augmentation"):
        train(TrainConfig(method="lora", augment="heavy", **QUICK), progress=False)


def test_official_random_rank_evaluation_is_an_option():
    full = train(TrainConfig(method="dylora", **QUICK), progress=False)
    official = train(TrainConfig(method="dylora", eval_rank="random", **QUICK), progress=False)
    assert full["history"][0]["train_loss"] == official["history"][0]["train_loss"]  # same training
    assert "test_random_rank" not in official and set(full["test_random_rank"]) == set(full["test"])


def _toy_fit(stop: bool, selectable_from_step: int = 0):
    """_fit on a linear classifier of two separable blobs (validation reaches 100% within a few epochs)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from srlora_utils.training.methods import AdaptedModel
    from srlora_utils.training.run import _fit

    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(16, 4, generator=g) + 2, torch.randn(16, 4, generator=g) - 2])
    y = torch.cat([torch.zeros(16, dtype=torch.long), torch.ones(16, dtype=torch.long)])
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-0.5] * 4, [0.5] * 4]))  # start wrong: validation is imperfect at first
        model.bias.zero_()
    loaders = {"train": DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True,
                                   generator=torch.Generator().manual_seed(0)),
               "val": DataLoader(TensorDataset(x[::3], y[::3]), batch_size=64)}  # fmt: skip
    cfg = TrainConfig(method="lora", epochs=12, lr=0.02, warmup_iters=1)
    adapted = AdaptedModel(model, None, selectable_from_step=selectable_from_step)
    return _fit(adapted, cfg, loaders, False, torch.device("cpu"), False, stop)


def test_stopping_at_perfect_validation_keeps_the_selected_model_exactly():
    full, stopped = _toy_fit(stop=False), _toy_fit(stop=True)
    vals = [h["val_accuracy"] for h in full[0]]
    assert vals[0] < 100 and 100 in vals and len(stopped[0]) == vals.index(100) + 1 < len(full[0])
    assert (stopped[2], stopped[3]) == (full[2], full[3]) == (vals.index(100) + 1, 100.0)
    assert all(np.array_equal(full[1][k], stopped[1][k]) for k in full[1])
    # An epoch the method may not select (AdaLoRA before its budget is final) never stops the run.
    late = _toy_fit(stop=True, selectable_from_step=8 * 5)
    assert late[2] >= 5 and len(late[0]) == late[2] and late[0][late[2] - 1]["val_accuracy"] == 100
