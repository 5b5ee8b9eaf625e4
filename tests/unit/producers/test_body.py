"""Body limits and content types, before and while a body streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from producers.gateway.body import check_content_type, parse_json, read_limited
from producers.gateway.errors import ApiError

pytestmark = pytest.mark.unit


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def untouchable() -> AsyncIterator[bytes]:
    raise AssertionError("the body must not be read")
    yield b""  # pragma: no cover


async def test_a_body_within_the_limit_is_read_whole() -> None:
    assert await read_limited(chunks(b"ab", b"cd"), limit=4, content_length="4") == b"abcd"
    assert await read_limited(chunks(b"ab", b"cd"), limit=4, content_length=None) == b"abcd"


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(ApiError) as caught:
        await read_limited(untouchable(), limit=10, content_length="11")
    assert caught.value.status == 413


async def test_a_streamed_body_over_the_limit_is_refused_as_it_arrives() -> None:
    received: list[bytes] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            received.append(b"x" * 4)
            yield b"x" * 4

    with pytest.raises(ApiError) as caught:
        await read_limited(endless(), limit=10, content_length=None)
    assert caught.value.status == 413
    assert len(received) == 3  # stopped at the first chunk past the limit


async def test_a_body_longer_than_its_declared_length_is_still_bounded() -> None:
    with pytest.raises(ApiError) as caught:
        await read_limited(chunks(b"x" * 8, b"x" * 8), limit=10, content_length="2")
    assert caught.value.status == 413


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", ""])
async def test_a_malformed_content_length_is_a_bad_request(value: str) -> None:
    with pytest.raises(ApiError) as caught:
        await read_limited(untouchable(), limit=10, content_length=value)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
def test_json_content_types_pass(content_type: str) -> None:
    check_content_type(content_type)


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        (None, None),
        ("text/plain", None),
        ("application/x-www-form-urlencoded", None),
        ("application/json; charset=latin-1", None),
        ("application/json", "gzip"),
    ],
)
def test_other_content_types_are_unsupported(
    content_type: str | None, encoding: str | None
) -> None:
    with pytest.raises(ApiError) as caught:
        check_content_type(content_type, encoding)
    assert caught.value.status == 415


def test_malformed_or_empty_json_is_a_bad_request() -> None:
    for body in (b"", b"{", b"[1,]"):
        with pytest.raises(ApiError) as caught:
            parse_json(body)
        assert caught.value.status == 400
    assert parse_json(b'[{"a": 1}]') == [{"a": 1}]
