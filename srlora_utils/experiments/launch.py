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
from collections.abc import Callable
from dataclasses import dataclass

from ..data.outputs import check_records
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
    return run_queue(lambda: configs, records, jobs, stop_at_perfect_val, progress)


def run_queue(
    plan: Callable[[], list[TrainConfig]], records: str, jobs: int, stop_at_perfect_val: bool = False,
    progress: bool = True,
) -> int:  # fmt: skip
    """As :func:`run_local_jobs`, for a study whose runs depend on earlier ones: each time a worker is free, ``plan()``
    is asked again (it reads the records) and its first run that is neither recorded nor running goes to that worker,
    so ``plan()``'s order is the priority and runs it adds later (a confirmation once a selection is complete) go
    ahead of the rest. ``jobs``, ``stop_at_perfect_val`` and ``progress`` as :func:`run_local_jobs`. Returns the runs
    trained."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    from tqdm.auto import tqdm

    from ..training.config import config_key
    from ..training.records import done_keys

    if jobs < 1:
        raise SrLoraError(f"--jobs {jobs}: use 1 or more local jobs")
    check_records(records)  # before the first run: no worker trains for a records location it cannot write
    from ..training.run import check_config

    for cfg in plan():  # the runs known now, names and combinations checked before the first one trains
        check_config(cfg)
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
    threads = local_threads(jobs)
    running: dict[Future, str] = {}
    submitted: set[str] = set()
    trained = 0
    bar = tqdm(total=0, desc=f"{jobs} jobs", disable=not progress)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_one_worker, initargs=(threads,)) as pool:

        def top_up() -> None:
            done, busy = done_keys(records), set(running.values())
            left = [c for c in plan() if config_key(c) not in done and config_key(c) not in busy]
            for c in left[: jobs - len(running)]:
                key = config_key(c)
                if key in submitted:  # trained, yet not in the records: never train it twice
                    raise SrLoraError(f"run {key} finished but {records} has no record of it: check the records file")
                submitted.add(key)
                running[pool.submit(_train_one, c, records, stop_at_perfect_val)] = key
            bar.total = trained + len(busy) + len(left)
            bar.refresh()

        try:
            top_up()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    del running[future]
                    future.result()
                    trained += 1
                    bar.update(1)
                top_up()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            bar.close()
    return trained
