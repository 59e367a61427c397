"""The two ways to install (pip/pyproject and conda/environment.yml) and CI agree."""

import importlib.util
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
    assert re.search(r"^(\w+=\S+ )*make test\b", ci, re.M)  # an environment variable may precede it


def test_the_package_ships_its_type_marker_and_dev_tools_are_an_extra():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (ROOT / "srlora_utils" / "py.typed").is_file()
    assert meta["tool"]["setuptools"]["package-data"]["srlora_utils"] == ["py.typed"]
    runtime = " ".join(meta["project"]["dependencies"])
    for tool in ("pytest", "ruff", "mypy", "nbval"):
        assert tool not in runtime and any(d.startswith(tool) for d in meta["project"]["optional-dependencies"]["dev"])
    assert ".[dev]" in (ROOT / "Makefile").read_text()


def _public_functions():
    import importlib
    import inspect
    import pkgutil

    import srlora_utils

    for info in pkgutil.walk_packages(srlora_utils.__path__, prefix="srlora_utils."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{info.name.removeprefix('srlora_utils.')}.{name}", obj, module
            elif inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and not meth_name.startswith("_"):
                        yield f"{info.name.removeprefix('srlora_utils.')}.{name}.{meth_name}", meth, module


def test_public_docstrings_name_the_arguments_of_functions_with_three_or_more():
    """A function with three or more arguments names each in its docstring, or in the docstring of the function it
    points to with "as :func:`...`" (the loaders share load_task's arguments)."""
    import inspect
    import re

    import srlora_utils

    vague = []
    assert len({m.__name__ for _, _, m in _public_functions()}) >= 40  # every module of every subpackage is read
    for qualname, fn, module in _public_functions():
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]  # fmt: skip
        if len(params) < 3:
            continue
        doc = inspect.getdoc(fn) or ""
        for ref in re.findall(r"as :func:`~?([\w.]+)`", doc):
            target = getattr(module, ref.rsplit(".", 1)[-1], None) or getattr(
                srlora_utils, ref.rsplit(".", 1)[-1], None
            )
            doc += inspect.getdoc(target) or ""
        missing = [p for p in params if not re.search(rf"\b{p}\b", doc)]
        if missing:
            vague.append(f"{qualname}: {', '.join(missing)}")
    assert not vague, "docstrings that do not name these arguments:\n" + "\n".join(vague)


def test_readme_is_short_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150, "README.md is for a five-minute read: move detail to docs/"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert any(link.startswith("docs/") for link in links)
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"
    for page in ROOT.glob("docs/*.md"):  # every page of the course site is in its table of contents
        assert page.name == "index.md" or f"\n{page.stem}\n" in (ROOT / "docs" / "index.md").read_text(), page


def test_license_and_citation_say_what_pyproject_and_the_paper_say():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License") and "MIT" in str(meta.get("license"))
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == meta["version"] and cff["license"] == "MIT"
    paper = cff["preferred-citation"]
    assert "arXiv:2507.00327" in [i["value"] for i in paper["identifiers"]]
    assert " ".join(paper["title"].split()) in " ".join((ROOT / "README.md").read_text().split())


def test_the_test_scheduler_keeps_each_notebook_and_grouped_module_on_one_worker():
    """The root conftest's xdist scheduling unit: a notebook's cells share one kernel, the book tests one build."""
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    cells = ["notebooks/01_stable_rank_theory.ipynb::Cell 0", "notebooks/01_stable_rank_theory.ipynb::Cell 12"]
    assert {root.work_unit(c) for c in cells} == {"notebooks/01_stable_rank_theory.ipynb"}
    assert root.work_unit("notebooks/02_rank_allocation.ipynb::Cell 3") != root.work_unit(cells[0])
    book = [f"tests/test_book.py::{name}" for name in ("test_site_builds", "test_pages[index.html]")]
    assert {root.work_unit(b) for b in book} == {"tests/test_book.py"}
    other = ["tests/test_core.py::test_a", "tests/test_core.py::test_b[1]"]
    assert [root.work_unit(o) for o in other] == other  # everything else is shared out test by test
    assert all((ROOT / m).is_file() for m in root.GROUPED_MODULES)
