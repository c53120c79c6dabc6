"""The modules of python/sock8 import each other without a cycle.

Read from the source with `ast`, not by importing: every `import` counts, at module level, inside
a function, or under `if TYPE_CHECKING:` (a cycle that only the type checker follows is still a
cycle for the reader). `from package import name` points at the submodule `package.name` when
there is one, else at the package itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.support.repo import ROOT

SOURCE = ROOT / "python"
PACKAGE = "sock8"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a stub counts when it has no source)."""
    found: dict[str, Path] = {}
    for path in sorted((SOURCE / PACKAGE).rglob("*.py*")):
        if path.suffix in (".py", ".pyi"):
            found.setdefault(_module_name(path), path)
    return found


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(tree: ast.AST, importer: str, is_package: bool, known: set[str]) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                # `import a.b.c` runs a.b.c; point at the deepest module we have.
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name:
                    yield name
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, importer, is_package)
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if submodule in known:
                    yield submodule
                elif module in known:
                    yield module


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (itself left out)."""
    found = modules()
    known = set(found)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.stem == "__init__"
        graph[name] = set(_targets(tree, name, is_package, known)) - {name}
    return graph


def components(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
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
            connect(node)
    return sorted(found)


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The shortest cycle through the first module of each component, as `[a, b, ..., a]`."""
    return [_cycle_in(graph, set(component), component[0]) for component in components(graph)]


def _cycle_in(graph: Mapping[str, set[str]], component: set[str], start: str) -> list[str]:
    """The shortest path from `start` back to itself inside `component` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in no cycle of its component")  # pragma: no cover


def test_the_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert {"sock8", "sock8.gateway.app", "sock8._core"} <= set(graph)
    # Imports under `if TYPE_CHECKING:` and inside functions count.
    assert "sock8.gateway" in graph["sock8.cli"]


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}}
    assert components(graph) == [["a", "b", "c"], ["e", "f"]]
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_sock8_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph()
    found = [
        f"  {' -> '.join(cycle)}  (modules in this cycle's tangle: {', '.join(component)})"
        for component, cycle in zip(components(graph), cycles(graph), strict=True)
    ]
    assert not found, "import cycles among sock8 modules:\n" + "\n".join(found)
