"""A piece's history as a GS1 EPCIS 2.0 document (JSON-LD), one ObjectEvent per chain event.

The piece's instance-level identifier is its label page URL with its serial; places are
``urn:sheber:place:<country>:<city>`` and events without a place are read at the marketplace
itself. Each event's id is its entry in the transparency log.
"""

from __future__ import annotations

from urllib.parse import quote

from marketplace.ids import isoformat, utcnow
from marketplace.provenance import credentials

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# event type -> (action, CBV bizStep, CBV disposition)
STEPS = {
    "made": ("ADD", "commissioning", "active"),
    "verified": ("OBSERVE", "inspecting", "conformant"),
    "sold": ("OBSERVE", "retail_selling", "retail_sold"),
    "packed": ("OBSERVE", "packing", "in_progress"),
    "shipped": ("OBSERVE", "shipping", "in_transit"),
    "delivered": ("OBSERVE", "receiving", "retail_sold"),
    "returned": ("OBSERVE", "receiving", "returned"),
}


def piece_identifier(history: dict) -> str:
    return history["url"]


def read_point(place) -> str:
    if isinstance(place, dict) and place.get("country") and place.get("city"):
        return (f"urn:sheber:place:{quote(str(place['country']).upper(), safe='')}:"
                f"{quote(str(place['city']), safe='')}")
    return credentials.public_url() + "/"


def _event(history: dict, event: dict) -> dict:
    action, biz_step, disposition = STEPS.get(event["event_type"], ("OBSERVE", "other",
                                                                    "unknown"))
    if event.get("log_index") is not None:
        event_id = f"{credentials.public_url()}/api/v1/transparency/entries/{event['log_index']}"
    else:
        event_id = f"ni:///sha-256;{event['hash']}"
    return {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": event["time"],
        "eventTimeZoneOffset": "+00:00",
        "action": action,
        "epcList": [piece_identifier(history)],
        "bizStep": biz_step,
        "disposition": disposition,
        "readPoint": {"id": read_point(event.get("place"))},
    }


def epcis_document(history: dict) -> dict:
    """``history``: ``pieces.piece_history`` of one piece."""
    return {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": isoformat(utcnow().replace(microsecond=0)),
        "epcisBody": {"eventList": [_event(history, event) for event in history["events"]]},
    }
