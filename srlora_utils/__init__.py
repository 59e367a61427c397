"""SR-LoRA reference kit: stable-rank-guided LoRA rank allocation (arXiv 2507.00327).

``import srlora_utils as S`` gives the method and the backbones at once, and by name (imported on first use) what
the lessons use from the layers above: the training run, the method table, the figures, the readings. Each
subpackage offers its own names the same way (``srlora_utils.core``, ``srlora_utils.experiments``, ...); the
layers are described in ``docs/library.md``, and the notebooks give a guided tour.
"""

import os
import warnings

# tqdm.auto (imported by huggingface_hub) warns on stderr in notebooks without ipywidgets; its text
# progress bars work fine, and the warning would carry a machine-specific path into stored outputs.
warnings.filterwarnings("ignore", message="IProgress not found")

from .core.allocation import RULES, allocate_ranks, lora_parameter_count, uniform_budget
from .core.peft_config import srlora_config
from .core.profile import TARGETS, spectral_profile
from .core.qkv import SplitQKV, is_split, split_qkv
from .core.spectral import effective_rank, numerical_rank, singular_values, spectral_summary, stable_rank
from .errors import BackboneUnavailableError, SrLoraError
from .figure_check import use_colour_blind_palette as _use_colour_blind_palette
from .lazy import lazy_exports
from .models.backbones import OFFLINE_BACKBONE, PAPER_BACKBONE, load_backbone

__version__ = "0.1.0"

# The course's figures: Okabe-Ito colours by default; with SRLORA_CHECK_FIGURES=1 (make test) plt.show() checks every
# figure against the course's rules first (srlora_utils.figure_check).
_use_colour_blind_palette()
if os.environ.get("SRLORA_CHECK_FIGURES") == "1":
    from .figure_check import install_figure_check

    install_figure_check()

#: Names from the layers above the method, imported on first use: name -> module (relative to this package).
_LAZY = {
    "METHODS": "training.methods",
    "METHOD_SPECS": "training.methods",
    "TrainConfig": "training.config",
    "train": "training.run",
    "read_records": "training.records",
    "load_task": "data.tasks",
    **{name: "data.gap_ladder" for name in ("draw_rung", "shuffle_tiles", "source_images")},
    "use_fixture_data": "data.fixtures",
    "check_parameters": "experiments.parameters",
    "use_data_dir": "data.paths",
    "work_dir": "data.shipped",
    "display_path": "data.shipped",
    "Reading": "analysis.readings",
    "allocation_experiment": "analysis.controlled",
    "experiment_reading": "analysis.controlled",
    **{name: "plotting" for name in (
        "plot_allocation_experiment", "plot_comparisons", "plot_gap_slope", "plot_profile", "plot_rank_allocation",
        "plot_results", "plot_selection_curves", "plot_spectra", "plot_training_curves", "show_examples", "show_ladder",
    )},
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "OFFLINE_BACKBONE",
    "PAPER_BACKBONE",
    "RULES",
    "TARGETS",
    "BackboneUnavailableError",
    "SplitQKV",
    "SrLoraError",
    "allocate_ranks",
    "effective_rank",
    "is_split",
    "load_backbone",
    "lora_parameter_count",
    "numerical_rank",
    "singular_values",
    "spectral_profile",
    "spectral_summary",
    "split_qkv",
    "srlora_config",
    "stable_rank",
    "uniform_budget",
    *_LAZY,
]
