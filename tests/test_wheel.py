"""The kit without its repository: what a wheel ships (lessons, grids, the study's records), where an installed kit
reads and writes, ``srlora lessons``. The wheel itself installed in a fresh environment: tests/test_installed_kit.py."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest

from srlora_utils.analysis.baseline_study import study_files
from srlora_utils.cli import main
from srlora_utils.data import shipped
from srlora_utils.data.paths import DATA_ENV, data_dir, use_data_dir
from srlora_utils.errors import SrLoraError
from srlora_utils.training.records import append_record

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [
    "00_lora_from_scratch", "01_stable_rank_theory", "02_rank_allocation", "03_medical_fewshot",
    "04_remote_sensing_fewshot",
    "05_baseline_comparison", "06_reproduce_paper", "07_gap_ladder",
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
    lessons = [p.name for p in shipped.lesson_files() if p.parent.name == "notebooks" and p.suffix == ".ipynb"]
    assert lessons == [f"{n}.ipynb" for n in LESSONS]  # each lesson once, then the glossary and the appendix
    assert {p.name for p in shipped.lesson_files()} >= {"glossary.md"}


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
    assert shipped.lesson_files()[0] == package / "notebooks" / "00_lora_from_scratch.ipynb"
    # the shipped records are read, never written: a sweep's new runs go to the same path under the current folder
    assert shipped.writable_records(records) == (records, tmp_path / "results" / "baseline-study" / "records.jsonl")
    assert shipped.writable_records(tmp_path / "mine.jsonl") == (None, tmp_path / "mine.jsonl")
    with pytest.raises(SrLoraError, match="inside the installed srlora_utils package, which the kit never writes"):
        append_record(records, {"key": "x"})
    (package / "results" / "baseline-study" / "records.jsonl").unlink()
    with pytest.raises(SrLoraError, match=r"records .* are missing: restore them by reinstalling the package"):
        study_files("offline")


def test_data_root_sets_the_data_folder_and_none_keeps_the_rules(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "before"))
    assert use_data_dir(None) == data_dir() == tmp_path / "before"
    monkeypatch.chdir(tmp_path)
    assert use_data_dir("course-data") == tmp_path / "course-data" == Path(os.environ[DATA_ENV])


def test_lessons_command_copies_the_lessons_and_refuses_to_overwrite_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JUPYTERLAB_DIR", str(tmp_path / "lab"))  # its JupyterLab settings go there, not into .venv
    folder = tmp_path / "my-course"
    assert main(["lessons", str(folder)]) == 0
    out = capsys.readouterr().out
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    appendix = sorted(f"appendix/{p.name}" for p in (ROOT / "notebooks" / "appendix").glob("*.ipynb"))
    assert names == sorted([*lessons, "glossary.md", *appendix])
    assert out.count("wrote ") == len(names) and f"jupyter lab {lessons[0]}" in out
    assert (folder / "05_baseline_comparison.ipynb").read_bytes() == (
        ROOT / "notebooks" / "05_baseline_comparison.ipynb"
    ).read_bytes()
    (folder / "01_stable_rank_theory.ipynb").write_text("my notes")
    assert main(["lessons", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds " in err[0] and "01_stable_rank_theory.ipynb" in err[0]
    assert "--force" in err[0]
    assert (folder / "01_stable_rank_theory.ipynb").read_text() == "my notes"  # nothing was copied
    assert main(["lessons", str(folder), "--force"]) == 0
    mine = (folder / "01_stable_rank_theory.ipynb").read_bytes()
    assert mine == (ROOT / "notebooks" / "01_stable_rank_theory.ipynb").read_bytes()
