"""Keyword-level compatibility rules: one JSON Schema node against another.

``schemas.compat`` walks two schemas side by side (references, unions, properties and
items) and asks these functions, at each node, what the new node refuses that the old
one accepted. Each rule errs on the side of reporting: a false alarm costs a review, a
missed break costs a dead-lettered topic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Schema = Mapping[str, Any]

# (keyword, +1 if a larger value is tighter, -1 if a smaller one is)
_SIZE_BOUNDS = (
    ("minLength", 1),
    ("maxLength", -1),
    ("minItems", 1),
    ("maxItems", -1),
    ("minProperties", 1),
    ("maxProperties", -1),
)


class BreakKind(StrEnum):
    """The kinds of backward-incompatible change the checker reports."""

    FIELD_REMOVED = "field_removed"
    NEW_REQUIRED_FIELD = "new_required_field"
    TYPE_CHANGED = "type_changed"
    CONSTRAINT_TIGHTENED = "constraint_tightened"
    ENUM_VALUE_REMOVED = "enum_value_removed"
    ADDITIONAL_PROPERTIES_CHANGED = "additional_properties_changed"
    VERSION_REMOVED = "version_removed"


@dataclass(frozen=True, slots=True)
class Break:
    """One backward-incompatible change, at a field path like ``payload.lines[].sku``."""

    path: str
    kind: BreakKind
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.kind.value}: {self.detail}"


def extra_properties(value: Any) -> Any:
    """``additionalProperties`` normalized: ``{}`` allows anything, like ``true``."""
    return True if value == {} else value


def types_of(schema: Schema) -> frozenset[str] | None:
    """The JSON types a node admits (from ``type`` or its values); None: any type."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = _values(schema)
    if values is not None:
        return frozenset(_json_type(v) for v in values)
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    names = {float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "unknown")


def type_break(old: Schema, new: Schema, path: str) -> Break | None:
    """A type the old node admitted that the new one refuses (integer -> number widens)."""
    new_types = types_of(new)
    if new_types is None:
        return None
    old_types = types_of(old)
    if old_types is None:
        return Break(path, BreakKind.TYPE_CHANGED, f"any type -> {sorted(new_types)}")
    lost = {t for t in old_types if t not in new_types and not _widened(t, new_types)}
    if lost:
        detail = f"{sorted(old_types)} -> {sorted(new_types)}"
        return Break(path, BreakKind.TYPE_CHANGED, detail)
    return None


def _widened(old_type: str, new_types: frozenset[str]) -> bool:
    return old_type == "integer" and "number" in new_types


def _values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def value_breaks(old: Schema, new: Schema, path: str) -> Iterable[Break]:
    """``const``/``enum`` values the old node allowed that the new one does not."""
    new_values = _values(new)
    if new_values is None:
        return
    old_values = _values(old)
    if old_values is None:
        yield Break(path, BreakKind.CONSTRAINT_TIGHTENED, f"now restricted to {new_values}")
        return
    removed = [v for v in old_values if v not in new_values]
    if removed:
        yield Break(path, BreakKind.ENUM_VALUE_REMOVED, f"values no longer accepted: {removed}")


def _lower(schema: Schema, integral: bool) -> tuple[float, int] | None:
    """The effective lower bound as (value, exclusive): a larger tuple is tighter."""
    return _effective(schema, "minimum", "exclusiveMinimum", 1, integral)


def _upper(schema: Schema, integral: bool) -> tuple[float, int] | None:
    """The effective upper bound as (-value, exclusive): a larger tuple is tighter."""
    return _effective(schema, "maximum", "exclusiveMaximum", -1, integral)


def _effective(
    schema: Schema, inclusive: str, exclusive: str, sign: int, integral: bool
) -> tuple[float, int] | None:
    candidates: list[tuple[float, int]] = []
    if isinstance(schema.get(inclusive), int | float):
        candidates.append((sign * schema[inclusive], 0))
    if isinstance(schema.get(exclusive), int | float):
        value = sign * schema[exclusive]
        # For integers ``exclusiveMinimum: 0`` is ``minimum: 1``: compare them as equal.
        candidates.append((math.floor(value) + 1, 0) if integral else (value, 1))
    return max(candidates) if candidates else None


def _show(bound: tuple[float, int] | None, sign: int) -> str:
    if bound is None:
        return "none"
    return f"{'>' if sign > 0 else '<'}{'' if bound[1] else '='} {sign * bound[0]:g}"


def bound_breaks(old: Schema, new: Schema, path: str) -> Iterable[Break]:
    """Numeric, length, item-count and property-count bounds that moved inwards."""
    integral = types_of(old) == frozenset({"integer"}) and types_of(new) == frozenset({"integer"})
    for name, bound, sign in (("minimum", _lower, 1), ("maximum", _upper, -1)):
        before, after = bound(old, integral), bound(new, integral)
        if after is not None and (before is None or after > before):
            detail = f"{name}: {_show(before, sign)} -> {_show(after, sign)}"
            yield Break(path, BreakKind.CONSTRAINT_TIGHTENED, detail)
    for keyword, tighter in _SIZE_BOUNDS:
        size_before, size_after = old.get(keyword), new.get(keyword)
        if size_after is not None and (
            size_before is None or (size_after - size_before) * tighter > 0
        ):
            detail = f"{keyword}: {size_before} -> {size_after}"
            yield Break(path, BreakKind.CONSTRAINT_TIGHTENED, detail)
    step_before, step_after = old.get("multipleOf"), new.get("multipleOf")
    if step_after is not None and (step_before is None or (step_before / step_after) % 1 != 0):
        detail = f"multipleOf: {step_before} -> {step_after}"
        yield Break(path, BreakKind.CONSTRAINT_TIGHTENED, detail)
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        yield Break(path, BreakKind.CONSTRAINT_TIGHTENED, "items must now be unique")


def text_breaks(old: Schema, new: Schema, path: str) -> Iterable[Break]:
    """A ``pattern`` or ``format`` added or changed (containment is not decidable)."""
    for keyword in ("pattern", "format"):
        before, after = old.get(keyword), new.get(keyword)
        if after is not None and after != before:
            yield Break(path, BreakKind.CONSTRAINT_TIGHTENED, f"{keyword}: {before!r} -> {after!r}")


def describe(schema: Any) -> str:
    """A short human name for a node, for messages: ``string/null``, ``forbidden``."""
    if isinstance(schema, bool):
        return "allowed" if schema else "forbidden"
    types = types_of(schema)
    return "/".join(sorted(types)) if types else "schema"
