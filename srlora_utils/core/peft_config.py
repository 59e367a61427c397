"""Rank dicts as ``peft.LoraConfig``: exact placement through anchored, escaped per-module patterns."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from ..errors import SrLoraError

if TYPE_CHECKING:
    from peft import LoraConfig

#: ``alpha="paper"`` reproduces the official code: lora_alpha = 1, so the update is scaled by 1/r.
PAPER_ALPHA = 1.0
#: The factor each named ``alpha`` (the kit's ``scaling`` setting) multiplies a rank-r update by, as prose writes it.
SCALE_FACTORS = {"paper": "1/r", "rslora": "1/sqrt(r)", "unit": "1"}


def module_pattern(name: str) -> str:
    """A PEFT pattern key that matches exactly the module ``name`` and nothing it is a suffix of.

    PEFT matches pattern keys with ``re.match(rf"(.*\\.)?({key})$", module_name)``; the leading
    ``^`` forbids the optional prefix, and escaping keeps dots literal.
    """
    return "^" + re.escape(name)


def srlora_config(
    ranks: dict[str, int],
    alpha: str | float = "paper",
    head: str | list[str] | None = "head",
    **lora_kwargs,
) -> LoraConfig:
    """A ``LoraConfig`` putting LoRA on exactly the modules of ``ranks`` with exactly those ranks.

    ``alpha``: ``"paper"`` (lora_alpha=1, update scaled by 1/r, as the official code), ``"rslora"``
    (lora_alpha=1 with rsLoRA's 1/sqrt(r) scaling), ``"unit"`` (lora_alpha=r per module: scale 1, as PiSSA's
    authors) or a number (lora_alpha, scale alpha/r).
    ``head``: module(s) trained in full and saved with the adapter (the classifier); None for none.
    Other keyword arguments go to ``LoraConfig`` (e.g. ``lora_dropout``).
    """
    if not ranks:
        raise SrLoraError("no modules in the rank dict: allocate ranks first (allocate_ranks)")
    bad = {m: r for m, r in ranks.items() if not isinstance(r, int) or isinstance(r, bool) or r < 1}
    if bad:
        name, r = next(iter(bad.items()))
        raise SrLoraError(
            f"rank {r!r} for {name!r} is not a positive integer: leave modules with rank 0 out of the dict"
        )
    for key in ("target_modules", "rank_pattern", "r", "alpha_pattern"):
        if key in lora_kwargs:
            raise SrLoraError(f"{key} is set from the rank dict: do not pass it to srlora_config")
    if alpha == "paper":
        lora_kwargs.setdefault("lora_alpha", PAPER_ALPHA)
    elif alpha == "rslora":
        lora_kwargs.setdefault("lora_alpha", PAPER_ALPHA)
        lora_kwargs["use_rslora"] = True
    elif alpha == "unit":
        lora_kwargs["lora_alpha"] = float(Counter(ranks.values()).most_common(1)[0][0])
        lora_kwargs["alpha_pattern"] = {module_pattern(n): float(r) for n, r in ranks.items()}
    elif isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha > 0:
        lora_kwargs.setdefault("lora_alpha", float(alpha))
    else:
        raise SrLoraError(f"alpha={alpha!r}: use 'paper', 'rslora', 'unit' or a positive number")
    from peft import LoraConfig  # imported here: peft pulls in transformers (seconds)

    lora_kwargs.setdefault("lora_dropout", 0.0)
    default_r = Counter(ranks.values()).most_common(1)[0][0]
    names = sorted(ranks)
    return LoraConfig(
        r=default_r,
        target_modules="^(?:" + "|".join(re.escape(n) for n in names) + ")$",
        rank_pattern={module_pattern(n): ranks[n] for n in names if ranks[n] != default_r},
        modules_to_save=[head] if isinstance(head, str) else head,
        **lora_kwargs,
    )
