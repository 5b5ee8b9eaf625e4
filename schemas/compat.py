"""Is a contract's current JSON Schema backward compatible with its published snapshot?

Backward compatible means: every message valid under the published schema is still
valid under the current one, so consumers on new code can read everything producers on
old code wrote (and the topic's history). Breaking: a field removed, a new required
field, a type changed or narrowed, a constraint tightened (bound, length, item count,
pattern, format, enum value removed) and any ``additionalProperties`` change
(``extra="forbid"`` is part of the contract). Not breaking: a new optional field, a
loosened constraint, annotations (titles, descriptions, examples, defaults).

Patterns are compared as text: a changed regex is reported, since whether it accepts
every old value cannot be decided in general. Pure functions on parsed JSON only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.compat_keywords import (
    Break,
    BreakKind,
    Schema,
    bound_breaks,
    describe,
    extra_properties,
    text_breaks,
    type_break,
    types_of,
    value_breaks,
)

__all__ = ["Break", "BreakKind", "CompatReport", "check_published", "compare"]

_ANY: Schema = {}
_UNION_KEYS = ("anyOf", "oneOf")


@dataclass(frozen=True, slots=True)
class CompatReport:
    """Every published snapshot checked against the current schemas."""

    breaks: Mapping[str, tuple[Break, ...]]
    unpublished: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not any(self.breaks.values())


def check_published(published: Mapping[str, Schema], current: Mapping[str, Schema]) -> CompatReport:
    """Compare each published schema (by file name) with the current one of that name."""
    breaks: dict[str, tuple[Break, ...]] = {}
    for name, old in sorted(published.items()):
        new = current.get(name)
        if new is None:
            gone = Break("", BreakKind.VERSION_REMOVED, "published version no longer exists")
            breaks[name] = (gone,)
        else:
            breaks[name] = tuple(compare(old, new))
    unpublished = tuple(sorted(set(current) - set(published)))
    return CompatReport(breaks=breaks, unpublished=unpublished)


def compare(old: Schema, new: Schema) -> list[Break]:
    """Every way ``new`` refuses something ``old`` accepted (empty: compatible)."""
    return _Comparer(old, new).run()


class _Comparer:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._roots = (old_root, new_root)

    def run(self) -> list[Break]:
        return self._compare(self._roots[0], self._roots[1], "", frozenset())

    def _resolve(self, schema: Any, root: Schema) -> Schema:
        if schema is True:
            return _ANY
        if schema is False:
            return {"not": {}}
        result: Schema = schema
        for _ in range(32):  # a chain of references, never a cycle, in practice
            ref = result.get("$ref")
            if not isinstance(ref, str):
                break
            target: Any = root
            for part in ref.removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            result = {**target, **{k: v for k, v in result.items() if k != "$ref"}}
        for part in result.get("allOf", ()):  # an intersection: all constraints apply
            merged = {k: v for k, v in result.items() if k != "allOf"}
            result = {**merged, **self._resolve(part, root)}
        return result

    def _compare(self, old: Any, new: Any, path: str, seen: frozenset[Any]) -> list[Break]:
        marker = (id(old), id(new))
        if marker in seen:  # a recursive schema: already being compared above
            return []
        seen = seen | {marker}
        old_s, new_s = self._resolve(old, self._roots[0]), self._resolve(new, self._roots[1])
        if any(key in old_s or key in new_s for key in _UNION_KEYS):
            return self._compare_unions(old_s, new_s, path, seen)
        changed = type_break(old_s, new_s, path)
        if changed is not None:
            return [changed]
        breaks = list(value_breaks(old_s, new_s, path))
        breaks += bound_breaks(old_s, new_s, path)
        breaks += text_breaks(old_s, new_s, path)
        if "items" in new_s:
            breaks += self._compare(old_s.get("items", _ANY), new_s["items"], f"{path}[]", seen)
        breaks += self._compare_objects(old_s, new_s, path, seen)
        return breaks

    def _compare_unions(
        self, old: Schema, new: Schema, path: str, seen: frozenset[Any]
    ) -> list[Break]:
        """Each branch old accepted must be accepted, unchanged or looser, by a new one."""
        breaks: list[Break] = []
        new_branches = _branches(new)
        for branch in _branches(old):
            trials = [self._compare(branch, n, path, seen) for n in new_branches]
            if any(not trial for trial in trials):
                continue
            same_type: list[list[Break]] = [
                trial
                for trial, n in zip(trials, new_branches, strict=True)
                if types_of(self._resolve(n, self._roots[1]))
                == types_of(self._resolve(branch, self._roots[0]))
            ]
            if same_type:
                best: list[Break] = min(same_type, key=len)
                breaks += best
            else:
                shown = describe(self._resolve(branch, self._roots[0]))
                breaks.append(Break(path, BreakKind.TYPE_CHANGED, f"{shown} no longer accepted"))
        return breaks

    def _compare_objects(
        self, old: Schema, new: Schema, path: str, seen: frozenset[Any]
    ) -> list[Break]:
        breaks: list[Break] = []
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name, old_prop in old_props.items():
            field = f"{path}.{name}" if path else name
            if name not in new_props:
                breaks.append(Break(field, BreakKind.FIELD_REMOVED, "field removed"))
            else:
                breaks += self._compare(old_prop, new_props[name], field, seen)
        for name in sorted(new_required - old_required):
            field = f"{path}.{name}" if path else name
            was = "optional field became required" if name in old_props else "new required field"
            breaks.append(Break(field, BreakKind.NEW_REQUIRED_FIELD, was))
        old_extra = extra_properties(old.get("additionalProperties", True))
        new_extra = extra_properties(new.get("additionalProperties", True))
        if isinstance(old_extra, bool) or isinstance(new_extra, bool):
            if old_extra != new_extra:
                detail = f"additionalProperties {describe(old_extra)} -> {describe(new_extra)}"
                breaks.append(Break(path, BreakKind.ADDITIONAL_PROPERTIES_CHANGED, detail))
        else:
            breaks += self._compare(old_extra, new_extra, f"{path}{{}}", seen)
        if "propertyNames" in new:
            old_names = old.get("propertyNames", _ANY)
            breaks += self._compare(old_names, new["propertyNames"], f"{path}{{keys}}", seen)
        return breaks


def _branches(schema: Schema) -> list[Any]:
    siblings = {k: v for k, v in schema.items() if k not in _UNION_KEYS}
    for key in _UNION_KEYS:
        if key in schema:
            return [{**siblings, **branch} for branch in schema[key]]
    return [schema]
