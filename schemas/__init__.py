"""Riverbed's event contracts: typed, versioned, frozen pydantic models and their wire format.

Producers build a payload and wrap it with :func:`new_event`, then :func:`encode` it;
consumers :func:`decode` bytes and headers into the concrete :class:`Envelope` of the
message's (type, version). Topics, keys and partition counts live in
:mod:`schemas.topics`; :mod:`schemas.compat` keeps published versions backward
compatible.
"""

from schemas.base import Contract, Payload
from schemas.context import MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH, MAX_CONTEXT_KEYS, Context
from schemas.envelope import Envelope, envelope_model, new_event
from schemas.errors import (
    DecodeError,
    FieldError,
    SchemaError,
    UnknownEventType,
    UnknownEventVersion,
    ValidationFailed,
)
from schemas.inventory import (
    StockAdjusted,
    StockLine,
    StockLow,
    StockReceived,
    StockReleased,
    StockReserved,
)
from schemas.orders import (
    MAX_ORDER_LINES,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    RejectionReason,
)
from schemas.registry import Registry, registry
from schemas.topics import (
    DEFAULT_PARTITIONS,
    DLQ_PARTITIONS,
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    STORE_PARTITIONS,
    TOPIC_PARTITIONS,
    TOPIC_RULES,
    VIEWING_PARTITIONS,
    VIEWING_TOPIC,
    TopicRule,
    key_for,
    rule_for,
    topic_for,
)
from schemas.viewing import (
    PlaybackCompleted,
    PlaybackEvent,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
)
from schemas.wire import (
    CONTENT_TYPE,
    HEADER_CONTENT_TYPE,
    HEADER_EVENT_ID,
    HEADER_TRACEPARENT,
    HEADER_TYPE,
    HEADER_VERSION,
    decode,
    encode,
)

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_PARTITIONS",
    "DLQ_PARTITIONS",
    "DLQ_TOPIC",
    "HEADER_CONTENT_TYPE",
    "HEADER_EVENT_ID",
    "HEADER_TRACEPARENT",
    "HEADER_TYPE",
    "HEADER_VERSION",
    "INVENTORY_TOPIC",
    "MAX_CONTEXT_BYTES",
    "MAX_CONTEXT_DEPTH",
    "MAX_CONTEXT_KEYS",
    "MAX_ORDER_LINES",
    "ORDERS_TOPIC",
    "ORDER_DECISIONS_TOPIC",
    "STOCK_ALERTS_TOPIC",
    "STORE_PARTITIONS",
    "TOPIC_PARTITIONS",
    "TOPIC_RULES",
    "VIEWING_PARTITIONS",
    "VIEWING_TOPIC",
    "Context",
    "Contract",
    "DecodeError",
    "Envelope",
    "FieldError",
    "OrderCancelled",
    "OrderConfirmed",
    "OrderLine",
    "OrderPlaced",
    "OrderRejected",
    "Payload",
    "PlaybackCompleted",
    "PlaybackEvent",
    "PlaybackHeartbeat",
    "PlaybackPaused",
    "PlaybackResumed",
    "PlaybackStarted",
    "PlaybackStopped",
    "Registry",
    "RejectionReason",
    "SchemaError",
    "StockAdjusted",
    "StockLine",
    "StockLow",
    "StockReceived",
    "StockReleased",
    "StockReserved",
    "TopicRule",
    "UnknownEventType",
    "UnknownEventVersion",
    "ValidationFailed",
    "decode",
    "encode",
    "envelope_model",
    "key_for",
    "new_event",
    "registry",
    "rule_for",
    "topic_for",
]
