"""The package's import graph: no cycles, and nothing imports upward.

The package's import graph, read from the source (every ``import``, including those inside functions
and under ``TYPE_CHECKING``): no cycles, and nothing imports upward.

Layers, bottom to top: the shared top-level modules and ``engines``; ``analyses``; ``audit``;
``report`` (its page shows ``bayespipe diff``); ``cli`` (wires the commands).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bayespipe import codedeps

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "workflow" / "bayespipe"
UPPER = ("analyses", "audit", "report")
# Command-line modules wire the layers together (versions_cli ranks headline movements with the
# report's What changed), so they may import from any layer.
ENTRY_POINTS = {"bayespipe.cli", "bayespipe.versions_cli"}


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """{module: package modules it imports}, parent packages' ``__init__`` left out."""
    graph = {}
    for path in sorted(package_dir.rglob("*.py")):
        name = codedeps._module_name(package_dir, path)
        text = path.read_text()
        found = codedeps.imported_modules(text, name, path.name == "__init__.py")
        graph[name] = {
            dotted
            for dotted in found
            if codedeps._module_file(package_dir, dotted) and dotted != name
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else "shared"


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles_inside_bayespipe():
    assert cycles(import_graph()) == []


def test_no_cycles_between_subpackages():
    packages: dict[str, set[str]] = {}
    for module, imports in import_graph().items():
        if module in ENTRY_POINTS:
            continue
        packages.setdefault(_layer(module), set()).update(_layer(i) for i in imports)
    for name, imports in packages.items():
        imports.discard(name)
    assert cycles(packages) == []


@pytest.mark.parametrize("layer", ["engines", "shared"])
def test_lower_layers_import_no_analysis_audit_or_report(layer):
    upward = {
        module: sorted(i for i in imports if _layer(i) in UPPER)
        for module, imports in import_graph().items()
        if _layer(module) == layer and module not in ENTRY_POINTS
    }
    assert {module: found for module, found in upward.items() if found} == {}


def test_audit_imports_no_report_module():
    upward = {
        module: sorted(i for i in imports if _layer(i) == "report")
        for module, imports in import_graph().items()
        if _layer(module) == "audit"
    }
    assert {module: found for module, found in upward.items() if found} == {}


def test_analyses_import_no_other_analysis():
    """Each analysis stands on the shared modules and the engines only.

    Calibration reads a models: block's files, never its code.
    """

    def analysis(module: str) -> str:
        return module.split(".")[2]

    crossing = {
        module: sorted(
            i for i in imports if _layer(i) == "analyses" and analysis(i) != analysis(module)
        )
        for module, imports in import_graph().items()
        if _layer(module) == "analyses" and module != "bayespipe.analyses"
    }
    assert {module: found for module, found in crossing.items() if found} == {}
