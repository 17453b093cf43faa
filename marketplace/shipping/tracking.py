"""Tracking: signed carrier webhooks and beat polling move a parcel forward until it is delivered
or returned; each new status has its effects (``parcels.enter_status``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace.errors import (
    ExternalServiceError,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders import lifecycle
from marketplace.orders.models import (
    Order,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from marketplace.shipping import carriers
from marketplace.shipping.errors import ShippingError
from marketplace.shipping.parcels import FUTURE_SKEW, enter_status, lock_shipment, naive_utc
from marketplace.transaction import use_case

log = logging.getLogger(__name__)
S = ShipmentStatus
SIGNATURE_TOLERANCE_SECONDS = 300
POLL_BATCH = 200
# How far along a parcel is; a scan only moves it forward. Customs and a customs hold are the
# same stage: there the newer scan wins (a hold is released, or customs hold it after all).
RANK = {S.LABEL_CREATED: 1, S.HANDED_OVER: 2, S.IN_TRANSIT: 3, S.CUSTOMS: 4, S.CUSTOMS_HOLD: 4,
        S.OUT_FOR_DELIVERY: 5, S.DELIVERED: 6, S.RETURNED: 6}
FINAL = frozenset({S.DELIVERED, S.RETURNED})
IN_FLIGHT = tuple(status for status in RANK if status not in FINAL)


class CarrierSignatureInvalid(Unauthorized):
    type = "invalid-carrier-signature"
    title = "Invalid carrier signature"
    code = ShippingError.CARRIER_SIGNATURE_INVALID


def _moves(shipment: Shipment, status: S, occurred_at: datetime) -> bool:
    current = S(shipment.status)
    if current not in RANK or current in FINAL or status == current:
        return False
    if RANK[status] != RANK[current]:
        return RANK[status] > RANK[current]
    return occurred_at >= shipment.status_at


def _apply_scan(order: Order, shipment: Shipment, *, status: str, occurred_at: datetime,
                location: str, description: str, source: str,
                external_id: str | None = None) -> bool:
    """Record a scan; the shipment moves only forward. True if its status changed."""
    status = S(status)
    event = ShipmentEvent(shipment_id=shipment.id, carrier=shipment.carrier,
                          external_id=external_id, status=status, occurred_at=occurred_at,
                          location=location[:200], description=description[:500], source=source)
    db.session.add(event)
    moved = _moves(shipment, status, occurred_at)
    if moved:
        lifecycle.record_scan(shipment, status, occurred_at)
        enter_status(order, shipment, event)
    db.session.flush()
    return moved


def webhook_secrets(carrier: str) -> list[str]:
    """The carrier's signing secrets (several while one is rotated): the
    ``CARRIER_WEBHOOK_SECRETS`` setting, a dict ``{carrier: secret or [secrets]}`` or the
    environment's ``carrier=secret,carrier=secret`` form."""
    configured = current_app.config.get("CARRIER_WEBHOOK_SECRETS")
    if configured is None:
        configured = os.environ.get("CARRIER_WEBHOOK_SECRETS", "")
    if isinstance(configured, str):
        pairs = [item.partition("=") for item in configured.split(",") if "=" in item]
        return [secret.strip() for name, _, secret in pairs
                if name.strip() == carrier and secret.strip()]
    value = configured.get(carrier) or []
    return [value] if isinstance(value, str) else [secret for secret in value if secret]


def sign_carrier_payload(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``X-Carrier-Signature`` header for ``body``: ``t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>." + body>`` (Stripe's scheme). What a carrier, or a test, sends."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_carrier_signature(carrier: str, body: bytes, header: str | None, *,
                             now: float | None = None) -> None:
    """401 unless ``header`` signs ``body`` with one of the carrier's secrets, recently."""
    carriers.get_carrier(carrier)
    secrets = webhook_secrets(carrier)
    if not secrets:
        raise CarrierSignatureInvalid(f"No webhook secret is configured for {carrier}.")
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise CarrierSignatureInvalid("The X-Carrier-Signature header is missing or malformed.")
    if abs((time.time() if now is None else now) - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise CarrierSignatureInvalid("The signature's timestamp is too old or in the future.")
    signed = f"{timestamp}.".encode() + body
    expected = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
                for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise CarrierSignatureInvalid("The signature does not match the body.")


def _known_event(carrier: str, event_id: str) -> bool:
    found = db.session.execute(select(ShipmentEvent.id).where(
        ShipmentEvent.carrier == carrier, ShipmentEvent.external_id == event_id)).first()
    return found is not None


def record_carrier_event(carrier: str, *, event_id: str, tracking_number: str, status: str,
                         occurred_at: datetime, location: str = "",
                         description: str = "") -> tuple[Shipment, bool]:
    """Apply one verified carrier event; returns ``(shipment, duplicate)``. An event id seen
    before changes nothing."""
    occurred = naive_utc(occurred_at)
    if occurred > utcnow() + FUTURE_SKEW:
        raise ValidationFailed("The event is dated in the future.",
                               code=ShippingError.EVENT_IN_FUTURE,
                               errors={"occurred_at": ["is in the future"]})
    shipment_id = db.session.execute(select(Shipment.id).where(
        Shipment.carrier == carrier, Shipment.tracking_number == tracking_number)
    ).scalar_one_or_none()
    if shipment_id is None:
        raise NotFound(f"No {carrier} parcel {tracking_number} of ours.",
                       code=ShippingError.PARCEL_NOT_FOUND)
    if _known_event(carrier, event_id):
        return db.session.get(Shipment, shipment_id), True
    try:
        return _record_scan_once(shipment_id, carrier, event_id, status=status,
                                 occurred_at=occurred, location=location,
                                 description=description)
    except IntegrityError:  # a concurrent delivery of the same event id committed first
        return db.session.get(Shipment, shipment_id), True


@use_case
def _record_scan_once(shipment_id: str, carrier: str, event_id: str, *, status: str,
                      occurred_at: datetime, location: str,
                      description: str) -> tuple[Shipment, bool]:
    order, shipment = lock_shipment(shipment_id)
    if _known_event(carrier, event_id):  # a concurrent delivery of the same event won
        return shipment, True
    _apply_scan(order, shipment, status=status, occurred_at=occurred_at, location=location,
                description=description, source="webhook", external_id=event_id)
    return shipment, False


def poll_tracking(limit: int = POLL_BATCH) -> int:
    """Ask the carriers about parcels not yet delivered (least recently polled first) and record
    what they have not told us yet; returns how many new scans were recorded."""
    ids = db.session.execute(
        select(Shipment.id).where(Shipment.status.in_(IN_FLIGHT),
                                  Shipment.tracking_number.is_not(None))
        .order_by(Shipment.polled_at.asc().nulls_first(), Shipment.id).limit(limit)
    ).scalars().all()
    db.session.rollback()  # only read: end it before the carriers are asked
    return sum(_poll_one(shipment_id) for shipment_id in ids)


def _poll_one(shipment_id: str) -> int:
    shipment = db.session.get(Shipment, shipment_id)
    carrier, tracking_number = shipment.carrier, shipment.tracking_number
    db.session.rollback()  # no transaction stays open across the carrier's answer
    try:
        scans = carriers.get_carrier(carrier).track(tracking_number)
    except (ExternalServiceError, NotFound) as exc:
        # This parcel waits for the next sweep; the others are still polled now.
        log.warning("tracking %s %s failed: %s", carrier, tracking_number, exc.detail)
        _polled(shipment_id)
        return 0
    return _record_polled_scans(shipment_id, scans)


@use_case
def _polled(shipment_id: str) -> None:
    db.session.execute(update(Shipment).where(Shipment.id == shipment_id)
                       .values(polled_at=utcnow()))


@use_case
def _record_polled_scans(shipment_id: str, scans) -> int:
    order, shipment = lock_shipment(shipment_id)
    seen = {event.status for event in shipment.events}
    recorded = 0
    for scan in sorted(scans, key=lambda s: s.occurred_at):
        if scan.status in seen or S(scan.status) not in RANK:
            continue
        _apply_scan(order, shipment, status=scan.status, occurred_at=scan.occurred_at,
                    location=scan.location, description=scan.description, source="poll")
        seen.add(scan.status)
        recorded += 1
    shipment.polled_at = utcnow()
    return recorded
