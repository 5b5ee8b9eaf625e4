"""The checker on small synthetic schemas: each breaking kind is flagged, and each
non-breaking change is accepted."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from schemas.compat import Break, BreakKind, check_published, compare

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "$defs": {
        "Line": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 64},
                "quantity": {"type": "integer", "exclusiveMinimum": 0, "maximum": 100},
            },
            "required": ["sku", "quantity"],
        },
    },
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64, "format": "uuid"},
        "reason": {"enum": ["a", "b", "c"], "type": "string"},
        "note": {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "null"}]},
        "position": {"type": "number", "minimum": 0},
        "lines": {
            "type": "array",
            "items": {"$ref": "#/$defs/Line"},
            "minItems": 1,
            "maxItems": 100,
        },
        "context": {"type": "object", "additionalProperties": True},
    },
    "required": ["id", "reason", "lines"],
}


def _changed(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def _props(schema: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema["properties"]
    return properties


def _line(schema: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = schema["$defs"]["Line"]["properties"]
    return line


BREAKING: list[tuple[str, Callable[[dict[str, Any]], object], BreakKind, str]] = [
    ("field removed", lambda s: _props(s).pop("note"), BreakKind.FIELD_REMOVED, "note"),
    (
        "nested field removed",
        lambda s: _line(s).pop("quantity"),
        BreakKind.FIELD_REMOVED,
        "lines[].quantity",
    ),
    (
        "new required field",
        lambda s: (_props(s).update(store={"type": "string"}), s["required"].append("store")),
        BreakKind.NEW_REQUIRED_FIELD,
        "store",
    ),
    (
        "optional became required",
        lambda s: s["required"].append("position"),
        BreakKind.NEW_REQUIRED_FIELD,
        "position",
    ),
    (
        "type changed",
        lambda s: _props(s)["position"].update(type="string"),
        BreakKind.TYPE_CHANGED,
        "position",
    ),
    (
        "type narrowed number -> integer",
        lambda s: _props(s)["position"].update(type="integer"),
        BreakKind.TYPE_CHANGED,
        "position",
    ),
    (
        "null no longer accepted",
        lambda s: _props(s).update(note={"type": "string", "maxLength": 500}),
        BreakKind.TYPE_CHANGED,
        "note",
    ),
    (
        "maxLength lowered",
        lambda s: _props(s)["id"].update(maxLength=32),
        BreakKind.CONSTRAINT_TIGHTENED,
        "id",
    ),
    (
        "minLength raised",
        lambda s: _props(s)["id"].update(minLength=2),
        BreakKind.CONSTRAINT_TIGHTENED,
        "id",
    ),
    (
        "maxLength lowered inside an optional",
        lambda s: _props(s)["note"]["anyOf"][0].update(maxLength=100),
        BreakKind.CONSTRAINT_TIGHTENED,
        "note",
    ),
    (
        "minimum raised",
        lambda s: _props(s)["position"].update(minimum=1),
        BreakKind.CONSTRAINT_TIGHTENED,
        "position",
    ),
    (
        "minimum made exclusive",
        lambda s: _props(s)["position"].update(minimum=None, exclusiveMinimum=0),
        BreakKind.CONSTRAINT_TIGHTENED,
        "position",
    ),
    (
        "maximum added",
        lambda s: _props(s)["position"].update(maximum=3600),
        BreakKind.CONSTRAINT_TIGHTENED,
        "position",
    ),
    (
        "nested maximum lowered",
        lambda s: _line(s)["quantity"].update(maximum=10),
        BreakKind.CONSTRAINT_TIGHTENED,
        "lines[].quantity",
    ),
    (
        "maxItems lowered",
        lambda s: _props(s)["lines"].update(maxItems=10),
        BreakKind.CONSTRAINT_TIGHTENED,
        "lines",
    ),
    (
        "pattern changed",
        lambda s: _line(s)["sku"].update(pattern="^[A-Z]{3}$"),
        BreakKind.CONSTRAINT_TIGHTENED,
        "lines[].sku",
    ),
    (
        "format added",
        lambda s: _props(s)["reason"].update(format="email"),
        BreakKind.CONSTRAINT_TIGHTENED,
        "reason",
    ),
    (
        "enum value removed",
        lambda s: _props(s)["reason"].update(enum=["a", "b"]),
        BreakKind.ENUM_VALUE_REMOVED,
        "reason",
    ),
    (
        "const added",
        lambda s: _props(s)["position"].update(const=1.0),
        BreakKind.CONSTRAINT_TIGHTENED,
        "position",
    ),
    (
        "additionalProperties closed",
        lambda s: _props(s)["context"].update(additionalProperties=False),
        BreakKind.ADDITIONAL_PROPERTIES_CHANGED,
        "context",
    ),
    (
        "additionalProperties opened",
        lambda s: s.update(additionalProperties=True),
        BreakKind.ADDITIONAL_PROPERTIES_CHANGED,
        "",
    ),
    (
        "additionalProperties given a schema",
        lambda s: _props(s)["context"].update(additionalProperties={"type": "string"}),
        BreakKind.ADDITIONAL_PROPERTIES_CHANGED,
        "context",
    ),
    (
        "uniqueItems added",
        lambda s: _props(s)["lines"].update(uniqueItems=True),
        BreakKind.CONSTRAINT_TIGHTENED,
        "lines",
    ),
]

NON_BREAKING: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
    ("nothing changed", lambda s: None),
    ("new optional field", lambda s: _props(s).update(coupon={"type": "string"})),
    (
        "new optional nested field",
        lambda s: _line(s).update(note={"anyOf": [{"type": "string"}, {"type": "null"}]}),
    ),
    ("field no longer required", lambda s: s["required"].remove("reason")),
    ("maxLength raised", lambda s: _props(s)["id"].update(maxLength=128)),
    ("minLength dropped", lambda s: _props(s)["id"].pop("minLength")),
    ("minimum lowered", lambda s: _props(s)["position"].update(minimum=-1)),
    ("maximum raised", lambda s: _line(s)["quantity"].update(maximum=1000)),
    (
        "integer exclusiveMinimum 0 == minimum 1",
        lambda s: (
            _line(s)["quantity"].pop("exclusiveMinimum"),
            _line(s)["quantity"].update(minimum=1),
        ),
    ),
    ("enum value added", lambda s: _props(s)["reason"].update(enum=["a", "b", "c", "d"])),
    ("enum dropped", lambda s: _props(s)["reason"].pop("enum")),
    ("pattern dropped", lambda s: _line(s)["sku"].pop("pattern")),
    ("format dropped", lambda s: _props(s)["id"].pop("format")),
    ("type widened to a union", lambda s: _props(s)["position"].update(type=["number", "string"])),
    ("integer widened to number", lambda s: _line(s)["quantity"].update(type="number")),
    (
        "made nullable",
        lambda s: _props(s).update(
            id={"anyOf": [copy.deepcopy(BASE["properties"]["id"]), {"type": "null"}]}
        ),
    ),
    ("maxItems raised", lambda s: _props(s)["lines"].update(maxItems=1000)),
    (
        "annotations changed",
        lambda s: _props(s)["id"].update(title="Id", description="new words", examples=["x"]),
    ),
    ("definition renamed", lambda s: _rename_line(s)),
]


def _rename_line(schema: dict[str, Any]) -> None:
    schema["$defs"]["OrderLine"] = schema["$defs"].pop("Line")
    _props(schema)["lines"]["items"] = {"$ref": "#/$defs/OrderLine"}


def _clean_nones(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _clean_nones(v) for k, v in schema.items() if v is not None}
    if isinstance(schema, list):
        return [_clean_nones(v) for v in schema]
    return schema


@pytest.mark.parametrize(
    ("edit", "kind", "path"),
    [pytest.param(edit, kind, path, id=name) for name, edit, kind, path in BREAKING],
)
def test_breaking_changes_are_flagged(
    edit: Callable[[dict[str, Any]], object], kind: BreakKind, path: str
) -> None:
    breaks = compare(BASE, _clean_nones(_changed(edit)))
    assert [(b.kind, b.path) for b in breaks] == [(kind, path)], breaks


@pytest.mark.parametrize("edit", [pytest.param(edit, id=name) for name, edit in NON_BREAKING])
def test_compatible_changes_are_accepted(edit: Callable[[dict[str, Any]], object]) -> None:
    assert compare(BASE, _changed(edit)) == []


def test_break_describes_itself() -> None:
    found = compare(BASE, _changed(lambda s: _props(s)["id"].update(maxLength=32)))
    assert str(found[0]) == "id: constraint_tightened: maxLength: 64 -> 32"
    root = Break("", BreakKind.VERSION_REMOVED, "gone")
    assert str(root).startswith("(root)")


def test_several_breaks_are_all_reported() -> None:
    def edit(s: dict[str, Any]) -> None:
        _props(s).pop("note")
        _line(s)["quantity"].update(maximum=5)

    kinds = sorted(b.kind.value for b in compare(BASE, _changed(edit)))
    assert kinds == ["constraint_tightened", "field_removed"]


def test_recursive_schemas_terminate() -> None:
    tree = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"child": {"$ref": "#/$defs/Node"}, "n": {"type": "integer"}},
            }
        },
        "$ref": "#/$defs/Node",
    }
    assert compare(tree, copy.deepcopy(tree)) == []


def test_check_published_reports_per_file() -> None:
    narrowed = _changed(lambda s: _props(s)["id"].update(maxLength=8))
    report = check_published(
        {"a.v1.json": BASE, "b.v1.json": BASE, "gone.v1.json": BASE},
        {"a.v1.json": BASE, "b.v1.json": narrowed, "new.v1.json": BASE},
    )
    assert not report.ok
    assert report.breaks["a.v1.json"] == ()
    assert [b.kind for b in report.breaks["b.v1.json"]] == [BreakKind.CONSTRAINT_TIGHTENED]
    assert [b.kind for b in report.breaks["gone.v1.json"]] == [BreakKind.VERSION_REMOVED]
    assert report.unpublished == ("new.v1.json",)
    assert check_published({"a.v1.json": BASE}, {"a.v1.json": BASE}).ok
