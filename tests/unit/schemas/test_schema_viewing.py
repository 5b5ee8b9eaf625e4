from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    MAX_CONTEXT_BYTES,
    MAX_CONTEXT_DEPTH,
    MAX_CONTEXT_KEYS,
    PlaybackCompleted,
    PlaybackEvent,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
)

pytestmark = pytest.mark.unit

EVENTS: list[type[PlaybackEvent]] = [
    PlaybackStarted,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStopped,
    PlaybackCompleted,
]


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        PlaybackHeartbeat.model_validate(data)
    return str(info.value)


@pytest.mark.parametrize("model", EVENTS)
def test_each_playback_event_accepts_valid_data(
    model: type[PlaybackEvent], playback_data: dict[str, Any]
) -> None:
    event = model.model_validate(playback_data)
    assert event.position_s == 12.5
    assert event.context["device"]["os"] == "tvOS"


def test_started_defaults_to_the_beginning_and_an_empty_context() -> None:
    started = PlaybackStarted(session_id="s", user_id="u", title_id="t")
    assert started.position_s == 0.0
    assert started.context == {}


@pytest.mark.parametrize(
    "model", [PlaybackHeartbeat, PlaybackPaused, PlaybackResumed, PlaybackStopped]
)
def test_position_is_required_after_start(model: type[PlaybackEvent]) -> None:
    with pytest.raises(ValidationError, match="position_s"):
        model.model_validate({"session_id": "s", "user_id": "u", "title_id": "t"})


@pytest.mark.parametrize("position", [-0.1, "12", math.inf, math.nan, None, 8 * 24 * 3600.0])
def test_position_must_be_a_finite_non_negative_number(
    playback_data: dict[str, Any], position: object
) -> None:
    _error({**playback_data, "position_s": position})


def test_position_accepts_an_integer(playback_data: dict[str, Any]) -> None:
    assert PlaybackHeartbeat.model_validate({**playback_data, "position_s": 3}).position_s == 3.0


@pytest.mark.parametrize("field", ["session_id", "user_id", "title_id"])
def test_ids_are_checked(playback_data: dict[str, Any], field: str) -> None:
    assert field in _error({**playback_data, field: "bad id!"})


@pytest.mark.parametrize(
    ("context", "path", "problem"),
    [
        ({"$where": "1"}, "context['$where']", "must not start with '$'"),
        ({"a.b": 1}, "context['a.b']", "must not contain '.'"),
        ({"": 1}, "context['']", "must not be empty"),
        ({"a\x00": 1}, "context['a\\x00']", "must not contain NUL"),
        ({"device": {"$gt": 1}}, "context['device']['$gt']", "'$'"),
        ({"device": {"caps": [1, {"x.y": 2}]}}, "context['device']['caps'][1]['x.y']", "'.'"),
        ({"l": [[{"$ne": 0}]]}, "context['l'][0][0]['$ne']", "'$'"),
        ({"d": {1: "x"}}, "context['d'][1]", "keys must be strings"),
        ({"t": {1, 2}}, "context['t']", "set is not a JSON value"),
        ({"f": math.inf}, "context['f']", "finite"),
    ],
)
def test_context_refuses_unsafe_keys_and_values_naming_the_path(
    playback_data: dict[str, Any], context: dict[str, Any], path: str, problem: str
) -> None:
    message = _error({**playback_data, "context": context})
    assert path in message
    assert problem in message


def _nested(depth: int) -> dict[str, Any]:
    tree: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        tree = {"n": tree}
    return tree


def test_context_depth_is_bounded(playback_data: dict[str, Any]) -> None:
    PlaybackHeartbeat.model_validate({**playback_data, "context": _nested(MAX_CONTEXT_DEPTH)})
    message = _error({**playback_data, "context": _nested(MAX_CONTEXT_DEPTH + 1)})
    assert f"deeper than {MAX_CONTEXT_DEPTH}" in message


def test_lists_count_as_a_level(playback_data: dict[str, Any]) -> None:
    context = {"a": {"b": {"c": {"d": [1]}}}}  # five levels: ok
    PlaybackHeartbeat.model_validate({**playback_data, "context": context})
    too_deep = {"a": {"b": {"c": {"d": [[1]]}}}}
    assert "deeper than" in _error({**playback_data, "context": too_deep})


def test_context_key_count_is_bounded(playback_data: dict[str, Any]) -> None:
    flat = {f"k{i}": i for i in range(MAX_CONTEXT_KEYS)}
    PlaybackHeartbeat.model_validate({**playback_data, "context": flat})
    nested = {"inner": {f"k{i}": i for i in range(MAX_CONTEXT_KEYS)}}  # 65 keys in all
    assert f"more than {MAX_CONTEXT_KEYS} keys" in _error({**playback_data, "context": nested})


def test_context_size_is_bounded(playback_data: dict[str, Any]) -> None:
    fits = {"blob": "x" * (MAX_CONTEXT_BYTES - len('{"blob":""}'))}
    assert len(json.dumps(fits, separators=(",", ":"))) == MAX_CONTEXT_BYTES
    PlaybackHeartbeat.model_validate({**playback_data, "context": fits})
    oversize = {"blob": "x" * MAX_CONTEXT_BYTES}
    assert f"more than {MAX_CONTEXT_BYTES}" in _error({**playback_data, "context": oversize})


def test_context_must_be_an_object(playback_data: dict[str, Any]) -> None:
    _error({**playback_data, "context": ["a"]})
    _error({**playback_data, "context": "device=tv"})


def test_context_accepts_every_json_value(playback_data: dict[str, Any]) -> None:
    context = {"s": "x", "i": 1, "f": 1.5, "b": True, "n": None, "l": [1, "a", {"k": []}]}
    event = PlaybackHeartbeat.model_validate({**playback_data, "context": context})
    assert event.context == context
