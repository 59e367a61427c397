"""The lessons' parameters: what each name in a ``parameters`` cell accepts (:data:`PARAMETERS`), checked at the
lesson's first code cell by :func:`check_parameters`, so that a wrong type or value stops there in one line (numbers
by the ranges of :mod:`srlora_utils.checks`)."""

from __future__ import annotations

from ..checks import OPTION_BOUNDS, RUN_BOUNDS, Bound
from ..errors import SrLoraError


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
    from ..training.methods import METHODS

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
    from ..core.profile import TARGETS

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
            raise SrLoraError(
                f"check_parameters does not know the parameter {name!r}: add it to PARAMETERS in "
                "srlora_utils/experiments/parameters.py"
            )
        PARAMETERS[name](name, value)
