"""Which event types an API key may publish: its scopes.

A key's scope is a list of patterns, each one of

- ``*``: every event type;
- an exact event type: ``order.placed``;
- a prefix wildcard: ``order.*``, every type that begins with ``order.``.

Patterns are checked when a key is created: each must match at least one event type
known to ``schemas.registry``, so a typo (``ordr.*``) is refused instead of making a key
that can publish nothing. Scopes are per type, never per version.

A key file written before scopes existed holds keys without any: such a key keeps
publishing every type (``*``), as it did before, and ``riverbed keys list`` marks it
``* (legacy)``. The bootstrap key (``settings.gateway_api_key``) has the scope ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from schemas.registry import registry

ALL = "*"
ALL_TYPES: tuple[str, ...] = (ALL,)
_SEGMENT = r"[a-z][a-z0-9_]*"
_PATTERN = re.compile(rf"^(?:{_SEGMENT}(?:\.{_SEGMENT})*\.\*|{_SEGMENT}(?:\.{_SEGMENT})+)$")


class ScopeError(ValueError):
    """A type pattern is malformed or matches no known event type."""


@cache
def known_event_types() -> frozenset[str]:
    """Every event type of ``schemas.registry`` (any version)."""
    return frozenset(payload.EVENT_TYPE for payload in registry.all())


def split(text: str) -> list[str]:
    """``"order.*, stock.received"`` -> ``["order.*", "stock.received"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def matches(pattern: str, event_type: str) -> bool:
    if pattern == ALL:
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def allows(scopes: Iterable[str], event_type: str) -> bool:
    """Whether any of ``scopes`` matches ``event_type``."""
    return any(matches(pattern, event_type) for pattern in scopes)


def check(patterns: Iterable[str], *, known: Iterable[str] | None = None) -> tuple[str, ...]:
    """The patterns, de-duplicated in order (``*`` alone if present among them), or
    :class:`ScopeError` naming the first bad one. ``known``: default the registry's types."""
    if isinstance(patterns, str):
        patterns = split(patterns)
    types = sorted(known_event_types() if known is None else set(known))
    cleaned: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if pattern != ALL and not _PATTERN.fullmatch(pattern):
            raise ScopeError(
                f"bad type pattern {pattern!r}: use an event type (order.placed), "
                "a prefix wildcard (order.*) or * for every type"
            )
        if not any(matches(pattern, t) for t in types):
            raise ScopeError(
                f"type pattern {pattern!r} matches no known event type; "
                f"known types: {', '.join(types)}"
            )
        if pattern not in cleaned:
            cleaned.append(pattern)
    if not cleaned:
        raise ScopeError("at least one type pattern is needed (* for every type)")
    return ALL_TYPES if ALL in cleaned else tuple(cleaned)


def out_of_scope(scopes: tuple[str, ...], items: list[Any]) -> list[dict[str, Any]]:
    """``{"index", "type"}`` of each item whose known event type ``scopes`` do not allow.

    Items that are not objects, or whose type is missing or unknown, are left to
    validation (422): only a type the registry knows can be out of scope.
    """
    if ALL in scopes:
        return []
    known = known_event_types()
    refused: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        event_type = item.get("type") if type(item) is dict else None
        if type(event_type) is str and event_type in known and not allows(scopes, event_type):
            refused.append({"index": index, "type": event_type})
    return refused
