"""The SR-LoRA method itself: stable rank and the other spectral measures (``spectral``), the profile of a model or
a checkpoint's matrices (``profile``, ``checkpoint``), rank allocation (``allocation``), the PEFT config that
carries the ranks (``peft_config``), the split of fused qkv layers (``qkv``) and the ranks shipped with the
official code (``official``). Start reading here. Every name below is imported on first use.

May import: errors, lazy
"""

from ..lazy import lazy_exports

_LAZY = {
    **{n: "spectral" for n in ("stable_rank", "certified_stable_rank", "effective_rank", "numerical_rank",
                               "singular_values", "spectral_summary", "marchenko_pastur_stable_rank",
                               "official_stable_rank")},
    **{n: "profile" for n in ("spectral_profile", "random_matrix_check", "TARGETS")},
    **{n: "checkpoint" for n in ("checkpoint_profile", "checkpoint_lora_config", "offline_text_checkpoint")},
    **{n: "allocation" for n in ("allocate_ranks", "discordant_pairs", "lora_parameter_count", "uniform_budget",
                                 "RULES", "rank_table")},
    "srlora_config": "peft_config",
    **{n: "qkv" for n in ("split_qkv", "is_split", "SplitQKV")},
    **{n: "official" for n in ("OFFICIAL_VITB16_RANKS", "official_vitb16_ranks", "official_vitb16_shapes",
                               "official_rule_ranks")},
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
__all__ = list(_LAZY)
