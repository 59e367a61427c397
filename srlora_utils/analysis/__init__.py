"""How the lessons' runs are read: paired comparisons and their intervals (``comparison``), results in words
(``readings``), the training notebooks' study (``study``), notebook 05's baseline study (``baseline_study``) and its
tuned protocol beside it (``tuned_study``, ``tuned_readings``), the paper's reproduction (``report``, ``protocol``,
``reference``), the controlled allocation experiment (``controlled``), the gap ladder's question 6 (``gap_ladder``)
and the second registration (``registration2``). Runs are launched by the layer below,
:mod:`srlora_utils.experiments`. The names the lessons use are offered here, imported on first use.

May import: errors, lazy, core, models, data, training, plotting, experiments

"""

from ..lazy import lazy_exports

_LAZY = {
    **{n: "study" for n in ("adaptation_gain", "allocation_summary", "rank_allocations", "run_study")},
    **{n: "comparison" for n in ("allocation_atlas", "cost_table", "paired_differences", "random_rank_evaluation")},
    **{n: "baseline_study" for n in (
        "StudyDesign", "cell_table", "comparison_table", "design_table", "official_scaling", "read_design",
        "read_multiplicity", "read_power", "read_question", "seconds_per_run", "steps_table", "study_files",
        "study_pixel_baselines", "study_wall_time")},
    **{n: "readings" for n in ("Reading", "lesson_takeaways", "read_baselines", "read_fixture_results", "read_gain",
                               "read_random_rank", "read_ranking", "read_spearman")},
    **{n: "tuned_study" for n in (
        "Protocols", "cell_means", "last_epoch_table", "load_protocols", "progress_table", "protocol_table",
        "q3_power_table", "read_protocol_changes", "scale_table", "selection_curves", "study_state",
        "winners_curse_table")},
    **{n: "tuned_readings" for n in (
        "read_last_epoch", "read_q3_power", "read_q4_scaling", "read_selected_epochs", "read_shared_setting",
        "read_test_resolution", "read_ties", "read_weak_references", "read_winners_curse")},
    **{n: "gap_ladder" for n in ("Ladder", "gap_slope", "leverage_table", "load_ladder", "read_framing", "read_q6",
                                 "rung_table")},
    **{n: "registration2" for n in (
        "Registration2", "adalora_table", "image_bootstrap", "load_registration2", "long_schedule_table",
        "machine_table", "positive_control_table", "q6_table", "read_control", "read_q6_rungs", "read_rule_agreement",
        "rule_agreement", "rung_points", "selection_pool_table", "verdict_table", "MARGIN", "as_comparisons",
        "compute_table", "draw_machine_runs", "read_answer", "read_official_last_epoch", "side_by_side")},
    **{n: "report" for n in ("format_report", "plot_medfmc_auc", "select_records")},
    **{n: "protocol" for n in ("compute_plan", "data_check", "grid_commands", "measure_step",
                               "protocol_differences")},
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
__all__ = list(_LAZY)
