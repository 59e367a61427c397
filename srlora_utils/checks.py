"""What values the kit accepts: each number's type and range (:class:`Bound`), stated once and used by the run's
config (:class:`~srlora_utils.training.config.TrainConfig`), the command line's options and the lessons' parameters,
so that all three refuse a bad value in the same one line, before any work. ``docs/checks.md`` lists them (a test
compares it with :func:`srlora_utils.cli.checks_table`). Imports nothing but the errors: names and combinations are
checked in :func:`srlora_utils.training.run.check_config`, the lessons' parameters in
:mod:`srlora_utils.experiments.parameters`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import SrLoraError

#: The largest seed: numpy's generators take 32-bit seeds.
MAX_SEED = 2**32 - 1
#: The largest image side accepted: a ViT's attention at 2048 px already holds tens of thousands of tokens.
MAX_IMG_SIZE = 2048
#: The offline backbone's patch side in px (DINOv2 ViT-S/14): the smallest image it can see.
OFFLINE_PATCH = 14


@dataclass(frozen=True)
class Bound:
    """A number's type (``int`` or ``float``) and closed range ``[low, high]`` (``low_open``: ``low`` itself is
    refused); ``why`` follows the range in the error (what the value means, or what a refused value would do)."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    why: str = ""

    def describe(self) -> str:
        """The range in words: "a whole number from 1 to 2048", "a finite number above 0"."""
        noun = "a whole number" if self.kind is int else "a finite number"
        fmt = (lambda v: f"{v:,}") if self.kind is int else (lambda v: f"{v:g}")
        if self.low is not None and self.high is not None and self.low_open:
            return f"{noun} above {fmt(self.low)} and at most {fmt(self.high)}"
        if self.low is not None and self.high is not None:
            return f"{noun} from {fmt(self.low)} to {fmt(self.high)}"
        if self.low is not None:
            return f"{noun} {'above' if self.low_open else 'of at least'} {fmt(self.low)}"
        return noun

    def accepts(self, value: object) -> bool:
        """Whether ``value`` has the type and lies in the range (a bool is not a number here; NaN and inf never
        are)."""
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if self.kind is float and not isinstance(value, int | float):
            return False
        number = float(value) if self.kind is float else value  # type: ignore[arg-type]
        if self.kind is float and not math.isfinite(number):  # type: ignore[arg-type]
            return False
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):  # type: ignore
            return False
        return self.high is None or number <= self.high  # type: ignore[operator]

    def message(self, name: str, value: object) -> str:
        """The one-line error for ``name = value``."""
        verb = "is text, not" if isinstance(value, str) else "must be"
        return f"{name}={value!r} {verb} {self.describe()}" + (f": {self.why}" if self.why else "")

    def check(self, name: str, value: object) -> None:
        """One-line :class:`SrLoraError` unless :meth:`accepts` ``value``."""
        if not self.accepts(value):
            raise SrLoraError(self.message(name, value))

    def parse(self, text: str) -> int | float:
        """A command-line value: ``text`` read as this type and checked (``ValueError`` with the message
        otherwise, which argparse prints as one line)."""
        try:
            value: int | float = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {self.describe()}") from None
        if not self.accepts(value):
            raise ValueError(f"{text} is not {self.describe()}" + (f": {self.why}" if self.why else ""))
        return value


#: The numbers of a run (:class:`~srlora_utils.training.config.TrainConfig`'s fields): checked when a config is made.
RUN_BOUNDS: dict[str, Bound] = {
    "shots": Bound(int, 1, 10_000, why="K examples per class in the training split"),
    "seed": Bound(int, 0, MAX_SEED, why="numpy's generators take 32-bit seeds"),
    "exp": Bound(int, 1, 100, why="MedFMC's official split (1-5)"),
    "img_size": Bound(
        int,
        8,
        MAX_IMG_SIZE,
        why="the image side in px (and at least one patch of the backbone: 14 px "
        "for the offline ViT-S/14, checked when the run starts)",
    ),  # fmt: skip
    "medmnist_size": Bound(int, 28, 224, why="a MedMNIST+ archive: 28, 64, 128 or 224"),
    "epochs": Bound(int, 1, 100_000),
    "batch_size": Bound(int, 1, 100_000),
    "lr": Bound(
        float,
        0,
        10,
        low_open=True,
        why="the optimiser's step size (0 would train nothing); e.g. 1e-3, or unset for the method's own",
    ),
    "weight_decay": Bound(float, 0, 10, why="AdamW's decoupled weight decay, e.g. 0.05"),
    "warmup_iters": Bound(int, 0, 10_000_000, why="linear warm-up steps (0: none)"),
    "grad_clip": Bound(float, 0, 1e6, why="a gradient norm (0: no clipping)"),
    "r": Bound(int, 1, 4096, why="LoRA's uniform rank (and at most the adapted matrices' size)"),
    "workers": Bound(int, 0, 64, why="data-loading processes per run (0: the main process)"),
}
#: Fields of a run that are text (or None), and fields that are True or False.
RUN_TEXT = ("task", "method", "backbone", "augment", "normalize", "scaling", "peers", "eval_rank", "root", "device")
RUN_FLAGS = ("eva_whiten", "select_after_warmup")
#: Fields that may be None (the field's meaning of None is in FIELD_HELP).
RUN_OPTIONAL = ("exp", "backbone", "lr", "root")

#: Numbers of the command line that are not fields of a run.
OPTION_BOUNDS: dict[str, Bound] = {
    "jobs": Bound(int, 1, 64, why="local worker processes (about one per core)"),
    "budget": Bound(int, 1, why="a LoRA parameter budget"),
    "r_min": Bound(int, 1, 4096, why="the smallest rank the budget rule gives"),
    "r_max": Bound(int, 1, 4096, why="the largest rank (at most the matrix size)"),
    "size": Bound(int, 8, 512, why="the fixtures' image side in px"),
}


def check_run_values(values: dict[str, object]) -> None:
    """One-line :class:`SrLoraError` for the first field of a run's ``values`` (TrainConfig's fields by name) whose
    type or range is wrong; names are checked by :func:`srlora_utils.training.run.check_run_names`."""
    for name, value in values.items():
        if value is None and name in RUN_OPTIONAL:
            continue
        if name in RUN_BOUNDS:
            RUN_BOUNDS[name].check(name, value)
        elif name in RUN_TEXT and not (isinstance(value, str) and value.strip()):
            raise SrLoraError(f"{name}={value!r} must be a non-empty name" +
                              (" or None" if name in RUN_OPTIONAL else ""))  # fmt: skip
        elif name in RUN_FLAGS and not isinstance(value, bool):
            raise SrLoraError(f"{name}={value!r} must be True or False")


def patch_size(backbone: str | None) -> int | None:
    """The patch side in px of ``backbone`` when its name tells it (None or the offline name: 14; a timm ViT name:
    its ``patchN``), None otherwise (checked when the model is built)."""
    import re

    if backbone is None or backbone == "dinov2_vits14_imgfocus":
        return OFFLINE_PATCH
    found = re.search(r"patch(\d+)", str(backbone))
    return int(found.group(1)) if found else None
