"""Fine-tuning methods as one table of specifications, read by training, the CLI, sweeps, benchmarks and notebooks.

Every LoRA-type method adapts the official target (Q, V and proj of every block, after
:func:`~srlora_utils.split_qkv`) and, unless its row says otherwise, spends LoRA r=8's parameter
budget. Adding a method is one :class:`MethodSpec` row (and, for a new kind of adapter, one builder).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.allocation import allocate_ranks, lora_parameter_count
from ..core.peft_config import srlora_config
from ..core.profile import spectral_profile
from ..core.qkv import split_qkv
from ..errors import SrLoraError
from .nested import NestedRankSampler

Kind = Literal["head", "full", "lora"]
SCALINGS: tuple[str, ...] = ("paper", "rslora", "unit")
#: How the peers AdaLoRA and EVA are set up: ``study`` as the registered baseline study ran them (AdaLoRA at
#: lora_alpha 8 whatever the scaling, EVA from one batch of the training split), ``authors`` as their authors and PEFT
#: recommend (docs/peers.md: AdaLoRA's scale matched to LoRA r=8's under the run's scaling, EVA's statistics from
#: repeated augmented batches until they converge), ``scripts`` as ``authors`` except AdaLoRA, which runs as its
#: authors' GLUE scripts do (:data:`ADALORA_SCRIPTS`; the second registration, grids/registration-2/).
PEER_SETUPS: tuple[str, ...] = ("study", "authors", "scripts")


@dataclass(frozen=True)
class MethodSpec:
    """What a method is: its kind, official learning rate, how ranks are set and how the adapter is built.

    ``rule``: the rank rule before training (``uniform``, ``paper``, ``budget``, or ``shuffled``: the budget
    rule's ranks permuted across modules by the seed). ``adapter``: ``lora``, ``dora``, ``pissa``, ``adalora``
    or ``eva`` (PEFT). ``nested``: nested rank sampling during training (DyLoRA-style).
    """

    name: str
    kind: Kind
    lr: float
    summary: str
    rule: str | None = None
    adapter: str = "lora"
    nested: bool = False


#: The methods, in the order tables and figures show them. Learning rates: the official code's 1e-3 for
#: LoRA-type methods and the linear probe, 2e-5 for full fine-tuning.
METHOD_SPECS: dict[str, MethodSpec] = {
    s.name: s
    for s in (
        MethodSpec("linear_probe", "head", 1e-3, "frozen backbone, linear head"),
        MethodSpec("full_ft", "full", 2e-5, "every weight trained"),
        MethodSpec("lora", "lora", 1e-3, "LoRA r=8 (lora_alpha=1: update scaled by 1/r, as the official code)",
                   rule="uniform"),
        MethodSpec("srlora", "lora", 1e-3, "SR-LoRA, the paper's ranks round(stable rank), trained at full rank",
                   rule="paper"),
        MethodSpec("srlora_budget", "lora", 1e-3, "SR-LoRA ranks proportional to stable rank at LoRA r=8's budget",
                   rule="budget"),
        MethodSpec("srlora_nested", "lora", 1e-3, "SR-LoRA as the official code trains it: paper ranks, nested "
                   "rank sampling (evaluated at full rank)", rule="paper", nested=True),
        MethodSpec("srlora_shuffled", "lora", 1e-3, "control: srlora_budget's ranks permuted across modules (seeded)",
                   rule="shuffled"),
        MethodSpec("srlora_reversed", "lora", 1e-3, "positive control: srlora_budget's ranks in reverse stable-rank "
                   "order (the largest rank to the module of smallest stable rank)", rule="reversed"),
        MethodSpec("lora_first_quarter", "lora", 1e-3, "positive control: LoRA r=8's whole budget in the first "
                   "quarter of the blocks (rank 4r there, none elsewhere)", rule="first_quarter"),
        MethodSpec("dylora", "lora", 1e-3, "DyLoRA: uniform r=8 with nested rank sampling", rule="uniform",
                   nested=True),
        MethodSpec("dora", "lora", 1e-3, "DoRA: LoRA r=8 with weight decomposition (PEFT use_dora)", rule="uniform",
                   adapter="dora"),
        MethodSpec("pissa", "lora", 1e-3, "PiSSA: LoRA r=8 initialised from the principal singular components",
                   rule="uniform", adapter="pissa"),
        MethodSpec("adalora", "lora", 1e-3, "AdaLoRA (PEFT): initial rank 12 pruned to an average final rank of 8",
                   rule="uniform", adapter="adalora"),
        MethodSpec("eva", "lora", 1e-3, "EVA (PEFT): ranks and init from the training split's activations, r=8 "
                   "budget", rule="uniform", adapter="eva"),
    )
}  # fmt: skip
METHODS: tuple[str, ...] = tuple(METHOD_SPECS)
#: Allocations built to hurt (the second registration's positive controls): not compared as methods, so the
#: comparison presets leave them out (:data:`COMPARED_METHODS`).
POSITIVE_CONTROLS: tuple[str, ...] = ("srlora_reversed", "lora_first_quarter")
#: The methods a comparison runs: every method but the positive controls.
COMPARED_METHODS: tuple[str, ...] = tuple(m for m in METHODS if m not in POSITIVE_CONTROLS)

#: AdaLoRA's defaults (PEFT's ``AdaLoraConfig`` and the AdaLoRA paper: initial rank 1.5x the target).
ADALORA_DEFAULTS: dict[str, Any] = dict(init_r=12, lora_alpha=8, orth_reg_weight=0.5, beta1=0.85, beta2=0.85)
#: Fractions of the run's steps: warm-up before pruning (``tinit``) and final phase at a fixed budget (``tfinal``).
ADALORA_SCHEDULE = dict(tinit=0.1, tfinal=0.3, deltaT=0.02)
#: AdaLoRA as its authors' eight GLUE scripts run it (QingruZhang/AdaLoRA, ``NLU/scripts/run_debertav3_*.sh``;
#: docs/peers.md gives each script's values): initial rank twice the target (``lora_r 2`` over ``target_rank 1`` in 6
#: of 8 scripts, 3 in the other 2), update scale lora_alpha / initial rank 16 (alpha 32 over rank 2 in 4 of 8;
#: the eight span 5.3-16), orthogonality weight 0.1 (6 of 8; 0.3 in 2), pruning from 13% of the steps and a final
#: phase of 48% (the scripts' medians: 9-18% and 44-58%), and a budget step every optimiser step (the scripts step
#: every 1-100 of thousands of steps: at most 0.6% of a run). ``target_r`` stays LoRA's r: the budget.
ADALORA_SCRIPTS: dict[str, Any] = dict(init_ratio=2, scale=16.0, orth_reg_weight=0.1, tinit=0.13, tfinal=0.48)
#: EVA's defaults (PEFT's ``EvaConfig``: ranks may grow to ``rho * r``).
EVA_DEFAULTS: dict[str, Any] = dict(rho=2.0, tau=0.99)


def get_spec(method: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``method``; a one-line error names the known methods otherwise."""
    try:
        return METHOD_SPECS[method]
    except KeyError:
        raise SrLoraError(f"unknown method {method!r}: use one of {', '.join(METHODS)}") from None


@dataclass
class MethodContext:
    """What a method may need besides the backbone: the reference rank, the seed, the run's length, data.

    ``total_steps`` sets AdaLoRA's schedule; ``init_loader`` yields ``(images, labels)`` training batches
    for EVA; ``scaling``: ``paper`` (lora_alpha=1, update scaled by 1/r) or ``rslora`` (1/sqrt(r));
    ``eval_rank``: ``full`` or ``random`` (the official evaluation) for nested methods; ``peers``: one of
    :data:`PEER_SETUPS`; ``eva_whiten``: EVA's whitening.
    """

    r: int = 8
    seed: int = 0
    total_steps: int | None = None
    init_loader: Iterable | None = None
    scaling: str = "paper"
    eval_rank: str = "full"
    peers: str = "study"
    eva_whiten: bool = False


@dataclass
class AdaptedModel:
    """A model ready to train, and the per-step work its method needs.

    ``regulariser()`` is added to the loss; ``after_step(step)`` runs after each optimiser step (1-based);
    model selection may only pick epochs that end at or after ``selectable_from_step``.
    """

    model: nn.Module
    spec: MethodSpec | None  # set by prepare_method
    info: dict = field(default_factory=dict)
    regulariser: Callable[[], torch.Tensor] | None = None
    after_step: Callable[[int], None] | None = None
    selectable_from_step: int = 0
    sampler: NestedRankSampler | None = None

    def ranks(self) -> dict[str, int]:
        """Per-module ranks in use now (AdaLoRA: unpruned triplets; EVA: after redistribution)."""
        return adapter_ranks(self.model)


def method_ranks(model: nn.Module, method: str, r: int = 8, seed: int = 0) -> dict[str, int]:
    """Rank dict of a LoRA-type ``method`` on the official target (Q, V, proj) of ``model``, which must be split:
    ``r`` is the uniform rank (and the budget rules' reference), ``seed`` permutes the shuffled control's ranks."""
    rule = get_spec(method).rule
    if rule is None:
        raise SrLoraError(f"method {method!r} has no LoRA ranks")
    profile = _official_profile(model)
    if rule == "shuffled":
        return shuffled_ranks(allocate_ranks(profile, "budget", r=r), seed)
    if rule == "reversed":
        return reversed_ranks(allocate_ranks(profile, "budget", r=r), profile)
    if rule == "first_quarter":
        return first_quarter_ranks(allocate_ranks(profile, "uniform", r=r))
    return allocate_ranks(profile, cast(Any, rule), r=r)


def reversed_ranks(ranks: dict[str, int], profile: pd.DataFrame) -> dict[str, int]:
    """The same ranks given in reverse stable-rank order: the module of largest stable rank gets the smallest rank
    (a positive control: the prior turned upside down). Modules of one shape keep the budget exact."""
    stable = profile.set_index("module")["stable_rank"]
    order = sorted(ranks, key=lambda m: (float(stable[m]), m))  # ascending stable rank
    values = sorted(ranks.values(), reverse=True)  # descending rank
    out = {m: int(v) for m, v in zip(order, values)}
    return {m: out[m] for m in ranks}


def first_quarter_ranks(ranks: dict[str, int]) -> dict[str, int]:
    """LoRA's uniform ranks moved into the first quarter of the blocks (rank x4 there; the other modules are left out,
    as PEFT has no rank 0): the same budget when every module has one shape (a positive control: the whole update in
    the early blocks, where a pretrained backbone's features are most generic)."""
    blocks = sorted({_block_of(m) for m in ranks})
    keep = set(blocks[: max(1, len(blocks) // 4)])
    factor = len(blocks) / len(keep)
    if factor != int(factor):
        raise SrLoraError(f"{len(blocks)} blocks do not split into quarters: first_quarter needs a multiple of 4")
    return {m: int(r * factor) for m, r in ranks.items() if _block_of(m) in keep}


def _block_of(module: str) -> int:
    """The block index in a timm ViT module name (``blocks.3.attn.proj`` -> 3)."""
    parts = module.split(".")
    if "blocks" not in parts:
        raise SrLoraError(f"module {module!r} is not in a numbered block: first_quarter needs a timm ViT")
    return int(parts[parts.index("blocks") + 1])


_PROFILES: dict[str, pd.DataFrame] = {}


def _official_profile(model: nn.Module) -> pd.DataFrame:
    """``spectral_profile(model, "official")``, measured once per distinct attention weights: every run of a sweep
    starts from the same pretrained backbone. Keyed by a digest of those weights, so any change measures again."""
    digest, hashed = hashlib.blake2b(digest_size=16), False
    for name, p in model.named_parameters():
        if ".attn." in name:
            digest.update(name.encode())
            digest.update(p.detach().float().cpu().contiguous().numpy().tobytes())
            hashed = True
    key = digest.hexdigest()
    if not hashed:  # not a timm ViT: nothing to key on, so measure (spectral_profile says what is wrong)
        return spectral_profile(model, "official")
    if key not in _PROFILES:
        if len(_PROFILES) >= 4:
            _PROFILES.clear()
        _PROFILES[key] = spectral_profile(model, "official")
    return _PROFILES[key].copy()


def shuffled_ranks(ranks: dict[str, int], seed: int) -> dict[str, int]:
    """The same multiset of ranks assigned to the modules in a seeded random order (the placement control).

    Modules of equal shape keep the budget exact; a permutation that leaves every rank in place is redrawn.
    """
    names, values = list(ranks), np.array(list(ranks.values()))
    rng = np.random.default_rng(seed)
    for _ in range(100):
        perm = values[rng.permutation(len(values))]
        if len(set(values.tolist())) == 1 or (perm != values).any():
            return dict(zip(names, perm.tolist()))
    raise SrLoraError("could not draw a permutation that moves any rank")  # pragma: no cover


def _strip(name: str) -> str:
    return name.removeprefix("base_model.model.")


def adapter_ranks(model: nn.Module, adapter: str = "default") -> dict[str, int]:
    """Per-module rank of every LoRA layer of a PEFT model, named as in the backbone."""
    out: dict[str, int] = {}
    cfg = getattr(model, "peft_config", {}).get(adapter)
    pattern = getattr(cfg, "rank_pattern", None) or {}
    for name, module in model.named_modules():
        lora_e = getattr(module, "lora_E", None)
        if isinstance(lora_e, nn.ParameterDict) and adapter in lora_e:  # AdaLoRA: the triplets left after pruning
            keep = next((v for k, v in pattern.items() if k.startswith(_strip(name) + ".lora_E")), None)
            out[_strip(name)] = int(sum(keep)) if isinstance(keep, list) else lora_e[adapter].shape[0]
            continue
        lora_a = getattr(module, "lora_A", None)
        if isinstance(lora_a, nn.ModuleDict) and adapter in lora_a:
            out[_strip(name)] = int(cast(torch.Tensor, lora_a[adapter].weight).shape[0])
    return out


def _lora_kwargs(ctx: MethodContext) -> dict:
    if ctx.scaling not in SCALINGS:
        raise SrLoraError(f"unknown scaling {ctx.scaling!r}: use one of {', '.join(SCALINGS)}")
    return {"alpha": ctx.scaling}


def _build_lora(backbone: nn.Module, ranks: dict[str, int], ctx: MethodContext, **extra) -> AdaptedModel:
    import peft

    return AdaptedModel(peft.get_peft_model(backbone, srlora_config(ranks, **_lora_kwargs(ctx), **extra)), None)


def _build_dora(backbone, ranks, ctx) -> AdaptedModel:
    return _build_lora(backbone, ranks, ctx, use_dora=True)


def _build_pissa(backbone, ranks, ctx) -> AdaptedModel:
    # PiSSA moves the top-r singular components of each weight into A and B: the output is unchanged at start.
    return _build_lora(backbone, ranks, ctx, init_lora_weights="pissa")


def adalora_orthogonal_penalty(model: nn.Module, adapter: str = "default") -> torch.Tensor:
    """AdaLoRA's regulariser ``mean ||A A^T - I||_F, ||B^T B - I||_F`` (PEFT adds it only to outputs with ``.loss``)."""
    terms = []
    for name, p in model.named_parameters():
        if p.requires_grad and (f"lora_A.{adapter}" in name or f"lora_B.{adapter}" in name):
            cov = p @ p.T if "lora_A" in name else p.T @ p
            terms.append(torch.linalg.matrix_norm(cov - torch.eye(cov.shape[0], device=cov.device, dtype=cov.dtype)))
    return torch.stack(terms).mean()


def adalora_schedule(total_steps: int, peers: str = "study") -> dict[str, Any]:
    """AdaLoRA's ``tinit``, ``tfinal`` and ``deltaT`` from a run's total steps (:data:`ADALORA_SCHEDULE`; under
    ``peers="scripts"`` :data:`ADALORA_SCRIPTS`' fractions and a budget step every step)."""
    if total_steps < 4:
        raise SrLoraError(f"AdaLoRA needs at least 4 training steps to prune ranks, the run has {total_steps}")
    fractions = ADALORA_SCRIPTS if peers == "scripts" else ADALORA_SCHEDULE
    tinit = max(1, round(fractions["tinit"] * total_steps))
    tfinal = max(1, round(fractions["tfinal"] * total_steps))
    delta = 1 if peers == "scripts" else max(1, round(ADALORA_SCHEDULE["deltaT"] * total_steps))
    return {"tinit": tinit, "tfinal": tfinal, "deltaT": delta, "total_step": total_steps}


def adalora_init_r(ctx: MethodContext) -> int:
    """AdaLoRA's initial rank: :data:`ADALORA_DEFAULTS`' 12, or twice the target under ``peers="scripts"``."""
    return ADALORA_SCRIPTS["init_ratio"] * ctx.r if ctx.peers == "scripts" else ADALORA_DEFAULTS["init_r"]


def adalora_alpha(ctx: MethodContext) -> float:
    """AdaLoRA's ``lora_alpha``. PEFT scales its update by ``lora_alpha / init_r``; under ``peers="authors"`` the
    alpha makes that scale LoRA r's under the run's scaling (``1/r``, ``1/sqrt(r)`` or 1), so the two differ only in
    how they allocate; under ``peers="study"`` it is :data:`ADALORA_DEFAULTS`'s 8 whatever the scaling; under
    ``peers="scripts"`` the scale is the authors' scripts' 16 whatever the scaling (:data:`ADALORA_SCRIPTS`)."""
    init_r = adalora_init_r(ctx)
    if ctx.peers == "study":
        return float(ADALORA_DEFAULTS["lora_alpha"])
    if ctx.peers == "scripts":
        return ADALORA_SCRIPTS["scale"] * init_r
    return init_r * {"paper": 1 / ctx.r, "rslora": ctx.r**-0.5, "unit": 1.0}[ctx.scaling]


def _build_adalora(backbone, ranks, ctx) -> AdaptedModel:
    import peft

    if ctx.total_steps is None:
        raise SrLoraError("adalora needs the run's total number of steps (MethodContext.total_steps)")
    d, alpha = ADALORA_DEFAULTS, adalora_alpha(ctx)
    orth = ADALORA_SCRIPTS["orth_reg_weight"] if ctx.peers == "scripts" else d["orth_reg_weight"]
    cfg = srlora_config(ranks, alpha=alpha)  # the target and the head as every other LoRA method
    config = peft.AdaLoraConfig(
        target_r=ctx.r, init_r=adalora_init_r(ctx), lora_alpha=alpha,  # type: ignore[arg-type]  # a float works
        orth_reg_weight=orth,
        beta1=d["beta1"], beta2=d["beta2"], target_modules=cfg.target_modules, modules_to_save=cfg.modules_to_save,
        **adalora_schedule(ctx.total_steps, ctx.peers),
    )  # fmt: skip
    model = peft.get_peft_model(backbone, config)
    weight = config.orth_reg_weight
    return AdaptedModel(
        model,
        None,
        regulariser=lambda: weight * adalora_orthogonal_penalty(model),
        after_step=cast(Callable[[int], None], model.base_model.update_and_allocate),
        selectable_from_step=ctx.total_steps - int(config.tfinal),
    )


def _build_eva(backbone, ranks, ctx) -> AdaptedModel:
    import peft
    from peft.tuners.lora.eva import initialize_lora_eva_weights

    if ctx.init_loader is None:
        raise SrLoraError("eva needs training batches (MethodContext.init_loader) to initialise")
    eva = peft.EvaConfig(**EVA_DEFAULTS, whiten=ctx.eva_whiten)
    model = peft.get_peft_model(
        backbone, srlora_config(ranks, **_lora_kwargs(ctx), init_lora_weights="eva", eva_config=eva),
        low_cpu_mem_usage=True,
    )  # fmt: skip
    initialize_lora_eva_weights(
        model, ctx.init_loader, forward_fn=lambda m, batch: m(batch[0]), prepare_model_inputs_fn=None,
        prepare_layer_inputs_fn=None, show_progress_bar=False,
    )  # fmt: skip
    return AdaptedModel(model, None)


def update_scale(model: nn.Module, adapter: str = "default") -> float:
    """The median over adapted modules of the factor PEFT multiplies the low-rank update by (LoRA, DoRA, PiSSA, EVA:
    ``scaling``, e.g. 1/r; AdaLoRA: ``lora_alpha / init_r``): how budget-matched methods compare in step size."""
    scales = []
    for module in model.modules():
        scaling = getattr(module, "scaling", None)
        if isinstance(scaling, dict) and adapter in scaling:
            ranknum = getattr(module, "ranknum", None)
            divide = float(ranknum[adapter].item()) if isinstance(ranknum, nn.ParameterDict) else 1.0
            scales.append(float(scaling[adapter]) / divide)
    return float(np.median(scales)) if scales else float("nan")


_BUILDERS: dict[str, Callable[[nn.Module, dict[str, int], MethodContext], AdaptedModel]] = {
    "lora": _build_lora, "dora": _build_dora, "pissa": _build_pissa, "adalora": _build_adalora, "eva": _build_eva,
}  # fmt: skip


def prepare_method(backbone: nn.Module, method: str, ctx: MethodContext | None = None) -> AdaptedModel:
    """Wrap ``backbone`` (with its classifier ``head``) for ``method``, with what it may need in ``ctx`` (rank,
    seed, run length, data; :class:`MethodContext`); ``info`` records what was built.

    ``info``: ``method``, ``trainable_params``, and for LoRA-type methods ``ranks`` (initial),
    ``lora_params`` and ``init_s`` (seconds to profile, allocate, wrap and initialise).
    """
    spec, ctx = get_spec(method), ctx or MethodContext()
    if ctx.peers not in PEER_SETUPS:
        raise SrLoraError(f"unknown peers setup {ctx.peers!r}: use one of {', '.join(PEER_SETUPS)}")
    if ctx.eva_whiten and spec.adapter != "eva":
        raise SrLoraError(f"eva_whiten applies to eva, not {method!r}: drop it")
    if ctx.scaling == "unit" and spec.nested:
        raise SrLoraError(f"scaling='unit' is not defined for the nested method {method!r}: use paper or rslora")
    t0 = time.perf_counter()
    if spec.kind != "lora":
        for name, p in backbone.named_parameters():
            p.requires_grad_(spec.kind == "full" or name.startswith("head."))
        adapted = AdaptedModel(backbone, spec)
    else:
        split_qkv(backbone)
        ranks = method_ranks(backbone, method, ctx.r, ctx.seed)
        adapted = _BUILDERS[spec.adapter](backbone, ranks, ctx)
        adapted.spec = spec
        if spec.nested:
            adapted.sampler = NestedRankSampler(adapted.model, ctx.seed, ctx.eval_rank, rslora=ctx.scaling == "rslora")
        ranks = adapted.ranks()
        adapted.info.update(ranks=ranks, lora_params=lora_parameter_count(ranks, backbone),
                            update_scale=update_scale(adapted.model))  # fmt: skip
    adapted.info.update(
        method=method,
        trainable_params=sum(p.numel() for p in adapted.model.parameters() if p.requires_grad),
        init_s=time.perf_counter() - t0,
    )
    return adapted
