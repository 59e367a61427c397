"""The package's layers: every import (at module level or inside a function) points to the same layer or a lower
one, as each subpackage's docstring declares, and no two modules import each other, directly or round a loop."""

import ast
import importlib
from pathlib import Path

import srlora_utils

PKG = Path(srlora_utils.__file__).parent
#: Lowest first; ``srlora_utils/__init__.py`` (the public API) sits above them all.
LAYERS = ["errors", "lazy", "core", "models", "data", "training", "plotting", "experiments", "analysis", "course",
          "cli"]  # fmt: skip
#: Top-level modules that belong to a layer of another name (a top-level module is otherwise its own layer).
MODULE_LAYERS = {"figure_check": "plotting", "checks": "errors"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    return len(LAYERS) if len(parts) == 1 else LAYERS.index(MODULE_LAYERS.get(parts[1], parts[1]))


def _edges() -> dict[str, set[str]]:
    """Module -> the package modules it imports (relative or absolute, anywhere in the file)."""
    modules = {_module(p) for p in PKG.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        me = _module(path)
        package = me if path.name == "__init__.py" else me.rpartition(".")[0]
        out = edges.setdefault(me, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names]
                targets = [n for n in names if n in modules] or ([base] if base in modules else [])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name in modules]
            else:
                continue
            out.update(t for t in targets if t.startswith("srlora_utils.") and t != me)
    return edges


def test_every_import_points_to_the_same_layer_or_below():
    upward = [(a, b) for a, targets in _edges().items() for b in targets if _layer(b) > _layer(a)]
    assert not upward, f"imports from a lower layer to a higher one: {upward}"


def test_no_import_cycles():
    edges = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_each_subpackage_says_what_it_holds_and_may_import():
    edges = _edges()
    for name in LAYERS:
        if not (PKG / name).is_dir():
            continue
        doc = importlib.import_module(f"srlora_utils.{name}").__doc__ or ""
        declared = doc.strip().splitlines()[-1]
        assert declared.startswith("May import: "), f"srlora_utils.{name}: docstring must end with 'May import: ...'"
        allowed = {name} | set(declared.removeprefix("May import: ").split(", "))
        assert allowed - {name} <= set(LAYERS[: LAYERS.index(name)]), f"{name} declares a higher layer: {allowed}"
        used = {MODULE_LAYERS.get(b.split(".")[1], b.split(".")[1]) for a, targets in edges.items()
                if a.split(".")[1:2] == [name] for b in targets}  # fmt: skip
        assert used <= allowed, f"srlora_utils.{name} imports {sorted(used - allowed)}, which its docstring omits"


def test_the_layer_test_sees_imports_inside_functions():
    edges = _edges()
    assert "srlora_utils.experiments.presets" in edges["srlora_utils.experiments.grids"]
    assert "srlora_utils.core.checkpoint" in edges["srlora_utils.core.profile"]
    assert "srlora_utils.models.backbones" in edges["srlora_utils.models.normalization"]  # imported in a function


#: The subpackages each lesson is about: a notebook imports from the top level and at most these.
LESSON_SUBPACKAGES = {"00": ("core",), "01": ("core",), "02": ("core",),
                      **{n: ("experiments", "analysis") for n in ("03", "04", "05", "06", "07")}}  # fmt: skip


def test_notebooks_import_the_top_level_and_their_lessons_subpackage_only():
    for script in sorted((PKG.parent / "notebooks").glob("[0-9][0-9]_*.py")):
        allowed = {"srlora_utils", *(f"srlora_utils.{p}" for p in LESSON_SUBPACKAGES[script.name[:2]])}
        used = set()
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("srlora_utils"):
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used |= {a.name for a in node.names if a.name.startswith("srlora_utils")}
        assert used <= allowed, f"{script.name} imports {sorted(used - allowed)}: use srlora_utils or {allowed}"


def test_every_offered_name_resolves():
    for package in ("srlora_utils", "srlora_utils.core", "srlora_utils.experiments", "srlora_utils.analysis"):
        module = importlib.import_module(package)
        missing = [name for name in module.__all__ if getattr(module, name, None) is None]
        assert not missing, f"{package} offers names it cannot import: {missing}"
        assert set(module.__all__) <= set(dir(module))
