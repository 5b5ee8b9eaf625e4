"""The bounded free-form ``context`` a player attaches to viewing events.

Players send whatever they know (device, network, bitrate, ...), and the viewing sink
stores it as a MongoDB sub-document, so the rules are the ones that keep a document
safe and cheap there: keys that cannot act as operators (``$where``) or paths
(``a.b``), no NUL, a bounded depth, key count and serialized size. Every violation names
the offending key path, e.g. ``context['device']['caps'][2]['$where']``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError, to_json

MAX_CONTEXT_DEPTH = 5
MAX_CONTEXT_KEYS = 64
MAX_CONTEXT_BYTES = 4096
# The key rule as a JSON Schema pattern, for the top level of the published schema.
KEY_PATTERN = r"^[^$.\u0000][^.\u0000]*$"

_Path = tuple[str | int, ...]


def _render(path: _Path) -> str:
    return "context" + "".join(f"[{part!r}]" for part in path)


def _fail(kind: str, path: _Path, problem: str) -> PydanticCustomError:
    return PydanticCustomError(
        f"context_{kind}", "{path}: {problem}", {"path": _render(path), "problem": problem}
    )


def _check_key(key: object, path: _Path) -> None:
    if not isinstance(key, str):
        raise _fail("key", path, f"keys must be strings, got {type(key).__name__}")
    if not key:
        raise _fail("key", path, "keys must not be empty")
    if key.startswith("$"):
        raise _fail("key", path, "keys must not start with '$'")
    if "." in key:
        raise _fail("key", path, "keys must not contain '.'")
    if "\x00" in key:
        raise _fail("key", path, "keys must not contain NUL")


def _walk(value: object, path: _Path, depth: int, keys: int) -> int:
    """Check ``value`` and everything under it; return the running count of keys."""
    if isinstance(value, dict | list):
        if depth > MAX_CONTEXT_DEPTH:
            raise _fail("depth", path, f"nested deeper than {MAX_CONTEXT_DEPTH} levels")
        if isinstance(value, dict):
            for key, child in value.items():
                child_path = (*path, key)
                _check_key(key, child_path)
                keys += 1
                if keys > MAX_CONTEXT_KEYS:
                    raise _fail("keys", child_path, f"more than {MAX_CONTEXT_KEYS} keys")
                keys = _walk(child, child_path, depth + 1, keys)
        else:
            for index, child in enumerate(value):
                keys = _walk(child, (*path, index), depth + 1, keys)
        return keys
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail("value", path, "numbers must be finite")
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return keys
    raise _fail("value", path, f"{type(value).__name__} is not a JSON value")


def _plain_keys(value: object, depth: int) -> int:
    """The number of keys in ``value`` when it is plainly fine, else -1.

    Plainly fine: exact ``dict``/``list``/``str``/``int``/``bool``/``None`` and finite
    ``float`` (what JSON parsing makes), keys that break no rule, within the depth. The
    precise walk (:func:`_walk`) then runs only for anything else, to name the problem
    or accept an unusual but legal value. It builds no path per key: the walk with paths
    was 26 of the 80 us that decoding a playback event cost (issue 13's profile).
    """
    n = 0
    if type(value) is dict:
        if depth > MAX_CONTEXT_DEPTH:
            return -1
        items: Any = value.values()
        for key in value:
            if type(key) is not str or not key or key[0] == "$" or "." in key or "\x00" in key:
                return -1
        n = len(value)
    elif type(value) is list:
        if depth > MAX_CONTEXT_DEPTH:
            return -1
        items = value
    else:
        return -1
    for child in items:
        kind = type(child)
        if kind is str or kind is int or kind is bool or child is None:
            continue
        if kind is float:
            if not math.isfinite(child):
                return -1
            continue
        inner = _plain_keys(child, depth + 1)
        if inner < 0:
            return -1
        n += inner
    return n


def check_context(context: dict[str, Any]) -> dict[str, Any]:
    """Validate a context tree (see the module docstring); returns it unchanged."""
    if not 0 <= _plain_keys(context, 1) <= MAX_CONTEXT_KEYS:
        _walk(context, (), 1, 0)
    size = len(to_json(context))
    if size > MAX_CONTEXT_BYTES:
        raise _fail("size", (), f"{size} bytes of JSON, more than {MAX_CONTEXT_BYTES}")
    return context


Context = Annotated[
    dict[str, Any],
    AfterValidator(check_context),
    Field(
        description=(
            "Free-form player facts (device, network, bitrate, ...): JSON values only, "
            f"at most {MAX_CONTEXT_DEPTH} levels deep, {MAX_CONTEXT_KEYS} keys in all and "
            f"{MAX_CONTEXT_BYTES} bytes of JSON; keys must be non-empty strings without "
            "'.', NUL or a leading '$'."
        ),
        json_schema_extra={"propertyNames": {"pattern": KEY_PATTERN}},
    ),
]
