"""Another numerical environment on the same machine (the second registration's part 6, and the lessons' second nbval
run in ``tests/test_other_machine.py``): the settings that decide which floating-point kernels run and in which order
they add, and stored runs trained again under them, each in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

#: The second machine: PyTorch's plain kernel set (no AVX), MKL at SSE4.2 at most, oneDNN at SSE4.1, one thread for
#: every library (``docs/setup.md`` explains the design).
OTHER_MACHINE = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def other_machine_env() -> dict[str, str]:
    """This process's environment as the second machine sees it: :data:`OTHER_MACHINE` on top, another hash order, and
    no data folder set (as on a student's computer)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SRLORA_DATA", "PYTEST_XDIST_WORKER")}
    return {**env, **OTHER_MACHINE, "PYTHONHASHSEED": "1"}


def retrain_drawn_runs(out: str, folder: str | None = None, jobs: int = 2) -> int:
    """Part 6: the registration's drawn runs (:func:`~srlora_utils.analysis.registration2.draw_machine_runs`) trained
    again under :func:`other_machine_env`, ``jobs`` at a time, each in a fresh interpreter, their records appended to
    ``out`` (resumes: runs already there are skipped). ``folder``: the registration's records. Returns the runs
    trained now."""
    from tqdm.auto import tqdm

    from ..data.outputs import check_records
    from ..training.records import done_keys
    from .registration2 import draw_machine_runs, load_registration2

    check_records(out)
    reg = load_registration2(folder)
    done = done_keys(out)
    left = [r["key"] for r in draw_machine_runs(reg) if r["key"] not in done]

    def one(key: str) -> None:
        command = [sys.executable, "-m", __name__, key, out] + ([folder] if folder else [])
        subprocess.run(command, env=other_machine_env(), check=True)

    with ThreadPoolExecutor(jobs) as pool:
        list(tqdm(pool.map(one, left), total=len(left), desc="other environment"))
    return len(left)


def _retrain(key: str, out: str, folder: str | None = None) -> None:
    """Train the registration's stored run ``key`` again and append its record to ``out``."""
    from ..training.run import train
    from .registration2 import load_registration2, retrained_config

    record = next(r for r in load_registration2(folder).own if r["key"] == key)
    train(retrained_config(record), records=out, progress=False)


if __name__ == "__main__":
    _retrain(*sys.argv[1:])
