"""Piece histories as GS1 EPCIS 2.0 documents, validated against GS1's own JSON Schema
(tests/data/epcis, with its $ref'd child schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.provenance import pieces
from tests.provenance.helpers import PUBLIC_URL, verified_label

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "epcis"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    resources = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    root = json.loads((SCHEMAS / "EPCIS-JSON-Schema-root.json").read_text())
    Draft7Validator.check_schema(root)
    return Draft7Validator(root, registry=registry, format_checker=FormatChecker())


def test_the_schema_itself_refuses_a_broken_document(validator):
    assert not validator.is_valid({"type": "EPCISDocument"})
    assert not validator.is_valid({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2025-01-01T00:00:00Z",
        "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "SOMETIMES",
                                     "eventTime": "yesterday", "epcList": ["not a uri"]}]}})


def test_a_piece_history_is_a_valid_epcis_document(client, actors, validator):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    for event_type, key in (("packed", "p"), ("shipped", "s"), ("delivered", "d"),
                            ("returned", "r")):
        pieces.record_piece_event(serial, event_type, key=key,
                                  place={"city": "Berlin", "country": "DE"}
                                  if event_type == "delivered" else None)
    db.session.commit()
    response = client.get(f"/api/v1/provenance/{code}/pieces/{serial}/epcis")
    assert response.status_code == 200
    document = response.get_json()
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]

    events = document["epcisBody"]["eventList"]
    history = client.get(f"/api/v1/provenance/{code}/pieces/{serial}").get_json()
    assert [(e["bizStep"], e["disposition"]) for e in events] == [
        ("commissioning", "active"), ("inspecting", "conformant"),
        ("retail_selling", "retail_sold"), ("packing", "in_progress"),
        ("shipping", "in_transit"), ("receiving", "retail_sold"), ("receiving", "returned")]
    assert [e["action"] for e in events] == ["ADD"] + ["OBSERVE"] * 6
    assert all(e["epcList"] == [f"{PUBLIC_URL}/provenance/{code}?piece={serial}"]
               for e in events)
    assert [e["eventTime"] for e in events] == [e["time"] for e in history["events"]]
    assert events[0]["readPoint"] == {"id": "urn:sheber:place:KZ:Almaty"}
    assert events[5]["readPoint"] == {"id": "urn:sheber:place:DE:Berlin"}
    assert events[3]["readPoint"] == {"id": f"{PUBLIC_URL}/"}
    assert events[0]["eventID"] == (f"{PUBLIC_URL}/api/v1/transparency/entries/"
                                    f"{history['events'][0]['log_index']}")
    # each event validates on its own, too (the schema's ObjectEvent branch)
    for event in events:
        single = {"@context": document["@context"], **event}
        assert validator.is_valid(single), list(validator.iter_errors(single))


def test_unknown_pieces_are_404(client, actors):
    code = verified_label(client, actors)
    response = client.get(f"/api/v1/provenance/{code}/pieces/{code}-9999/epcis")
    assert response.status_code == 404
