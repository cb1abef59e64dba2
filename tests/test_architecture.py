"""The layout is the architecture (ARCHITECTURE.md): these tests keep the imports pointing one way.

Read with the stdlib `ast`, every import counts, function-local ones included (a lazy import is
still a dependency; it only moves its cost).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pool_refactor", "codemods")

LAYERS: dict[str, set[str]] = {
    # layer: the layers it may import (besides itself, `pool_refactor` for `__version__`, and `paths`)
    "scan": set(),
    "plan": {"scan"},
    "report": {"scan"},
    "codemods": {"scan", "plan"},
    "fix": {"scan", "plan", "codemods"},
    "run": {"scan", "plan", "report", "fix"},
    "cli": {"scan", "plan", "report", "fix", "run", "codemods"},
}
"""Run -> scan -> plan -> report / fix: each layer sees only those before it."""

EVERYONE_MAY_IMPORT = {"pool_refactor", "paths"}


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "templates" in path.parts:
                continue  # the generated module's source: it imports only client libraries
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The project modules that `name` imports, resolved to the longest known module name."""
    known = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            candidates = [f"{module}.{alias.name}" for alias in node.names] + [module]
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
                break
    return targets


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, files) for name, path in files.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "codemods":
        return "codemods"
    if len(parts) == 1:
        return "pool_refactor"
    return "cli" if parts[1] == "__main__" else parts[1]


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_is_read() -> None:
    graph = import_graph()
    assert "pool_refactor.plan.analyze" in graph["pool_refactor.run.pipeline"] or any(
        "pool_refactor.plan.analyze" in graph[m] for m in graph if m.startswith("pool_refactor.run.")
    )
    assert "pool_refactor.scan.scanner" in graph["pool_refactor.plan.planner"]
    assert "codemods.imports" in graph["pool_refactor.fix.wiring"]


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_no_cycle_between_the_subpackages() -> None:
    graph = import_graph()
    layers: dict[str, set[str]] = {}
    for module, targets in graph.items():
        layers.setdefault(layer_of(module), set()).update(
            layer_of(t) for t in targets if layer_of(t) != layer_of(module)
        )
    assert cycles(layers) == []


def test_each_layer_imports_only_the_layers_before_it() -> None:
    wrong = []
    for module, targets in sorted(import_graph().items()):
        layer = layer_of(module)
        if layer in EVERYONE_MAY_IMPORT:
            assert not targets - {"pool_refactor"}, f"{module} is imported by every layer: it imports nothing"
            continue
        for target in sorted(targets):
            other = layer_of(target)
            if other != layer and other not in EVERYONE_MAY_IMPORT and other not in LAYERS[layer]:
                wrong.append(f"{module} ({layer}) imports {target} ({other})")
    assert wrong == []


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer_of(m) for m in import_graph()} <= set(LAYERS) | EVERYONE_MAY_IMPORT


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_the_layer_check_would_see_a_back_edge(tmp_path: Path) -> None:
    """A scanner that imported the planner again (the cycle this layout removed) is caught."""
    module = tmp_path / "scanner.py"
    module.write_text("from pool_refactor.plan.planner import plan_site\n", encoding="utf-8")
    targets = imports_of("pool_refactor.scan.scanner", module, module_files())
    assert targets == {"pool_refactor.plan.planner"}
    assert layer_of("pool_refactor.plan.planner") not in LAYERS["scan"]
