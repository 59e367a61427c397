"""Nested rank sampling (DyLoRA, and the official SR-LoRA training mode) on PEFT LoRA layers.

Written by hand: PEFT has no DyLoRA. During training, every forward pass draws, per adapted module,
a rank ``b`` uniformly from ``1..r`` and keeps only the first ``b`` components of LoRA's ``A x``, with
the update rescaled from ``1/r`` to ``1/b`` (the official code: ``b ~ U{0..r-1}``, ``b+1`` components,
scale ``1/(b+1)``). Evaluation uses the full rank unless ``eval_rank="random"``, which reproduces the
official evaluation (a random rank at test time, a defect) so that its effect can be measured.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import SrLoraError

EVAL_RANKS: tuple[str, ...] = ("full", "random")


class NestedRankSampler:
    """Forward hooks on every LoRA ``A`` of ``model`` (adapter ``adapter``) that sample nested ranks.

    ``seed`` fixes the sequence of sampled ranks; ``rslora`` keeps rsLoRA's ``1/sqrt(b)`` scaling
    instead of ``1/b``. ``last_ranks`` holds the rank each module used in its latest forward pass.
    """

    def __init__(
        self, model: nn.Module, seed: int = 0, eval_rank: str = "full", rslora: bool = False, adapter: str = "default"
    ) -> None:
        if eval_rank not in EVAL_RANKS:
            raise SrLoraError(f"unknown eval_rank {eval_rank!r}: use one of {', '.join(EVAL_RANKS)}")
        self.eval_rank, self.rslora = eval_rank, rslora
        self.generator = torch.Generator().manual_seed(seed)
        self.last_ranks: dict[str, int] = {}
        self._handles = []
        for name, module in model.named_modules():
            lora_a = getattr(module, "lora_A", None)
            if isinstance(lora_a, nn.ModuleDict) and adapter in lora_a:
                self._handles.append(lora_a[adapter].register_forward_hook(self._hook(name)))
        if not self._handles:
            raise SrLoraError("no LoRA layers found: apply peft.get_peft_model before nested rank sampling")

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> torch.Tensor | None:
            if not module.training and self.eval_rank == "full":
                self.last_ranks[name] = out.shape[-1]
                return None
            r = out.shape[-1]
            b = int(torch.randint(1, r + 1, (1,), generator=self.generator))
            self.last_ranks[name] = b
            factor = math.sqrt(r / b) if self.rslora else r / b  # PEFT scales by 1/r (1/sqrt(r)); now 1/b
            mask = torch.zeros(r, dtype=out.dtype, device=out.device)
            mask[:b] = factor
            return out * mask

        return hook

    def reseed(self, seed: int) -> None:
        """Restart the sequence of sampled ranks from ``seed``."""
        self.generator.manual_seed(seed)

    def remove(self) -> None:
        """Remove the hooks: the model is plain LoRA again."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
