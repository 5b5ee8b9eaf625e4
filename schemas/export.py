"""Pure functions that turn the registry into published documents.

One JSON Schema per (type, version), of the whole envelope with that payload (what a
consumer in any language receives), and one AsyncAPI 3.0 document of the topics and
messages. JSON rather than YAML so exporting needs no extra dependency in production.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.base import Payload
from schemas.envelope import envelope_model
from schemas.registry import Registry, registry
from schemas.topics import DLQ_TOPIC, TOPIC_PARTITIONS, TOPIC_RULES, TopicRule, rule_for
from schemas.traceparent import TRACEPARENT_PATTERN
from schemas.wire import (
    CONTENT_TYPE,
    HEADER_CONTENT_TYPE,
    HEADER_EVENT_ID,
    HEADER_TRACEPARENT,
    HEADER_TYPE,
    HEADER_VERSION,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
ASYNCAPI_FILENAME = "asyncapi.json"
KAFKA_BINDING_VERSION = "0.5.0"

Document = dict[str, Any]


def schema_name(event_type: str, version: int) -> str:
    """The file name of one contract's schema, e.g. ``order.placed.v1.json``."""
    return f"{event_type}.v{version}.json"


def envelope_schema(payload: type[Payload]) -> Document:
    """The JSON Schema (2020-12, validation mode) of the envelope carrying ``payload``."""
    schema = envelope_model(payload).model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def json_schemas(source: Registry = registry) -> dict[str, Document]:
    """Every registered contract's envelope schema, by file name."""
    return {schema_name(p.EVENT_TYPE, p.EVENT_VERSION): envelope_schema(p) for p in source.all()}


def render(document: Mapping[str, Any]) -> str:
    """Serialize a document the same way every time, so snapshots diff cleanly."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def export_documents(*, app_version: str, source: Registry = registry) -> dict[str, str]:
    """Every file ``riverbed schemas export`` writes, by name, rendered."""
    documents = {name: render(doc) for name, doc in json_schemas(source).items()}
    documents[ASYNCAPI_FILENAME] = render(asyncapi_document(app_version=app_version, source=source))
    return documents


def _message_id(payload: type[Payload]) -> str:
    return f"{payload.EVENT_TYPE}.v{payload.EVENT_VERSION}"


def _channel_id(topic: str) -> str:
    return topic.removeprefix("riverbed.")


def _hoist(schema: Document, prefix: str, into: dict[str, Document]) -> Document:
    """Move a schema's ``$defs`` into AsyncAPI components, rewriting its references.

    Definitions shared unchanged by several messages (``StockLine``) are stored once; if
    any of this schema's would clash with a different one of the same name (a later
    version's), all of its definitions are stored as ``<prefix>.<Name>`` instead.
    """
    schema = {k: v for k, v in schema.items() if k != "$schema"}
    defs: dict[str, Document] = schema.pop("$defs", {})

    def moved(names: dict[str, str]) -> Document:
        text = json.dumps({"defs": defs, "schema": schema})
        for old, new in names.items():
            text = text.replace(f'"#/$defs/{old}"', f'"#/components/schemas/{new}"')
        result: Document = json.loads(text)
        result["defs"] = {names[name]: d for name, d in result["defs"].items()}
        return result

    result = moved({name: name for name in defs})
    if any(into.get(name, d) != d for name, d in result["defs"].items()):
        result = moved({name: f"{prefix}.{name}" for name in defs})
    into.update(result["defs"])
    hoisted: Document = result["schema"]
    return hoisted


def _headers_schema(payload: type[Payload]) -> Document:
    return {
        "type": "object",
        "properties": {
            HEADER_TYPE: {"type": "string", "const": payload.EVENT_TYPE},
            HEADER_VERSION: {"type": "string", "const": str(payload.EVENT_VERSION)},
            HEADER_EVENT_ID: {"type": "string", "format": "uuid"},
            HEADER_CONTENT_TYPE: {"type": "string", "const": CONTENT_TYPE},
            HEADER_TRACEPARENT: {"type": "string", "pattern": TRACEPARENT_PATTERN},
        },
        "required": [HEADER_TYPE, HEADER_VERSION, HEADER_EVENT_ID, HEADER_CONTENT_TYPE],
    }


def _message(payload: type[Payload], rule: TopicRule, schemas: dict[str, Document]) -> Document:
    message_id = _message_id(payload)
    schemas[message_id] = _hoist(envelope_schema(payload), message_id, schemas)
    summary = (payload.__doc__ or "").strip().split("\n")[0]
    return {
        "name": payload.EVENT_TYPE,
        "title": f"{payload.EVENT_TYPE} v{payload.EVENT_VERSION}",
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "headers": _headers_schema(payload),
        "payload": {"$ref": f"#/components/schemas/{message_id}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the payload's {rule.key_field}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(topic: str, message_ids: list[str], description: str) -> Document:
    return {
        "address": topic,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in message_ids},
        "bindings": {
            "kafka": {
                "topic": topic,
                "partitions": TOPIC_PARTITIONS[topic],
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi_document(*, app_version: str, source: Registry = registry) -> Document:
    """An AsyncAPI 3.0 document: a channel per topic, a message per (type, version)."""
    schemas: dict[str, Document] = {}
    messages: dict[str, Document] = {}
    by_topic: dict[str, list[str]] = {rule.name: [] for rule in TOPIC_RULES}
    for payload in source.all():
        rule = rule_for(payload.EVENT_TYPE)
        messages[_message_id(payload)] = _message(payload, rule, schemas)
        by_topic[rule.name].append(_message_id(payload))
    channels = {
        _channel_id(rule.name): _channel(
            rule.name,
            by_topic[rule.name],
            f"Keyed by {rule.key_field}; {rule.partitions} partitions.",
        )
        for rule in TOPIC_RULES
    }
    channels[_channel_id(DLQ_TOPIC)] = _channel(
        DLQ_TOPIC, [], "Messages that failed permanently, with their original value and key."
    )
    operations = {
        f"send-{_channel_id(rule.name)}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_channel_id(rule.name)}"},
            "messages": [
                {"$ref": f"#/channels/{_channel_id(rule.name)}/messages/{m}"}
                for m in by_topic[rule.name]
            ],
        }
        for rule in TOPIC_RULES
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Riverbed events",
            "version": app_version,
            "description": "Orders, inventory and viewing events on Apache Kafka.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }
