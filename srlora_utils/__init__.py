"""SR-LoRA reference kit: stable-rank-guided LoRA rank allocation (arXiv 2507.00327).

The public names below are the whole API; see the notebooks for a guided tour.
"""

import warnings

# tqdm.auto (imported by huggingface_hub) warns on stderr in notebooks without ipywidgets; its text
# progress bars work fine, and the warning would carry a machine-specific path into stored outputs.
warnings.filterwarnings("ignore", message="IProgress not found")

from .allocation import RULES, allocate_ranks, lora_parameter_count, uniform_budget
from .backbones import OFFLINE_BACKBONE, PAPER_BACKBONE, load_backbone
from .errors import BackboneUnavailableError, SrLoraError
from .peft_config import srlora_config
from .profile import TARGETS, spectral_profile
from .qkv import SplitQKV, is_split, split_qkv
from .spectral import effective_rank, numerical_rank, singular_values, spectral_summary, stable_rank

__version__ = "0.1.0"

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
]
