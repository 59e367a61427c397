"""The paper path: data roots, MedFMC splits, normalisation, model selection, fixtures, records, report, sweep."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import srlora_utils as S
from srlora_utils.analysis.readings import read_ranking
from srlora_utils.analysis.report import format_report, medfmc_table, select_records
from srlora_utils.cli import main
from srlora_utils.data.eurosat import EUROSAT_CLASSES
from srlora_utils.data.fixtures import MEDFMC_EXPS, MEDFMC_SHOTS, write_medfmc_fixture
from srlora_utils.data.paths import FIXTURE_MARKER, data_dir, repository_data_dir, resolve_root
from srlora_utils.data.tasks import load_task
from srlora_utils.experiments.grids import grid_configs
from srlora_utils.experiments.presets import preset
from srlora_utils.experiments.sweeps import runs_table, shard, summary_table
from srlora_utils.models.normalization import IMAGENET_MEAN, resolve_normalization
from srlora_utils.training import run as training
from srlora_utils.training.config import TrainConfig
from srlora_utils.training.records import append_record, read_records
from srlora_utils.training.run import train


@pytest.fixture
def on_fixtures(fixture_data, monkeypatch) -> Path:  # fixture_data: every fixture tree, written once (conftest.py)
    monkeypatch.setenv("SRLORA_DATA", str(fixture_data))
    return fixture_data


# --- data roots ---------------------------------------------------------------------------------------------------


def test_relative_roots_resolve_under_the_data_folder_from_any_working_directory(on_fixtures, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as a notebook in notebooks/ or a CLI run elsewhere
    assert data_dir() == on_fixtures.resolve()
    assert resolve_root("MedFMC") == on_fixtures.resolve() / "MedFMC"
    assert resolve_root(None, "vtab") == on_fixtures.resolve() / "VTAB-1k"
    assert resolve_root(tmp_path / "x") == tmp_path / "x"  # absolute roots as given
    task = load_task("vtab:eurosat", 1, 0, None, 16)  # the preset's root (None): the data folder's VTAB-1k
    assert len(task.train) == 10


def test_without_the_variable_the_checkout_data_folder_is_used(monkeypatch):
    monkeypatch.delenv("SRLORA_DATA")
    repo = Path(__file__).resolve().parent.parent
    assert repository_data_dir() == repo / "data" and data_dir() == repo / "data"


# --- MedFMC splits -------------------------------------------------------------------------------------------------


def test_medfmc_runs_name_their_split_and_read_its_lists(on_fixtures):
    anns = on_fixtures / "MedFMC" / "data_anns" / "MedFMC" / "colon"
    for exp in (1, 3):
        task = load_task("medfmc:colon", 5, 0, None, 16, exp=exp)
        listed = [
            line.split()[0] for line in (anns / f"colon_5-shot_train_exp{exp}.txt").read_text().split("\n") if line
        ]
        assert task.train.paths == listed and task.exp == exp
    with pytest.raises(S.SrLoraError, match="pass exp=1..5"):
        train(TrainConfig(task="medfmc:colon"))
    with pytest.raises(S.SrLoraError, match="drop exp"):
        train(TrainConfig(task="lfw", exp=1))


def test_the_paper_presets_sweep_every_medfmc_split():
    configs = grid_configs(preset("medical", "paper"))
    assert {c.exp for c in configs} == {1, 2, 3, 4, 5} and {c.shots for c in configs} == {1, 5, 10}
    assert len({(c.shots, c.exp, c.method, c.seed) for c in configs}) == len(configs) == 3 * 5 * 5
    grid = grid_configs(preset("reproduction", "paper"))
    assert {c.exp for c in grid if c.task.startswith("vtab")} == {None}
    assert {c.weight_decay for c in grid if c.task.startswith("medfmc")} == {0.3}


# --- normalisation -------------------------------------------------------------------------------------------------


def test_normalisation_defaults_to_the_backbones_own_and_official_is_imagenet():
    assert resolve_normalization("backbone", S.PAPER_BACKBONE).mean == (0.5, 0.5, 0.5)
    assert resolve_normalization("backbone", None).mean == IMAGENET_MEAN  # DINOv2
    assert resolve_normalization("official", S.PAPER_BACKBONE).mean == IMAGENET_MEAN
    with pytest.raises(S.SrLoraError, match="unknown normalize"):
        resolve_normalization("zscore", None)
    with pytest.raises(S.SrLoraError, match="pass normalize='imagenet'"):
        resolve_normalization("backbone", "weights.safetensors")
    norm = resolve_normalization("backbone", S.PAPER_BACKBONE)
    task = load_task("lfw", 1, 0, img_size=16, augment="none", norm=norm)
    steps = {type(t).__name__: t for t in task.test.transform.transforms}
    assert tuple(steps["Normalize"].mean) == (0.5, 0.5, 0.5) and task.normalization == norm


# --- model selection with a NaN epoch ------------------------------------------------------------------------------


def test_a_nan_first_epoch_does_not_freeze_model_selection(monkeypatch):
    val = iter([math.nan, 40.0, 70.0, 55.0])
    real = training.evaluate

    def fake(model, loader, multilabel, device, benchmark=None):
        out = real(model, loader, multilabel, device, benchmark)
        return {**out, "accuracy": next(val)} if loader.dataset is not None and fake.validating else out

    fake.validating = True
    monkeypatch.setattr(training, "evaluate", fake)
    orig_fit = training._fit

    def fit(*args, **kw):
        result = orig_fit(*args, **kw)
        fake.validating = False  # the test evaluation afterwards is real
        return result

    monkeypatch.setattr(training, "_fit", fit)
    rec = train(TrainConfig(task="lfw", method="linear_probe", shots=1, epochs=4, img_size=28), progress=False)
    assert rec["best_epoch"] == 3 and rec["val"]["accuracy"] == 70.0


# --- comparisons across shot counts --------------------------------------------------------------------------------


def _record(method, shots, seed, acc, exp=None, task="medfmc:colon", fixture=False, **config):
    return {"task": task.replace(":", "-"), "fixture": fixture, "trainable_params": 100, "step_s_median": 0.1,
            "total_s": 1.0, "test": {"accuracy": acc, "AUC": acc + 5},
            "config": {"task": task, "method": method, "shots": shots, "seed": seed, "exp": exp, "img_size": 28,
                       **config}}  # fmt: skip


def test_the_ranking_reading_compares_only_within_a_shot_count():
    runs = [_record(m, k, s, acc + 3 * s + (m == "srlora") * s) for k, accs in {1: (50, 40), 10: (90, 80)}.items()
            for m, acc in zip(("srlora", "lora"), accs) for s in (0, 1, 2)]  # fmt: skip
    text = read_ranking(runs, "accuracy").text
    assert (
        "medfmc-colon, 1-shot** (3 runs per method): highest mean test accuracy `srlora` (54.0%), then `lora`" in text
    )
    assert "`srlora` - `lora` = +11.0 points (95% interval +8.5 to +13.5, 3 paired runs): **ahead**" in text
    assert "medfmc-colon, 10-shot** (3 runs per method): highest mean test accuracy `srlora` (94.0%)" in text


# --- records -------------------------------------------------------------------------------------------------------


def test_malformed_records_give_one_line_errors_and_a_truncated_last_line_is_skipped(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": 1}\nnot json\n{"key": 2}\n')
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.jsonl:2: not a JSON record; delete that line" in err
    assert main(["train", "--task", "lfw", "--records", str(bad), "--epochs", "1"]) == 2
    cut = tmp_path / "cut.jsonl"
    cut.write_text('{"key": "a"}\n{"key": "b", "te')  # a writer killed mid-line
    with pytest.warns(UserWarning, match="cut.jsonl:2: skipped a truncated record"):
        assert [r["key"] for r in read_records(cut)] == ["a"]
    append_record(cut, {"key": "c"})
    lines = cut.read_text().split("\n")
    assert lines[-2] == '{"key": "c"}' and json.loads(lines[0]) == {"key": "a"}
    with pytest.warns(UserWarning, match="truncated"):
        assert [r["key"] for r in read_records(cut)] == ["a", "c"]


# --- fixtures ------------------------------------------------------------------------------------------------------


def test_fixture_trees_have_the_official_layouts(fixture_data):
    med = fixture_data / "MedFMC"
    for task in ("chest", "colon", "endo"):
        anns = med / "data_anns" / "MedFMC" / task
        expected = {
            f"{task}_{k}-shot_{p}_exp{e}.txt" for k in MEDFMC_SHOTS for e in MEDFMC_EXPS for p in ("train", "val")
        }
        assert {p.name for p in anns.iterdir()} == expected | {"test_WithLabel.txt"}
        assert any((med / "MedFMC_train" / task / "images").glob("*.png"))
    chest = (med / "data_anns" / "MedFMC" / "chest" / "chest_1-shot_train_exp1.txt").read_text().split("\n")[0]
    assert len(chest.split()[1].split(",")) == 19  # one 0/1 flag per ChestDR class
    for task in ("eurosat", "resisc45"):
        names = {p.name for p in (fixture_data / "VTAB-1k" / task).iterdir()}
        assert names == {"images", "train800.txt", "val200.txt", "train800val200.txt", "test.txt"}
    assert (med / FIXTURE_MARKER).is_file()
    task = load_task("medfmc:chest", 1, 0, med, 16, exp=2)
    assert task.display_name == "medfmc-chest (synthetic fixture, not results)" and task.multilabel
    # MedMNIST: the names the medmnist package downloads, with its keys; EuroSAT: torchvision's extracted tree
    mnist = fixture_data / "medmnist"
    assert {p.name for p in mnist.iterdir()} == {"dermamnist.npz", "dermamnist_64.npz", "chestmnist.npz",
                                                 "pneumoniamnist.npz", FIXTURE_MARKER}  # fmt: skip
    with np.load(mnist / "dermamnist_64.npz") as npz:
        assert sorted(npz.files) == sorted(f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels"))
        assert npz["test_images"].shape[1:] == (64, 64, 3) and npz["test_labels"].shape[1] == 1
    with np.load(mnist / "chestmnist.npz") as npz:
        assert npz["train_images"].ndim == 3 and npz["train_labels"].shape[1] == 14  # grey, 14 labels
    tree = fixture_data / "eurosat" / "2750"
    assert sorted(p.name for p in tree.iterdir() if p.is_dir()) == sorted(EUROSAT_CLASSES)
    assert any((tree / "Forest").glob("Forest_*.jpg")) and (fixture_data / "eurosat" / FIXTURE_MARKER).is_file()


def test_fixture_writer_never_touches_real_data(tmp_path):
    (tmp_path / "MedFMC").mkdir()
    with pytest.raises(S.SrLoraError, match="is not a synthetic fixture: refusing"):
        write_medfmc_fixture(tmp_path / "MedFMC")


# --- report --------------------------------------------------------------------------------------------------------


def test_report_tables_mean_and_std_over_splits_next_to_the_authors():
    runs = [_record("srlora", 5, 0, acc, exp=e) for e, acc in zip((1, 2, 3), (80.0, 90.0, 100.0))]
    table = medfmc_table(runs)
    assert table.loc[(5, "srlora (this kit)"), "colon accuracy"] == "90.00 ± 10.00 (3)"
    assert table.loc[(5, "SR-LoRA, authors (exp1 only, val-selected)"), "colon AUC"] == "96.64"
    assert "mean ± std over splits exp1-3, seed 0;" in format_report(runs)
    with pytest.raises(S.SrLoraError, match=r"mix 2 settings \(img_size in \['28', '56'\]\): pick one with --where"):
        select_records(runs + [_record("lora", 1, 0, 60.0, exp=1, img_size=56)])
    assert len(select_records(runs + [_record("lora", 1, 0, 60.0, exp=1, img_size=56)], ["img_size=28"])) == 3


def test_a_fixture_report_names_its_splits_and_keeps_the_authors_apart():
    fixture = [_record(m, 1, 0, 60.0, exp=e, fixture=True) for m in ("lora", "srlora") for e in (1, 2)]
    text = format_report(fixture)
    assert "SYNTHETIC FIXTURE, NOT RESULTS" in text and "lora (synthetic fixture, not results)" in text
    assert "over splits exp1, exp2, seed 0;" in text and "exp1-5" not in text
    ours, _, theirs = text.partition("The authors' numbers, for reference only")
    assert "SR-LoRA, authors" not in ours and "synthetic fixture, not results)" not in theirs
    assert "SR-LoRA, authors (exp1 only, val-selected)" in theirs
    assert "SR-LoRA, authors" not in medfmc_table(fixture, authors=False).index.get_level_values("method")


# --- sweeps --------------------------------------------------------------------------------------------------------


def test_shards_partition_the_grid():
    configs = grid_configs(preset("reproduction", "paper"))
    parts = [shard(configs, f"{i}/3") for i in range(3)]
    assert sorted(map(id, sum(parts, []))) == sorted(map(id, configs))
    with pytest.raises(S.SrLoraError, match="not i/n"):
        shard(configs, "3/3")


def test_sweep_command_runs_a_paper_grid_on_fixtures_and_resumes(on_fixtures, tmp_path, capsys):
    records = tmp_path / "r.jsonl"
    argv = ["sweep", "medical:paper", "--tiny", "--methods", "lora", "--shots", "1", "--records", str(records)]
    assert main(argv + ["--dry-run"]) == 0
    assert "2 runs in this share (2 in the grid; one process: the whole grid), 0 already in" in capsys.readouterr().out
    assert main(argv) == 0
    recs = read_records(records)
    assert [r["config"]["exp"] for r in recs] == [1, 2] and all(r["fixture"] for r in recs)
    assert recs[0]["normalization"]["name"] == "official" and recs[0]["config"]["augment"] == "official"
    assert main(argv) == 0 and len(read_records(records)) == 2  # resumed: nothing trained twice
    assert main(["report", str(records)]) == 0
    assert "chest mAP" in capsys.readouterr().out


def test_report_command_fails_in_one_line(tmp_path, capsys):
    """In this process (test_cli starts the installed console script once for every subcommand)."""
    from srlora_utils.cli import main

    assert main(["report", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no records in" in err


def test_runs_table_and_summary_carry_the_split():
    runs = [_record("lora", 1, 0, 60.0, exp=4), _record("lora", 1, 0, 70.0, exp=5)]
    table = runs_table(runs)
    assert table["exp"].tolist() == [4, 5] and table["test_accuracy"].tolist() == [60.0, 70.0]
    row = summary_table(runs).loc[("medfmc-colon", 1, "lora")]
    assert row["runs"] == 2 and row["accuracy mean"] == 65.0 and row["accuracy std"] == pytest.approx(50**0.5)
