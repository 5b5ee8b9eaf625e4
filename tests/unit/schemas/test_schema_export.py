from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from riverbed.commands.schemas import command
from schemas import DLQ_TOPIC, TOPIC_PARTITIONS, Contract, OrderPlaced, Payload, Registry, registry
from schemas.export import (
    ASYNCAPI_FILENAME,
    asyncapi_document,
    envelope_schema,
    export_documents,
    json_schemas,
    render,
)
from schemas.snapshots import load_published, plan_snapshots

pytestmark = pytest.mark.unit


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_one_schema_per_registered_version() -> None:
    names = set(json_schemas())
    assert names == {f"{p.EVENT_TYPE}.v{p.EVENT_VERSION}.json" for p in registry.all()}
    assert "order.placed.v1.json" in names


def test_envelope_schema_pins_type_and_version_and_forbids_extras() -> None:
    schema = envelope_schema(OrderPlaced)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["type"]["const"] == "order.placed"
    assert schema["properties"]["version"]["const"] == 1
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["OrderPlaced"]["additionalProperties"] is False
    price = schema["$defs"]["OrderLine"]["properties"]["unit_price"]
    assert price["type"] == "string"  # decimals travel as strings
    for ref in _refs(schema):
        _resolve(schema, ref)


def test_asyncapi_document_is_self_contained() -> None:
    doc = asyncapi_document(app_version="9.9.9")
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == "9.9.9"
    for ref in _refs(doc):
        _resolve(doc, ref)  # every reference lands inside the document
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(addresses) == set(TOPIC_PARTITIONS)
    for topic, channel in addresses.items():
        assert channel["bindings"]["kafka"]["partitions"] == TOPIC_PARTITIONS[topic]
    assert addresses[DLQ_TOPIC]["messages"] == {}
    assert set(addresses["riverbed.orders"]["messages"]) == {
        "order.placed.v1",
        "order.cancelled.v1",
    }
    message = doc["components"]["messages"]["order.placed.v1"]
    assert message["headers"]["properties"]["riverbed-type"]["const"] == "order.placed"
    assert message["headers"]["properties"]["riverbed-version"]["const"] == "1"
    assert "riverbed-event-id" in message["headers"]["required"]
    assert message["bindings"]["kafka"]["key"]["description"] == "the payload's store_id"
    assert len(doc["components"]["messages"]) == len(registry.all())


def test_asyncapi_keeps_same_named_definitions_of_two_versions_apart() -> None:
    class OrderLine(Contract):  # a v2 line, same name, another shape
        sku: str
        gift: bool = False

    class OrderPlacedV2(Payload):
        EVENT_TYPE = "order.placed"
        EVENT_VERSION = 2
        order_id: str
        store_id: str
        lines: tuple[OrderLine, ...]

    doc = asyncapi_document(app_version="1", source=Registry([OrderPlaced, OrderPlacedV2]))
    schemas = doc["components"]["schemas"]
    assert "gift" not in schemas["OrderLine"]["properties"]
    assert "gift" in schemas["order.placed.v2.OrderLine"]["properties"]
    v2 = _resolve(doc, schemas["order.placed.v2"]["properties"]["payload"]["$ref"])
    assert v2["properties"]["lines"]["items"] == {
        "$ref": "#/components/schemas/order.placed.v2.OrderLine"
    }
    for ref in _refs(doc):
        _resolve(doc, ref)


def test_render_is_stable() -> None:
    assert render({"b": 1, "a": "é"}) == '{\n  "b": 1,\n  "a": "é"\n}\n'
    first = export_documents(app_version="1")
    assert first == export_documents(app_version="1")
    assert ASYNCAPI_FILENAME in first


def test_cli_export_writes_every_document(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, ["export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert written == set(json_schemas()) | {ASYNCAPI_FILENAME}
    schema = json.loads((tmp_path / "out" / "order.placed.v1.json").read_text())
    assert schema == json.loads(render(envelope_schema(OrderPlaced)))


def test_cli_snapshot_then_check(tmp_path: Path) -> None:
    runner = CliRunner()
    published = tmp_path / "published"
    first = runner.invoke(command, ["snapshot", "--published", str(published)])
    assert first.exit_code == 0, first.output
    assert "published order.placed.v1.json" in first.output
    again = runner.invoke(command, ["snapshot", "--published", str(published)])
    assert "nothing to publish" in again.output
    check = runner.invoke(command, ["check", "--published", str(published)])
    assert check.exit_code == 0, check.output
    assert "all backward compatible" in check.output


def test_cli_check_fails_on_a_breaking_change(tmp_path: Path) -> None:
    schema = envelope_schema(OrderPlaced)
    schema["$defs"]["OrderPlaced"]["properties"]["lines"]["maxItems"] = 1000  # looser then
    (tmp_path / "order.placed.v1.json").write_text(render(schema))
    result = CliRunner().invoke(command, ["check", "--published", str(tmp_path)])
    assert result.exit_code == 1
    assert "BREAKING order.placed.v1.json: payload.lines: constraint_tightened" in result.output
    assert "not yet published: order.cancelled.v1.json" in result.output


def test_snapshot_refresh_only_replaces_compatibly(tmp_path: Path) -> None:
    stricter = envelope_schema(OrderPlaced)
    stricter["$defs"]["OrderPlaced"]["properties"]["lines"]["maxItems"] = 10  # tighter then
    looser = envelope_schema(OrderPlaced)
    looser["$defs"]["OrderPlaced"]["properties"]["lines"]["maxItems"] = 1000
    current = json_schemas()
    plan = plan_snapshots(
        {
            "order.placed.v1.json": stricter,
            "order.cancelled.v1.json": current["order.cancelled.v1.json"],
        },
        current,
        update_compatible=True,
    )
    assert plan.updated == ("order.placed.v1.json",)
    assert "order.cancelled.v1.json" not in plan.new
    refused = plan_snapshots({"order.placed.v1.json": looser}, current, update_compatible=True)
    assert list(refused.refused) == ["order.placed.v1.json"]
    assert refused.updated == ()

    (tmp_path / "order.placed.v1.json").write_text(render(looser))
    result = CliRunner().invoke(
        command, ["snapshot", "--published", str(tmp_path), "--update-compatible"]
    )
    assert result.exit_code == 1
    assert "REFUSED order.placed.v1.json" in result.output
    assert load_published(tmp_path)["order.placed.v1.json"] == json.loads(render(looser))
