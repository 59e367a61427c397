"""Lazy exports: a package names what it offers without importing it until first use (PEP 562), so that
``import srlora_utils`` and the command line's ``--help`` stay quick while every lesson name is one import away."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, table: dict[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import each name of ``table`` (name -> module path
    relative to ``package``) on first use and keep it in the package's ``namespace``."""

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *table})

    return __getattr__, __dir__
