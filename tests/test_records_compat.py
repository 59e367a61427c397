"""Records outlive code changes: a run's key is a function of what the run is, so records written by earlier code
(the shipped study, a user's own files) still count as done for resume, and a change to a default, a preset or a grid
that would silently re-key (and re-train) runs fails here first. Regenerate tests/data/grid_keys.json only for a change
that is meant to alter runs, and say so in the commit."""

import dataclasses
import json
from pathlib import Path

import pytest

from srlora_utils import SrLoraError
from srlora_utils.experiments.grids import grid_configs, grid_settings
from srlora_utils.experiments.presets import PRESETS
from srlora_utils.experiments.sweeps import run_configs, summary_table
from srlora_utils.training.config import EXECUTION_FIELDS, TrainConfig, config_key, upgrade_config
from srlora_utils.training.records import done_keys, read_records, run_key

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = json.loads((REPO / "tests" / "data" / "grid_keys.json").read_text())
SHIPPED = REPO / "results" / "baseline-study" / "records.jsonl"
#: Three records written by the code before issue 18 (its configs still had ``extra``), kept as they were written.
BEFORE_18 = REPO / "tests" / "data" / "records-before-issue-18.jsonl"


def _specs() -> list[str]:
    return [f"grids/{g.name}" for g in sorted((REPO / "grids").glob("*.toml"))] + [
        f"{d}:{n}" for d, names in PRESETS.items() for n in names
    ]


@pytest.mark.parametrize("spec", _specs())
def test_every_grid_and_preset_keeps_its_run_keys(spec):
    path = str(REPO / spec) if spec.endswith(".toml") else spec
    keys = sorted(config_key(c) for c in grid_configs(grid_settings(path)))
    assert spec in SNAPSHOT, f"{spec} is new: add its keys to tests/data/grid_keys.json"
    assert keys == SNAPSHOT[spec], f"{spec}: the runs' keys changed, so recorded runs would train again"


def test_shipped_records_keys_follow_from_their_configs():
    records = read_records(SHIPPED)
    assert records
    for r in records:
        stored = {k: v for k, v in r["config"].items() if k not in EXECUTION_FIELDS}
        assert run_key(stored) == r["key"]
        assert config_key(TrainConfig(**upgrade_config(r["config"]))) == r["key"]  # today's TrainConfig, same key


def test_records_written_before_a_field_went_still_read_count_as_done_and_report(monkeypatch):
    records = read_records(BEFORE_18)
    assert len(records) == 3 and all("extra" in r["config"] for r in records)
    configs = [TrainConfig(**upgrade_config(r["config"])) for r in records]
    assert [config_key(c) for c in configs] == [r["key"] for r in records] and done_keys(BEFORE_18) == {
        r["key"] for r in records
    }

    def no_training(*args, **kwargs):
        raise AssertionError("a recorded run was trained again")

    monkeypatch.setattr("srlora_utils.experiments.sweeps.train", no_training)
    again = run_configs(configs, records=str(BEFORE_18), progress=False)
    assert [r["test"] for r in again] == [r["test"] for r in records]
    table = summary_table(again)
    assert list(table.index.get_level_values("method")) == ["lora", "srlora_budget", "adalora"]


def test_upgrading_a_config_refuses_what_it_cannot_honour():
    config = dict(read_records(BEFORE_18)[0]["config"])
    assert "extra" not in upgrade_config(config) and upgrade_config(config)["task"] == "textures"
    with pytest.raises(SrLoraError, match="sets extra=\\{'x': 1\\}, which this version no longer reads"):
        upgrade_config({**config, "extra": {"x": 1}})
    with pytest.raises(SrLoraError, match="fields \\['colour'\\] that TrainConfig does not know"):
        upgrade_config({**config, "colour": "blue"})


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(TrainConfig) if f.name not in EXECUTION_FIELDS])
def test_each_field_that_defines_a_run_enters_its_key(name):
    base = TrainConfig()
    value = getattr(base, name)
    other = {bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v + 0.5, str: lambda v: f"{v}x"}
    set_one = {"exp": 2, "lr": 7e-3}  # None (exp, backbone, lr, root): a value
    changed = other[type(value)](value) if type(value) in other else set_one.get(name, "elsewhere")
    assert config_key(dataclasses.replace(base, **{name: changed})) != config_key(base)
    assert config_key(dataclasses.replace(base, device="cuda:3")) == config_key(base)


def test_the_old_grid_spelling_warmup_reads_as_warmup_iters(tmp_path):
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text('methods = ["lora"]\nwarmup = 3\n[tasks]\nlfw = 5\n')
    new.write_text('methods = ["lora"]\nwarmup_iters = 3\n[tasks]\nlfw = 5\n')
    configs = [grid_configs(grid_settings(str(p))) for p in (old, new)]
    assert configs[0] == configs[1] and configs[0][0].warmup_iters == 3
