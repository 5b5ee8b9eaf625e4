"""Values reach SQL only as parameters ($1, $2, ...): a scan of the source.

Every query a database call runs (``execute``, ``fetch``, ``copy_from_query``, ...) in
the packages that talk to PostgreSQL must be built from string literals, names bound to
literals, module constants (``queries.ORDER``) and identifiers quoted by ``quote_ident``
or the server's ``format('%I')``; never an f-string, ``%`` or ``.format()`` of a value.
The checker is tested on known-bad snippets first, so a pass means something.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("stores", "processors", "dashboard", "producers")
SQL_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "fetch",
        "fetchrow",
        "fetchval",
        "fetchmany",
        "prepare",
        "cursor",
        "copy_from_query",
    }
)
QUOTING = frozenset({"quote_ident", "quote_idents"})


def _called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Await):
        node = node.value
    if isinstance(node, ast.Call):
        func = node.func
        return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return None


class Checker:
    """Finds database calls whose query text interpolates something other than a quoted
    identifier. Names are followed to their assignments in the enclosing function (and
    the module), so ``sql = f"... {value}"; await conn.execute(sql)`` is caught too."""

    def __init__(self, tree: ast.Module) -> None:
        self.module_assignments = self._assignments(tree.body)
        self.problems: list[tuple[int, str]] = []

    @staticmethod
    def _assignments(body: list[ast.stmt]) -> dict[str, list[ast.expr]]:
        found: dict[str, list[ast.expr]] = {}
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            found.setdefault(target.id, []).append(node.value)
                elif (
                    isinstance(node, ast.AnnAssign | ast.AugAssign)
                    and node.value is not None
                    and isinstance(node.target, ast.Name)
                ):
                    found.setdefault(node.target.id, []).append(node.value)
        return found

    def check(self, tree: ast.Module) -> list[tuple[int, str]]:
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                local = self._assignments(func.body)
                for node in ast.walk(func):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in SQL_METHODS
                        and node.args
                    ):
                        why = self.unsafe(node.args[0], local, set())
                        if why:
                            self.problems.append((node.lineno, f"{node.func.attr}(): {why}"))
        return self.problems

    def unsafe(
        self, node: ast.expr, local: dict[str, list[ast.expr]], seen: set[str]
    ) -> str | None:
        if isinstance(node, ast.Constant):
            return None
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and _called_name(part.value) not in QUOTING:
                    return f"f-string interpolates {ast.unparse(part.value)!r}"
            return None
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mod):
                return f"%-formatting: {ast.unparse(node)!r}"
            return self.unsafe_operand(node.left, local, seen) or self.unsafe_operand(
                node.right, local, seen
            )
        if isinstance(node, ast.IfExp):
            return self.unsafe(node.body, local, seen) or self.unsafe(node.orelse, local, seen)
        if _called_name(node) == "format":
            return f".format(): {ast.unparse(node)!r}"
        if _called_name(node) == "join" and isinstance(node, ast.Call) and node.args:
            return self.unsafe_items(node.args[0], local, seen)
        if isinstance(node, ast.Name) and node.id not in seen:
            seen = seen | {node.id}
            for value in local.get(node.id, []) + self.module_assignments.get(node.id, []):
                why = self.unsafe(value, local, seen)
                if why:
                    return f"{node.id} = ...: {why}"
        # Parameters, attributes (module constants) and other calls: not values pasted in.
        return None

    def unsafe_operand(
        self, node: ast.expr, local: dict[str, list[ast.expr]], seen: set[str]
    ) -> str | None:
        """One side of ``+``: it must be known text, not merely "not formatted"."""
        if isinstance(node, ast.Call) and _called_name(node) not in QUOTING:
            return f"concatenates {ast.unparse(node)!r}"
        if isinstance(node, ast.Name) and not (
            local.get(node.id) or self.module_assignments.get(node.id)
        ):
            return f"concatenates the value {node.id!r}"
        return self.unsafe(node, local, seen)

    def unsafe_items(
        self, node: ast.expr, local: dict[str, list[ast.expr]], seen: set[str]
    ) -> str | None:
        if isinstance(node, ast.List | ast.Tuple):
            for item in node.elts:
                why = self.unsafe(item, local, seen)
                if why:
                    return why
            return None
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            return self.unsafe(node.elt, local, seen)
        return self.unsafe(node, local, seen)


def problems_in(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(textwrap.dedent(source))
    return Checker(tree).check(tree)


BAD = {
    "f-string value": "async def f(conn, x):\n    await conn.execute(f\"select * from t where id = '{x}'\")",
    "via a variable": 'async def f(conn, x):\n    sql = f"delete from t where id = {x}"\n    await conn.fetch(sql)',
    "percent": 'async def f(conn, x):\n    await conn.fetchval("select %s" % x)',
    "format": 'async def f(conn, x):\n    await conn.fetchrow("select {}".format(x))',
    "concatenation": 'async def f(conn, x):\n    await conn.execute("select " + str(x))',
    "concatenated parameter": 'async def f(conn, x):\n    await conn.execute("select " + x)',
    "join": 'async def f(conn, xs):\n    await conn.execute(" ".join(f"\'{x}\'" for x in xs))',
    "copy": 'async def f(conn, x):\n    await conn.copy_from_query(f"select {x}", output=b)',
}
GOOD = {
    "parameters": 'async def f(conn, x):\n    await conn.execute("select * from t where id = $1", x)',
    "module constant": 'Q = "select 1"\nasync def f(conn):\n    await conn.fetch(Q)',
    "queries module": "async def f(conn, x):\n    await conn.fetchrow(queries.ORDER, x)",
    "quote_ident": 'async def f(conn, s):\n    await conn.execute(f"drop schema {quote_ident(s)} cascade")',
    "server-side format": "async def f(conn, t, s):\n    await conn.execute(await quote_idents(conn, t, s))",
    "literal concatenation": 'async def f(conn):\n    await conn.execute("select 1" + " from t")',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_checker_catches_interpolated_values(case: str) -> None:
    assert problems_in(BAD[case]), case


@pytest.mark.parametrize("case", sorted(GOOD))
def test_the_checker_accepts_parameters_and_quoted_identifiers(case: str) -> None:
    assert problems_in(GOOD[case]) == [], case


def test_every_query_in_the_source_takes_values_as_parameters() -> None:
    found: list[str] = []
    files = [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "node_modules" not in path.parts
    ]
    assert len(files) > 40, "the scan found too few files to mean anything"
    for path in files:
        for line, why in problems_in(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{line}: {why}")
    assert found == [], "\n".join(found)
