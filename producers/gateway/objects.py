"""Which objects a key's events may name: object-level scopes (OWASP API1).

Type scopes (:mod:`producers.gateway.scopes`) say *what* a key may publish; these say
*about whom*. A key bound to stores (``riverbed keys create --stores s-1,s-2``) may only
publish events whose ``payload.store_id`` is one of them; a key bound to users
(``--users u-1``) only events whose ``payload.user_id`` is one of them. An event type
without that field (a playback event has no store) is not limited by that binding; the
key's type scope decides whether it may be sent at all. An unbound key (the default, and
every key from before version 3 of the key file) may name any store and user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from producers.gateway.scopes import ScopeError, split

# Same rule as the contracts' ids (schemas.fields.Id), so a binding can match an event.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BOUND_IDS = 1000

# binding name -> the payload field it limits
FIELDS = {"stores": "store_id", "users": "user_id"}


def check_ids(binding: str, ids: Iterable[str] | None) -> tuple[str, ...] | None:
    """The ids, de-duplicated in order, or None for "not bound"; :class:`ScopeError` if
    one is malformed, none is given, or more than :data:`MAX_BOUND_IDS` are."""
    if ids is None:
        return None
    if isinstance(ids, str):
        ids = split(ids)
    cleaned = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    for value in cleaned:
        if not _ID.fullmatch(value):
            raise ScopeError(f"bad id {value!r} in --{binding}: 1-64 of A-Z a-z 0-9 _ -")
    if not cleaned:
        raise ScopeError(f"--{binding} needs at least one id (leave it out for any)")
    if len(cleaned) > MAX_BOUND_IDS:
        raise ScopeError(f"--{binding} takes at most {MAX_BOUND_IDS} ids")
    return tuple(cleaned)


def out_of_bounds(
    bindings: dict[str, tuple[str, ...] | None], items: list[Any]
) -> list[dict[str, Any]]:
    """``{"index", "field", "value"}`` of each item naming an object outside the key's
    bindings (``{"stores": ..., "users": ...}``). Items without the field, or whose field
    is not a string, are left to validation (422)."""
    limits = [(FIELDS[name], frozenset(ids)) for name, ids in bindings.items() if ids is not None]
    if not limits:
        return []
    refused: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        payload = item.get("payload") if type(item) is dict else None
        if type(payload) is not dict:
            continue
        for field, allowed in limits:
            value = payload.get(field)
            if type(value) is str and value not in allowed:
                refused.append({"index": index, "field": f"payload.{field}", "value": value[:64]})
    return refused
