"""The kit without its repository: what a wheel ships (lessons, grids, the study's records), where an installed kit
reads and writes, ``srlora lessons``, and the wheel itself installed in a fresh environment running lessons 01-02."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
import tomllib
from pathlib import Path

import nbformat
import pytest

from srlora_utils.cli import main
from srlora_utils.data import shipped
from srlora_utils.data.paths import DATA_ENV, data_dir, use_data_dir
from srlora_utils.errors import SrLoraError
from srlora_utils.experiments.baseline_study import study_files

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [
    "01_stable_rank_theory", "02_rank_allocation", "03_medical_fewshot", "04_remote_sensing_fewshot",
    "05_baseline_comparison", "06_reproduce_paper",
]  # fmt: skip
#: Lessons 01 and 02 at cheap papermill parameters (the only papermill run of 01-02 with injected parameters).
CHEAP = {"01_stable_rank_theory.ipynb": {"random_size": 128, "seed": 1},
         "02_rank_allocation.ipynb": {"r": 4, "target": "qv_separate"}}  # fmt: skip


def test_the_wheel_lists_every_subpackage_and_maps_the_shipped_folders():
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    code = set(find_packages(str(ROOT), include=["srlora_utils", "srlora_utils.*"]))
    assert code <= listed, f"add {sorted(code - listed)} to [tool.setuptools] packages in pyproject.toml"
    mapped = {k: v for k, v in config["package-dir"].items() if k.startswith("srlora_utils._kit.")}
    assert listed - code == set(mapped)
    for package, folder in mapped.items():  # the wheel's srlora_utils/_kit/ mirrors the repository's layout
        assert package.removeprefix("srlora_utils._kit.") == folder and (ROOT / folder).is_dir()
    assert {Path(p).name for p in shipped.lesson_files()} == {f"{n}.{e}" for n in LESSONS for e in ("ipynb", "py")} | {
        "jupytext.toml"
    }


def test_a_checkout_reads_and_writes_its_own_folders():
    assert shipped.checkout_dir() == ROOT
    assert study_files("offline") == (ROOT / "grids" / "baseline-study.toml",
                                      ROOT / "results" / "baseline-study" / "records.jsonl")  # fmt: skip
    assert study_files("tutorial")[1] == ROOT / "results" / "baseline-study-tutorial.jsonl"
    assert shipped.work_dir("fixtures") == ROOT / "build" / "fixtures"  # where notebook 06 wrote them before


def test_an_installed_kit_reads_the_package_and_writes_under_the_current_folder(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "srlora_utils" / "_kit"
    for rel in ("grids", "results/baseline-study", "notebooks"):
        shutil.copytree(ROOT / rel, package / rel, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(shipped, "checkout_dir", lambda: None)
    monkeypatch.setattr(shipped, "PACKAGED", package)
    monkeypatch.chdir(tmp_path)
    grid, records = study_files("offline")
    assert (grid, records) == (package / "grids" / "baseline-study.toml",
                               package / "results" / "baseline-study" / "records.jsonl")  # fmt: skip
    assert study_files("paper")[1] == tmp_path / "results" / "baseline-study-paper.jsonl"
    assert study_files("offline", rerun=True)[1].parent == tmp_path / "build" / "baseline-study-offline-rerun"
    assert shipped.work_dir("fixtures") == tmp_path / "build" / "fixtures"
    assert shipped.lesson_files()[0] == package / "notebooks" / "01_stable_rank_theory.ipynb"
    (package / "results" / "baseline-study" / "records.jsonl").unlink()
    with pytest.raises(SrLoraError, match=r"records .* are missing: restore them by reinstalling the package"):
        study_files("offline")


def test_data_root_sets_the_data_folder_and_none_keeps_the_rules(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "before"))
    assert use_data_dir(None) == data_dir() == tmp_path / "before"
    monkeypatch.chdir(tmp_path)
    assert use_data_dir("course-data") == tmp_path / "course-data" == Path(os.environ[DATA_ENV])


def test_lessons_command_copies_the_lessons_and_refuses_to_overwrite_them(tmp_path, capsys):
    folder = tmp_path / "my-course"
    assert main(["lessons", str(folder)]) == 0
    out = capsys.readouterr().out
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in shipped.lesson_files()) and len(names) == 13
    assert out.count("wrote ") == 13 and "jupyter lab" in out
    assert (folder / "05_baseline_comparison.ipynb").read_bytes() == (
        ROOT / "notebooks" / "05_baseline_comparison.ipynb"
    ).read_bytes()
    (folder / "01_stable_rank_theory.py").write_text("# my notes\n")
    assert main(["lessons", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds 01_stable_rank_theory.ipynb" in err[0] and "--force" in err[0]
    assert (folder / "01_stable_rank_theory.py").read_text() == "# my notes\n"  # nothing was copied
    assert main(["lessons", str(folder), "--force"]) == 0
    mine = (folder / "01_stable_rank_theory.py").read_bytes()
    assert mine == (ROOT / "notebooks" / "01_stable_rank_theory.py").read_bytes()


def _source_tree(target: Path) -> Path:
    """A copy of the checkout without environments, builds, data or records other than the shipped ones: the wheel
    is built from it, so that a build leaves nothing in the checkout and stale files of an earlier build (setuptools
    keeps build/lib/) cannot slip into the wheel."""
    common = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*cache", ".hypothesis", ".ipynb_checkpoints")

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = set(common(folder, names))
        if Path(folder) == ROOT:
            skip |= {".venv", ".git", "build", "dist", "data"} & set(names)
        if Path(folder) == ROOT / "results":
            skip |= set(names) - {"baseline-study"}
        return skip

    return Path(shutil.copytree(ROOT, target, ignore=ignore))


#: Run in the fresh environment by its python: lessons 01 and 02 (papermill), the first with a last cell that prints
#: the kernel's interpreter and package and where the kit finds its files with no checkout.
DRIVER = textwrap.dedent("""
    import json, sys
    import nbformat, papermill as pm
    folder, kernel, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    probe = ("import json, sys, srlora_utils\\n"
             "from srlora_utils.data.shipped import work_dir\\n"
             "from srlora_utils.experiments import study_files\\n"
             "print(json.dumps([sys.executable, srlora_utils.__file__, *map(str, study_files()), str(work_dir('x'))]))")
    first = next(iter(runs))
    nb = nbformat.read(f"{folder}/{first}", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    nbformat.write(nb, f"{folder}/probe-{first}")
    for name, parameters in runs.items():
        source = f"{folder}/probe-{name}" if name == first else f"{folder}/{name}"
        pm.execute_notebook(source, f"{folder}/out-{name}", parameters=parameters, kernel_name=kernel, cwd=folder,
                            progress_bar=False)
""")


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_environment_and_its_lessons_run_from_any_folder(tmp_path):
    start = time.monotonic()
    src = _source_tree(tmp_path / "src")
    run = lambda *cmd, **kw: subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600, **kw)
    run(sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", str(tmp_path / "dist"))  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("srlora_utils-*.whl")

    # A fresh environment outside the checkout; the dependencies come from this one (a .pth file names its
    # site-packages: their .pth files, the editable install's among them, are not run), so nothing is downloaded.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    py = venv / "bin" / "python"
    site = Path(run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "srlora-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    here = {"cwd": tmp_path, "env": env}
    run(py, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel), **here)
    run(py, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "srlora-wheel-test", **here)

    lessons = tmp_path / "my-course"
    out = run(venv / "bin" / "srlora", "lessons", str(lessons), **here).stdout
    assert out.count("wrote ") == 13 and sorted(p.name for p in lessons.iterdir()) == sorted(
        [f"{n}.{e}" for n in LESSONS for e in ("ipynb", "py")] + ["jupytext.toml"]
    )
    run(py, "-c", DRIVER, str(lessons), "srlora-wheel-test", json.dumps(CHEAP), **here)

    first = nbformat.read(lessons / f"out-{next(iter(CHEAP))}", as_version=4)
    executable, package, grid, records, work = json.loads(first.cells[-1].outputs[0]["text"])
    assert Path(executable).parent == venv / "bin"  # the kernel is the fresh environment's python ...
    assert Path(package).resolve().is_relative_to(site.resolve())  # ... importing the wheel's srlora_utils
    kit = site.resolve() / "srlora_utils" / "_kit"
    assert Path(grid) == kit / "grids" / "baseline-study.toml"  # shipped files: the package's
    assert Path(records) == kit / "results" / "baseline-study" / "records.jsonl"
    assert Path(work) == lessons.resolve() / "build" / "x"  # generated files: under the notebooks' folder
    for name in CHEAP:
        nb = nbformat.read(lessons / f"out-{name}", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors and any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    print(f"wheel built, installed in a fresh environment, lessons 01-02 run: {time.monotonic() - start:.0f} s")
