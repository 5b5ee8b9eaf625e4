"""The import structure: layers that run one way, and no cycles between modules.

Every import (module level or inside a function) is read with ``ast``. A package may
import only packages of its own layer or below; ``riverbed`` (the CLI and the
harnesses: stack control, sandbox, chaos, bench) is the roof, and nothing imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# Bottom to top. A package may import itself and anything to its left.
LAYERS = ("core", "schemas", "stores", "producers", "processors", "dashboard", "riverbed")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(path: Path, name: str, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import in ``path``."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            # the longest project module the import names (``a.b.c`` may be a name in ``a.b``)
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {t for t, _ in imports_of(path, name, known)} for name, path in known.items()}


def test_every_layer_exists() -> None:
    for package in LAYERS:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_no_upward_import_between_packages() -> None:
    known = modules()
    upward = []
    for name, path in known.items():
        own = LAYERS.index(name.split(".")[0])
        for target, line in imports_of(path, name, known):
            if LAYERS.index(target.split(".")[0]) > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert upward == [], "imports that run up the layers:\n" + "\n".join(upward)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_cycle_between_packages() -> None:
    edges: dict[str, set[str]] = {p: set() for p in LAYERS}
    for name, targets in graph().items():
        edges[name.split(".")[0]].update(t.split(".")[0] for t in targets)
    for package in LAYERS:
        edges[package].discard(package)
    assert _cycles(edges) == []


def test_no_cycle_between_modules() -> None:
    # A package's __init__ re-exporting its own modules is not a cycle of meaning:
    # leave the edges from an __init__ to its own children out.
    edges = {
        name: {t for t in targets if not t.startswith(name + ".")}
        for name, targets in graph().items()
    }
    assert _cycles(edges) == []


def test_the_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
