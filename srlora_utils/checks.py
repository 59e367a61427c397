"""What values the kit accepts: each number's type and range (:class:`Bound`), stated once and used by the run's
config (:class:`~srlora_utils.training.config.TrainConfig`), the command line's options and the lessons' parameters,
so that all three refuse a bad value in the same one line, before any work. ``docs/checks.md`` lists them (a test
compares it with :func:`checks_table`). Imports nothing heavy."""

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
    type or range is wrong; names are checked by :func:`check_run_names`."""
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


def check_run_names(values: dict[str, object]) -> None:
    """One-line :class:`SrLoraError` for a run's names and combinations: method, task, augmentation, normalisation,
    scaling, peers, evaluation rank, MedMNIST size, MedFMC split, and the image size against the backbone's patch."""
    from .data.images import AUGMENTATIONS
    from .data.tasks import check_exp, task_options
    from .models.normalization import NORMALIZATIONS
    from .training.methods import PEER_SETUPS, SCALINGS, get_spec
    from .training.nested import EVAL_RANKS

    spec = get_spec(str(values["method"]))
    for name, allowed in (("augment", AUGMENTATIONS), ("normalize", NORMALIZATIONS), ("scaling", SCALINGS),
                          ("peers", PEER_SETUPS), ("eval_rank", EVAL_RANKS)):  # fmt: skip
        if values[name] not in allowed:
            noun = "augmentation" if name == "augment" else name
            raise SrLoraError(f"unknown {noun} {values[name]!r}: use one of {', '.join(allowed)}")
    check_exp(str(values["task"]), values["exp"])  # type: ignore[arg-type]
    task_options(str(values["task"]), values["medmnist_size"])  # type: ignore[arg-type]
    if values["eval_rank"] == "random" and not spec.nested:
        raise SrLoraError(f"eval_rank='random' needs a nested method (srlora_nested, dylora), not {values['method']!r}")
    if values["eva_whiten"] and spec.adapter != "eva":
        raise SrLoraError(f"eva_whiten applies to eva, not {values['method']!r}: drop it")
    patch = patch_size(values["backbone"])  # type: ignore[arg-type]
    if patch is not None and values["img_size"] < patch:  # type: ignore[operator]
        raise SrLoraError(f"img_size={values['img_size']} is smaller than one {patch} px patch of the backbone: "
                          f"pass img_size={patch} or more")  # fmt: skip
    device = str(values["device"])
    import re

    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise SrLoraError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps")


def _options_by_bound() -> dict[int, list[str]]:
    """The command-line options that read each :class:`Bound` (by ``id``), as ``srlora <command> --option``."""
    import argparse

    from .cli import build_parser

    found: dict[int, list[str]] = {}
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        for action in sub._actions:
            bound = getattr(action.type, "bound", None)
            if bound is not None:
                found.setdefault(id(bound), []).append(f"`{name} {action.option_strings[-1]}`")
    return found


def checks_table() -> list[dict[str, str]]:
    """The kit's number checks, a row each: the value, the options that read it, what it accepts, and the message a
    refused value gets (``docs/checks.md`` holds this table; a test compares them)."""
    options = _options_by_bound()
    rows = []
    for bounds, where in ((RUN_BOUNDS, "TrainConfig, grids"), (OPTION_BOUNDS, "")):
        for name, bound in bounds.items():
            low = bound.low if bound.low is not None else 0
            bad = bound.kind(low if bound.low_open else low - 1)
            given = ", ".join(filter(None, [where, *options.get(id(bound), [])]))
            rows.append({"value": name, "given by": given, "accepts": bound.describe(),
                         "message for a refused value": bound.message(name, bad)})  # fmt: skip
    return rows


def checks_markdown() -> str:
    """:func:`checks_table` as the Markdown table ``docs/checks.md`` holds."""
    rows = checks_table()
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row[k].replace("|", "\\|") for k in head) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _whole_numbers(name: str, value: object, bound: Bound) -> None:
    """A list parameter (``seeds``, ``shots``, ``exps``): a list of whole numbers in ``bound``'s range."""
    example = int(bound.low or 0) + (1 if bound.low_open else 0)
    if isinstance(value, str):
        raise SrLoraError(f"{name}={value!r} is text, not a list of whole numbers: pass {name}=[{example}] "
                          f"(papermill's -p passes text; use -y '{name}: [{example}]')")  # fmt: skip
    if not isinstance(value, list | tuple) or not value:
        raise SrLoraError(f"{name}={value!r} must be a non-empty list of whole numbers, e.g. {name}=[{example}]")
    for item in value:
        bound.check(f"{name} item", item)


def _choice(allowed: tuple[str, ...] | list[str]):
    def check(name: str, value: object) -> None:
        if value not in allowed:
            raise SrLoraError(f"unknown {name} {value!r}: use one of {', '.join(map(str, allowed))}")

    return check


def _optional_text(name: str, value: object) -> None:
    import os

    if value is not None and not (isinstance(value, str | os.PathLike) and str(value).strip()):
        raise SrLoraError(f"{name}={value!r} must be a name or a path (text), or None")


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise SrLoraError(f"{name}={value!r} must be True or False (papermill: -p {name} True)")


def _methods(name: str, value: object) -> None:
    from .training.methods import METHODS

    if value is None:
        return
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise SrLoraError(f"{name}={value!r} must be a non-empty list of methods, e.g. {name}=['lora', 'srlora'] "
                          f"(papermill: -y \"{name}: [lora, srlora]\")")  # fmt: skip
    for method in value:
        _choice(METHODS)("method", method)


def _number(bound: Bound, optional: bool = False):
    def check(name: str, value: object) -> None:
        if not (optional and value is None):
            bound.check(name, value)

    return check


def _targets(name: str, value: object) -> None:
    from .core.profile import TARGETS

    _choice(TARGETS)(name, value)


def _list(bound: Bound):
    def check(name: str, value: object) -> None:
        if value is not None:
            _whole_numbers(name, value, bound)

    return check


#: Every lesson parameter (the ``parameters`` cells) and what it accepts.
PARAMETERS = {
    "seed": _number(RUN_BOUNDS["seed"]),
    "rank": _number(RUN_BOUNDS["r"]),
    "alpha": _number(Bound(float, 0, 1e6, low_open=True, why="LoRA's alpha (the update is scaled by alpha / r)")),
    "random_size": _number(Bound(int, 2, 4096, why="the side of the random square matrices")),
    "backbone": _optional_text,
    "target": _targets,
    "r": _number(RUN_BOUNDS["r"]),
    "r_min": _number(OPTION_BOUNDS["r_min"]),
    "preset": _choice(("offline", "tutorial", "paper")),
    "task": _optional_text,
    "seeds": _list(RUN_BOUNDS["seed"]),
    "exps": _list(RUN_BOUNDS["exp"]),
    "shots": _list(RUN_BOUNDS["shots"]),
    "epochs": _number(RUN_BOUNDS["epochs"], optional=True),
    "img_size": _number(RUN_BOUNDS["img_size"], optional=True),
    "methods": _methods,
    "records": _optional_text,
    "rerun": _flag,
    "tiny": _flag,
    "measure_paper_step": _flag,
    "data_root": _optional_text,
    "data": _choice(("fixture", "real")),
    "grid": _optional_text,
    "gaps": _optional_text,
    "check_gap": _optional_text,
    "official_records": _optional_text,
    "tuned_records": _optional_text,
}


def check_parameters(**parameters: object) -> None:
    """A lesson's parameters checked at its first cell (one-line :class:`SrLoraError` naming the parameter and a
    value to use), so that a wrong type or value, such as ``shots="[0]"`` from papermill's ``-p``, stops there and
    not deep inside numpy or torch."""
    for name, value in parameters.items():
        if name not in PARAMETERS:
            raise SrLoraError(f"check_parameters does not know the parameter {name!r}: add it to checks.PARAMETERS")
        PARAMETERS[name](name, value)
