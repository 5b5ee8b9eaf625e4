"""The context checks' fast paths (no key paths built) agree with the precise walks.

``schemas.context.check_context`` and ``processors.viewing.sessions.check_keys`` each try
a cheap check first and fall back to the walk that names the offending key. Random
trees, legal and not, must get the same verdict either way.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from typing import Any

import pytest
from pydantic_core import PydanticCustomError, to_json

from processors.viewing import sessions
from schemas.context import MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH, _walk, check_context

pytestmark = pytest.mark.unit
KEYS = ["a", "genre", "x" * 3, "$where", "a.b", "", "nul\x00", "ok$", 7]
SCALARS: list[Any] = ["s", 1, 2.5, True, None, math.inf, math.nan, b"bytes"]


def tree(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > MAX_CONTEXT_DEPTH + 1 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.6:
        return [tree(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.65:
        return tuple(tree(rng, depth + 1) for _ in range(rng.randint(0, 2)))
    kind: type[dict[Any, Any]] = OrderedDict if roll < 0.68 else dict
    return kind((rng.choice(KEYS), tree(rng, depth + 1)) for _ in range(rng.randint(0, 5)))


def verdict(check: Any, value: Any) -> bool:
    try:
        check(value)
    except (PydanticCustomError, sessions.UnsafeKey):
        return False
    return True


def walk(value: Any) -> None:
    _walk(value, (), 1, 0)


def test_the_fast_paths_agree_with_the_precise_walks() -> None:
    rng = random.Random(13)
    seen = {True: 0, False: 0}
    seen_context = {True: 0, False: 0}
    for _ in range(5000):
        value = {str(rng.choice(KEYS)): tree(rng, 2) for _ in range(rng.randint(0, 6))}
        if rng.random() < 0.02:  # some over the key budget
            value.update({f"k{i}": i for i in range(70)})
        legal = verdict(walk, value) and len(to_json(value)) <= MAX_CONTEXT_BYTES
        assert verdict(check_context, value) == legal, value
        seen_context[legal] += 1
        fast = verdict(sessions.check_keys, value)
        assert fast == verdict(lambda v: sessions._check_keys(v, "context"), value), value
        seen[fast] += 1
    assert min(seen.values()) > 500, seen  # both verdicts are well exercised
    assert min(seen_context.values()) > 500, seen_context
