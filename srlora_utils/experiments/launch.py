"""Which share of a grid this process runs, under the launchers researchers already use.

* ``--shard i/n`` given explicitly: that share (any launcher);
* under ``torchrun --nproc-per-node=N`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` set): share ``RANK/WORLD_SIZE``,
  on GPU ``LOCAL_RANK`` when CUDA is there;
* in a SLURM job array (``SLURM_ARRAY_TASK_ID``, ``SLURM_ARRAY_TASK_COUNT``, ``SLURM_ARRAY_TASK_MIN``): share
  ``(ID - MIN) / COUNT``;
* otherwise the whole grid.

Shares are every n-th run from the i-th (:func:`~srlora_utils.experiments.sweeps.shard`): deterministic, disjoint, and
together exactly the grid. No process talks to another: they share only the records location.

On one machine, ``srlora sweep --jobs N`` (:func:`run_local_jobs`) does better than N fixed shares: N worker processes
take the grid's runs from one queue, each the next run as soon as it finishes one, so no worker idles while runs
remain (fixed shares of unequal runs leave cores idle at the end).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import SrLoraError
from ..training.config import TrainConfig


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


def _one_worker(threads: int) -> None:
    """A local job's start: its share of the machine's cores, set before torch (and its thread pools) load."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _train_one(cfg: TrainConfig, records: str, stop_at_perfect_val: bool) -> None:
    from ..training.run import train

    train(cfg, records=records, progress=False, stop_at_perfect_val=stop_at_perfect_val)


def local_threads(jobs: int) -> int:
    """Threads per local job: the machine's cores split evenly (two busy threads on one core slow both)."""
    return max(1, (os.cpu_count() or 1) // jobs)


def run_local_jobs(
    configs: list[TrainConfig], records: str, jobs: int, stop_at_perfect_val: bool = False, progress: bool = True
) -> int:
    """Train the runs of ``configs`` that ``records`` lacks on ``jobs`` local worker processes fed from one queue, in
    the grid's order, with :func:`local_threads` threads each; every run is recorded by the worker that trained it (the
    records are safe for concurrent writers), so an interrupted sweep resumes from them. ``stop_at_perfect_val`` as
    :func:`~srlora_utils.training.run.train`; ``progress`` shows one bar over the runs. Returns the runs trained; the
    first failure stops the queue and is raised."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from ..training.config import config_key
    from ..training.records import done_keys

    if jobs < 1:
        raise SrLoraError(f"--jobs {jobs}: use 1 or more local jobs")
    done = done_keys(records)
    left = [c for c in configs if config_key(c) not in done]
    if not left:
        return 0
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
    threads = local_threads(jobs)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_one_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(_train_one, c, records, stop_at_perfect_val) for c in left]
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc=f"{jobs} jobs", disable=not progress):
                future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return len(left)
