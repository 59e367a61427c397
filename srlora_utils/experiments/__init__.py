"""How the lessons' runs are launched: presets of settings and grid files (``presets``, ``grids``), sweeps and their
launch on local jobs, shards or SLURM (``sweeps``, ``launch``), the tuned protocol's stages (``tuning``), the raw-pixel
baselines (``baselines``), the gap ladder's domain gap (``domain_gap``) and the lessons' shipped runs (``lesson_runs``).
How runs are read is the layer above, :mod:`srlora_utils.analysis`. The names the lessons use are offered here, imported
on first use.

May import: errors, lazy, core, models, data, training, plotting

"""

from ..lazy import lazy_exports

_LAZY = {
    **{n: "presets" for n in ("CORE_METHODS", "notebook_settings", "preset")},
    **{n: "grids" for n in ("base_config", "example_task", "grid_configs", "grid_settings", "grid_tasks", "task_exps")},
    **{n: "sweeps" for n in ("first_repeat", "run_configs", "run_sweep", "runs_table", "summary_table")},
    **{n: "lesson_runs" for n in ("LESSON_RECORDS", "lesson_records", "recheck")},
    **{n: "tuning" for n in ("TuningPlan", "chosen_table", "run_tuned", "selection_table", "tuning_state")},
    **{n: "domain_gap" for n in ("GAP_DEFINITION", "gap_of_images", "measure_gap", "measure_gaps", "read_gaps")},
    "baseline_table": "baselines",
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
__all__ = list(_LAZY)
