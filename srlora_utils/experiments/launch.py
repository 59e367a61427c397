"""Which share of a grid this process runs, under the launchers researchers already use.

* ``--shard i/n`` given explicitly: that share (any launcher);
* under ``torchrun --nproc-per-node=N`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` set): share ``RANK/WORLD_SIZE``,
  on GPU ``LOCAL_RANK`` when CUDA is there;
* in a SLURM job array (``SLURM_ARRAY_TASK_ID``, ``SLURM_ARRAY_TASK_COUNT``, ``SLURM_ARRAY_TASK_MIN``): share
  ``(ID - MIN) / COUNT``;
* otherwise the whole grid.

Shares are every n-th run from the i-th (:func:`~srlora_utils.experiments.sweeps.shard`): deterministic, disjoint, and
together exactly the grid. No process talks to another: they share only the records location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import SrLoraError


@dataclass(frozen=True)
class WorkerShare:
    """This process's share (``i/n``, or None for the whole grid), its device (None: the run's own) and why."""

    shard: str | None
    device: str | None
    source: str


def _int_env(name: str) -> int:
    value = os.environ[name]
    if not value.isdigit():
        raise SrLoraError(f"${name}={value!r} is not a non-negative integer")
    return int(value)


def worker_share(shard: str | None = None) -> WorkerShare:
    """This process's share of a grid, from ``shard`` or the launcher's environment (see the module docstring)."""
    if shard is not None:
        return WorkerShare(shard, None, "--shard")
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "RANK" in os.environ:
        rank, world = _int_env("RANK"), _int_env("WORLD_SIZE")
        device = None
        if "LOCAL_RANK" in os.environ:
            import torch

            if torch.cuda.is_available():
                device = f"cuda:{_int_env('LOCAL_RANK') % torch.cuda.device_count()}"
        return WorkerShare(f"{rank}/{world}", device, f"torchrun rank {rank} of {world}")
    if "SLURM_ARRAY_TASK_ID" in os.environ and "SLURM_ARRAY_TASK_COUNT" in os.environ:
        task, count = _int_env("SLURM_ARRAY_TASK_ID"), _int_env("SLURM_ARRAY_TASK_COUNT")
        first = _int_env("SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in os.environ else 0
        return WorkerShare(f"{task - first}/{count}", None, f"SLURM array task {task} of {count}")
    return WorkerShare(None, None, "one process: the whole grid")
