"""Reading a request body safely: JSON only, bounded before and while it streams.

The declared ``Content-Length`` is checked before anything is read, and the bytes
actually received are counted as they arrive (a client may lie or stream chunked), so
no body over ``gateway_max_body_bytes`` is ever held in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic_core import from_json

from producers.gateway.errors import ApiError

JSON_MEDIA_TYPE = "application/json"


def check_content_type(content_type: str | None, content_encoding: str | None = None) -> None:
    """Refuse (415) anything but ``application/json`` in UTF-8, uncompressed."""
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != JSON_MEDIA_TYPE:
        shown = media.strip()[:100] or "none"
        raise ApiError(415, f"content type must be {JSON_MEDIA_TYPE}, got {shown}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise ApiError(415, "JSON bodies must be UTF-8")
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise ApiError(415, "compressed request bodies are not accepted")


async def read_limited(
    chunks: AsyncIterator[bytes], *, limit: int, content_length: str | None
) -> bytes:
    """The whole body, or :class:`ApiError` 413 as soon as it is known to exceed ``limit``."""
    if content_length is not None:
        if not content_length.strip().isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(content_length) > limit:
            raise ApiError(413, f"body of {int(content_length)} bytes is over the limit of {limit}")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def parse_json(body: bytes) -> Any:
    """Parse once, straight from bytes; 400 with the position for malformed JSON."""
    if not body:
        raise ApiError(400, "the body is empty")
    try:
        return from_json(body)
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
