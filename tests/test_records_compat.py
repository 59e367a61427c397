"""Records outlive code changes: a run's key is a function of what the run is, so records written by earlier code
(the shipped study, a user's own files) still count as done for resume, and a change to a default, a preset or a grid
that would silently re-key (and re-train) runs fails here first. Regenerate tests/data/grid_keys.json only for a change
that is meant to alter runs, and say so in the commit."""

import dataclasses
import json
from pathlib import Path

import pytest

from srlora_utils.experiments.profiles import PROFILES, grid_settings, profile_configs
from srlora_utils.training.records import read_records, run_key
from srlora_utils.training.run import EXECUTION_FIELDS, TrainConfig, config_key

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = json.loads((REPO / "tests" / "data" / "grid_keys.json").read_text())
SHIPPED = REPO / "results" / "baseline-study" / "records.jsonl"


def _specs() -> list[str]:
    return [f"grids/{g.name}" for g in sorted((REPO / "grids").glob("*.toml"))] + [
        f"{d}:{n}" for d, names in PROFILES.items() for n in names
    ]


@pytest.mark.parametrize("spec", _specs())
def test_every_grid_and_preset_keeps_its_run_keys(spec):
    path = str(REPO / spec) if spec.endswith(".toml") else spec
    keys = sorted(config_key(c) for c in profile_configs(grid_settings(path)))
    assert spec in SNAPSHOT, f"{spec} is new: add its keys to tests/data/grid_keys.json"
    assert keys == SNAPSHOT[spec], f"{spec}: the runs' keys changed, so recorded runs would train again"


def test_shipped_records_keys_follow_from_their_configs():
    records = read_records(SHIPPED)
    assert records
    for r in records:
        stored = {k: v for k, v in r["config"].items() if k not in EXECUTION_FIELDS}
        assert run_key(stored) == r["key"]
        assert config_key(TrainConfig(**r["config"])) == r["key"]  # the record's config is today's TrainConfig


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(TrainConfig) if f.name not in EXECUTION_FIELDS])
def test_each_field_that_defines_a_run_enters_its_key(name):
    base = TrainConfig()
    value = getattr(base, name)
    other = {bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v + 0.5, str: lambda v: f"{v}x",
             dict: lambda v: {"x": 1}}  # fmt: skip
    changed = other[type(value)](value) if type(value) in other else 7  # None (exp, backbone, lr, root): a value
    assert config_key(dataclasses.replace(base, **{name: changed})) != config_key(base)
    assert config_key(dataclasses.replace(base, device="cuda:3")) == config_key(base)
