"""Every event contract Riverbed knows, looked up by (type, version).

Decoding asks the registry which model a message's headers name; an unknown pair is a
permanent error (:class:`UnknownEventType` / :class:`UnknownEventVersion`), so the
message goes to the dead-letter topic. Adding a contract is a line in :data:`PAYLOADS`
and, for a new type, one in ``schemas.topics``; a new version is a new class next to the
old one (its topic and key rule stay those of its type).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property
from typing import Annotated, Any, NoReturn, Union

from pydantic import Discriminator, Tag, TypeAdapter

from schemas.base import Payload
from schemas.delivery import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    ShopperLocation,
    ShopperOffline,
    ShopperOnline,
)
from schemas.envelope import Envelope, envelope_model
from schemas.errors import UnknownEventType, UnknownEventVersion
from schemas.fields import EVENT_TYPE_PATTERN
from schemas.inventory import StockAdjusted, StockLow, StockReceived, StockReleased, StockReserved
from schemas.orders import OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected
from schemas.viewing import (
    PlaybackCompleted,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
)

PAYLOADS: tuple[type[Payload], ...] = (
    OrderPlaced,
    OrderCancelled,
    OrderConfirmed,
    OrderRejected,
    StockReceived,
    StockAdjusted,
    StockReserved,
    StockReleased,
    StockLow,
    PlaybackStarted,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStopped,
    PlaybackCompleted,
    ShopperOnline,
    ShopperOffline,
    ShopperLocation,
    DeliveryAssigned,
    DeliveryPickedUp,
    DeliveryDelivered,
    DeliveryFailed,
)

# The label of every event type the registry does not know (or a message without one).
OTHER_TYPE = "other"


class Registry:
    """A read-only map from (event type, version) to payload and envelope models."""

    def __init__(self, payloads: Iterable[type[Payload]]) -> None:
        self._payloads: dict[tuple[str, int], type[Payload]] = {}
        self._envelopes: dict[tuple[str, int], type[Envelope[Any]]] = {}
        self._versions: dict[str, list[int]] = {}
        for payload in payloads:
            key = (payload.EVENT_TYPE, payload.EVENT_VERSION)
            if re.fullmatch(EVENT_TYPE_PATTERN, key[0]) is None or key[1] < 1:
                raise ValueError(f"{payload.__name__}: bad event type or version {key}")
            if key in self._payloads:
                raise ValueError(f"{key[0]} v{key[1]} is registered twice")
            self._payloads[key] = payload
            self._envelopes[key] = envelope_model(payload)
            self._versions.setdefault(payload.EVENT_TYPE, []).append(payload.EVENT_VERSION)
        for versions in self._versions.values():
            versions.sort()

    def get(self, event_type: str, version: int) -> type[Payload]:
        """The payload model of (type, version); raises an ``Unknown*`` error."""
        payload = self._payloads.get((event_type, version))
        if payload is None:
            self._raise_unknown(event_type, version)
        return payload

    def envelope(self, event_type: str, version: int) -> type[Envelope[Any]]:
        """The concrete envelope model of (type, version); raises like :meth:`get`."""
        envelope = self._envelopes.get((event_type, version))
        if envelope is None:
            self._raise_unknown(event_type, version)
        return envelope

    def versions(self, event_type: str) -> tuple[int, ...]:
        """The registered versions of a type, oldest first; raises ``UnknownEventType``."""
        if event_type not in self._versions:
            raise UnknownEventType(event_type)
        return tuple(self._versions[event_type])

    def latest(self, event_type: str) -> type[Payload]:
        """The newest registered version of a type: the one producers should emit."""
        return self.get(event_type, self.versions(event_type)[-1])

    def all(self) -> tuple[type[Payload], ...]:
        """Every registered payload model, sorted by (type, version)."""
        return tuple(self._payloads[key] for key in sorted(self._payloads))

    @cached_property
    def any_envelope(self) -> TypeAdapter[Envelope[Any]]:
        """Parse any registered envelope to its concrete model, picked by (type, version).

        For pydantic contexts that take "any event" (a request body, a test fixture);
        Kafka consumers use ``schemas.wire.decode``, which reads the headers first.
        """
        members = tuple(
            Annotated[model, Tag(_tag_of(*key))] for key, model in sorted(self._envelopes.items())
        )
        union: Any = Annotated[
            Union[members],  # noqa: UP007 - a runtime tuple of members needs Union[...]
            Discriminator(
                _tag,
                custom_error_type="unknown_event",
                custom_error_message="no contract for this (type, version)",
            ),
        ]
        adapter: TypeAdapter[Envelope[Any]] = TypeAdapter(union)
        return adapter

    def __contains__(self, key: object) -> bool:
        return key in self._payloads

    def type_label(self, value: str | bytes | None) -> str:
        """``value`` as a metric label: a registered event type, else :data:`OTHER_TYPE`.

        A type read from a message header or a request body is whatever a client wrote;
        as a label it would add one series per distinct string, so only the registered
        types (15 today) pass through.
        """
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        return value if value in self._versions else OTHER_TYPE

    def _raise_unknown(self, event_type: str, version: int) -> NoReturn:
        known = self._versions.get(event_type)
        if known is None:
            raise UnknownEventType(event_type)
        raise UnknownEventVersion(event_type, version, known)


def _tag_of(event_type: object, version: object) -> str:
    return f"{event_type}.v{version}"


def _tag(value: Any) -> str | None:
    """The discriminator of a raw or built envelope: ``order.placed.v1``."""
    if isinstance(value, dict):
        event_type, version = value.get("type"), value.get("version")
    else:
        event_type, version = getattr(value, "type", None), getattr(value, "version", None)
    if event_type is None or version is None:
        return None
    return _tag_of(event_type, version)


registry = Registry(PAYLOADS)
