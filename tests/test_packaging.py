"""The two ways to install (pip/pyproject and conda/environment.yml) and CI agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _normalise(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_lists_the_pyproject_dependencies():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    project = meta["dependencies"] + meta["optional-dependencies"]["dev"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(map(_normalise, pip_deps)) == sorted(map(_normalise, project))


def test_torch_ranges_admit_the_local_wheels():
    from packaging.specifiers import SpecifierSet

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0]: SpecifierSet(d[len(re.split(r"[<>=!~ ]", d)[0]) :]) for d in deps}
    assert "2.14.1" in spec["torch"] and "0.29.1" in spec["torchvision"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make notebooks" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_the_package_ships_its_type_marker_and_dev_tools_are_an_extra():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (ROOT / "srlora_utils" / "py.typed").is_file()
    assert meta["tool"]["setuptools"]["package-data"]["srlora_utils"] == ["py.typed"]
    runtime = " ".join(meta["project"]["dependencies"])
    for tool in ("pytest", "ruff", "mypy", "nbval"):
        assert tool not in runtime and any(d.startswith(tool) for d in meta["project"]["optional-dependencies"]["dev"])
    assert ".[dev]" in (ROOT / "Makefile").read_text()
