"""The tuned protocol (grids/tuned-study.toml, srlora_utils.experiments.tuning): the written rule picks the setting,
the edge rule asks for one more rate once, confirmation seeds are disjoint from selection seeds, and a study resumes
from its records. Records here are made by hand (validation scores only): no run trains."""

import dataclasses

import pytest

from conftest import tuned_grid_text
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.grids import grid_settings
from srlora_utils.experiments.tuning import TuningPlan, choose, selection_table, tuning_state
from srlora_utils.training.config import config_key
from srlora_utils.training.methods import METHOD_SPECS

TUNING = """confirmation_seeds = [0, 1, 2]
primary_seeds = [0, 1, 2, 3, 4]
inherit = { srlora_shuffled = "srlora_budget" }
fewer_shots = { lfw = 1 }
fewer_shots_methods = ["lora"]"""
BLOCKS = """[[blocks]]
methods = ["lora", "srlora_budget"]
vary = { lr = [1e-4, 1e-3, 1e-2], scaling = ["paper", "rslora"] }

[[blocks]]
methods = ["linear_probe"]
vary = { lr = [1e-4, 1e-3, 1e-2] }"""
GRID = tuned_grid_text(2, "{ lfw = 5 }", TUNING + "\n{extra}", BLOCKS)


def _settings(tmp_path, extra=""):
    path = tmp_path / "tuned.toml"
    path.write_text(GRID.replace("{extra}", extra))
    return grid_settings(str(path))


def _record(cfg, val):
    return {"key": config_key(cfg), "val": {"accuracy": val}, "weight_change": 0.01}


def _score(cfg):
    """A made-up validation score: best at lr 1e-3 under rslora for LoRA-type methods, best at the largest rate for
    the linear probe (so its edge rule fires); a little seed noise."""
    noise = (cfg.seed % 3) * 0.1
    if cfg.method == "linear_probe":
        return 50 + 1000 * cfg.lr + noise
    return 80 - abs(cfg.lr - 1e-3) * 1000 + (5 if cfg.scaling == "rslora" else 0) + noise


def _run_all(state, records):
    for cfg in state.configs():
        records.setdefault(config_key(cfg), _record(cfg, _score(cfg)))


def test_the_shipped_grid_states_enough_rates_scalings_and_disjoint_seeds():
    settings = grid_settings("grids/tuned-study.toml")
    plan = TuningPlan.from_settings(settings)
    assert len(plan.selection_seeds) >= 3 and len(plan.confirmation_seeds) >= 10
    assert not set(plan.selection_seeds) & (set(plan.confirmation_seeds) | set(plan.primary_seeds))
    state = tuning_state(settings, {})
    assert not state.confirmation and all(v is None for v in state.chosen.values())
    for (task, method), configs in state.selection.items():
        table = selection_table(configs, {})
        assert table["lr"].nunique() >= 3, (task, method)
        rates = sorted(table["lr"].unique())
        assert all(b / a >= 2.5 for a, b in zip(rates, rates[1:])), rates  # about a factor 3 apart
        if METHOD_SPECS[method].kind == "lora":
            assert {"paper", "rslora"} <= set(table["scaling"]), (task, method)
        assert set(table["seeds"]) == {len(plan.selection_seeds)}
    assert {"textures:large-test", "lfw"} == {task for task, _ in state.selection}


def test_nothing_is_chosen_or_confirmed_while_a_candidate_lacks_a_seed(tmp_path):
    settings = _settings(tmp_path)
    records: dict = {}
    state = tuning_state(settings, records)
    _run_all(state, records)
    last = next(c for c in state.selection[("lfw", "lora")] if c.seed == 102)
    del records[config_key(last)]
    state = tuning_state(settings, records)
    assert state.chosen[("lfw", "lora")] is None
    assert not [c for c in state.confirmation if c.method == "lora"]
    assert state.chosen[("lfw", "srlora_budget")] is not None


def test_the_rule_picks_the_best_mean_and_breaks_ties_by_rate_then_scaling(tmp_path):
    settings = _settings(tmp_path)
    records: dict = {}
    state = tuning_state(settings, records)
    configs = state.selection[("lfw", "lora")]
    for cfg in configs:
        records[config_key(cfg)] = _record(cfg, _score(cfg))
    row = choose(selection_table(configs, records))
    assert (row["lr"], row["scaling"]) == (1e-3, "rslora")
    for cfg in configs:  # every candidate ties: the smaller rate, then 1/r
        records[config_key(cfg)] = _record(cfg, 90.0)
    row = choose(selection_table(configs, records))
    assert (row["lr"], row["scaling"]) == (1e-4, "paper")
    records[config_key(configs[0])]["val"]["accuracy"] = 89.0
    with pytest.raises(SrLoraError, match="seeds still to run"):
        choose(selection_table(configs, {}))


def test_a_choice_at_the_grids_edge_runs_one_more_rate_once(tmp_path):
    settings = _settings(tmp_path)
    records: dict = {}
    for _ in range(4):  # a study run to the end in rounds, as a resumed queue would
        state = tuning_state(settings, records)
        _run_all(state, records)
    state = tuning_state(settings, records)
    assert ("lfw", "linear_probe") in state.edge and ("lfw", "lora") not in state.edge
    edge = state.edge[("lfw", "linear_probe")]
    assert [c.lr for c in edge] == pytest.approx([3e-2] * 3) and {c.seed for c in edge} == {100, 101, 102}
    chosen = state.chosen[("lfw", "linear_probe")]
    assert chosen["lr"] == pytest.approx(3e-2)  # the edge rate wins; no further rate is asked for
    assert all(c.lr <= 3e-2 + 1e-12 for c in state.configs() if c.method == "linear_probe")


def test_confirmation_runs_the_chosen_setting_on_its_own_seeds(tmp_path):
    settings = _settings(tmp_path)
    records: dict = {}
    for _ in range(4):
        state = tuning_state(settings, records)
        _run_all(state, records)
    state = tuning_state(settings, records)
    confirm = {}
    for c in state.confirmation:
        confirm.setdefault((c.method, c.shots), []).append(c)
    assert sorted(c.seed for c in confirm[("lora", 5)]) == [0, 1, 2, 3, 4]  # the primary pair's seeds
    assert sorted(c.seed for c in confirm[("linear_probe", 5)]) == [0, 1, 2]
    assert sorted(c.seed for c in confirm[("lora", 1)]) == [0, 1, 2, 3, 4]  # fewer shots, lora only
    assert ("srlora_budget", 1) not in confirm
    shuffled, budget = confirm[("srlora_shuffled", 5)][0], confirm[("srlora_budget", 5)][0]
    assert dataclasses.replace(shuffled, method="srlora_budget") == budget  # placement is all that differs
    for c in confirm[("lora", 5)]:
        assert (c.lr, c.scaling) == (1e-3, "rslora") and c.peers == "authors" and c.select_after_warmup
    assert not {c.seed for c in state.confirmation} & {100, 101, 102}


def test_the_queue_takes_confirmation_first_then_method_by_method(tmp_path):
    settings = _settings(tmp_path)
    records: dict = {}
    state = tuning_state(settings, records)
    for cfg in state.selection[("lfw", "lora")]:
        records[config_key(cfg)] = _record(cfg, _score(cfg))
    order = tuning_state(settings, records).configs()
    assert order[0].method == "lora" and order[0].seed in (0, 1, 2, 3, 4)
    methods = [c.method for c in order if c.seed >= 100]
    assert methods == sorted(methods, key=["lora", "srlora_budget", "linear_probe"].index)


@pytest.mark.parametrize(
    "extra, match",
    [
        ("surprise = 1", "unknown keys"),
        ("edge_factor = -3", "not a positive number"),
    ],
)
def test_a_malformed_tuning_table_fails_in_one_line(tmp_path, extra, match):
    with pytest.raises(SrLoraError, match=match):
        TuningPlan.from_settings(_settings(tmp_path, extra))


def test_overlapping_selection_and_confirmation_seeds_are_refused(tmp_path):
    path = tmp_path / "tuned.toml"
    path.write_text(
        GRID.replace("{extra}", "").replace("confirmation_seeds = [0, 1, 2]", "confirmation_seeds = [0, 100]")
    )
    with pytest.raises(SrLoraError, match="both selection and confirmation seeds"):
        TuningPlan.from_settings(grid_settings(str(path)))
