"""Key scopes: which patterns a key may be created with, and which types they match."""

from __future__ import annotations

import pytest

from producers.gateway.scopes import (
    ALL_TYPES,
    ScopeError,
    allows,
    check,
    known_event_types,
    out_of_scope,
    split,
)

pytestmark = pytest.mark.unit


def test_exact_types_prefix_wildcards_and_star_are_accepted_in_order_without_repeats() -> None:
    assert check(["order.placed", "stock.*", "order.placed"]) == ("order.placed", "stock.*")
    assert check(["order.*", "*"]) == ALL_TYPES  # * says it all
    assert check(" order.* , playback.started ") == ("order.*", "playback.started")


@pytest.mark.parametrize(
    "pattern",
    ["order", "order*", "*.placed", "Order.placed", "order.*.x", "order..placed", "**", ""],
)
def test_malformed_patterns_are_refused_with_the_grammar(pattern: str) -> None:
    with pytest.raises(ScopeError, match=r"bad type pattern|at least one"):
        check([pattern])


@pytest.mark.parametrize("pattern", ["ordr.*", "order.shipped", "orders.*", "order.placed.v1"])
def test_a_pattern_matching_no_known_type_is_refused_listing_the_known_types(
    pattern: str,
) -> None:
    with pytest.raises(ScopeError, match="matches no known event type") as caught:
        check([pattern])
    assert repr(pattern) in str(caught.value) and "order.placed" in str(caught.value)


def test_known_types_can_be_injected_and_an_empty_list_is_refused() -> None:
    assert check(["billing.*"], known=["billing.charged"]) == ("billing.*",)
    with pytest.raises(ScopeError, match="at least one"):
        check([])
    with pytest.raises(ScopeError, match="at least one"):
        check(" , ")


def test_a_prefix_wildcard_matches_at_a_dot_boundary_only() -> None:
    assert allows(["order.*"], "order.placed")
    assert not allows(["order.*"], "orders.placed")
    assert not allows(["order.*"], "order")
    assert allows(["stock.low", "order.*"], "stock.low")
    assert not allows(["stock.low"], "stock.lower")
    assert allows(ALL_TYPES, "anything.at_all")
    assert not allows([], "order.placed")


def test_every_registered_type_is_known() -> None:
    assert {"order.placed", "stock.received", "playback.heartbeat"} <= known_event_types()


def test_out_of_scope_lists_known_types_outside_and_leaves_the_rest_to_validation() -> None:
    items = [
        {"type": "order.placed"},
        {"type": "stock.low"},
        {"type": "unknown.type"},  # 422 later, not 403
        {"type": 7},
        "text",
        {"type": "playback.paused"},
    ]
    assert out_of_scope(("order.*",), items) == [
        {"index": 1, "type": "stock.low"},
        {"index": 5, "type": "playback.paused"},
    ]
    assert out_of_scope(ALL_TYPES, items) == []


def test_split_reads_a_comma_separated_list() -> None:
    assert split("order.*,stock.* , playback.started,") == [
        "order.*",
        "stock.*",
        "playback.started",
    ]
