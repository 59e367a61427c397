"""The lessons' stored outputs hold on another machine: nbval runs every lesson again, in a subprocess, under another
numerical environment and from a copy of the lessons in another folder.

The stored outputs are made by ``make refresh-notebooks`` (two threads, this machine's kernels); the suite's own nbval
run checks them with one thread per library. This second run changes what differs between two students' computers:
PyTorch's kernel set (``ATEN_CPU_CAPABILITY=default``: no AVX), the instructions MKL may use (SSE4.2 at most, as on an
older processor; on a processor with AVX-512 MKL would otherwise take other code paths) and oneDNN's (SSE4.1), one
thread for every library, and the working directory. What nbval compares must come out digit for digit the same;
numbers computed live (a run trained again) are checked by the lessons' own asserts within their stated tolerance.
``OPENBLAS_CORETYPE`` is left alone: some machines set it to avoid wrong results. ``docs/setup.md`` explains the
design."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srlora_utils.analysis.machine_check import OTHER_MACHINE, other_machine_env  # noqa: F401  (one definition)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_the_other_machine_is_another_numerical_environment():
    """PyTorch honours the settings: the kernel set is the plain one and one thread runs."""
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", probe], env=other_machine_env(), capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.split() == ["DEFAULT", "1"], out.stdout


def test_the_other_machine_keeps_the_figure_check(monkeypatch):
    monkeypatch.setenv("SRLORA_CHECK_FIGURES", "1")
    assert other_machine_env()["SRLORA_CHECK_FIGURES"] == "1"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", [p.relative_to(NOTEBOOKS).as_posix() for p in [
    *sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), *sorted((NOTEBOOKS / "appendix").glob("*.ipynb"))]])  # fmt: skip
def test_stored_outputs_hold_on_another_machine(lesson, tmp_path):
    """One lesson (or appendix notebook) per test, so that the suite's workers share them out."""
    lessons = tmp_path / "another" / "course"
    (lessons / "appendix").mkdir(parents=True)
    for name in (lesson, "nbval_sanitize.cfg"):
        shutil.copyfile(NOTEBOOKS / name, lessons / name)
    command = [
        sys.executable, "-m", "pytest", str(lessons / lesson), "--nbval", "--nbval-current-env",
        "--nbval-sanitize-with", str(lessons / "nbval_sanitize.cfg"), "-p", "no:cacheprovider", "-q",
        "--rootdir", str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=tmp_path, env=other_machine_env(), capture_output=True, text=True)
    report = proc.stdout[-12000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, f"nbval on another machine failed for {lesson}:\n{report}"
