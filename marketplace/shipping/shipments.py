"""Shipments: packed fulfilments become one parcel per order with a label and customs papers from
the carrier adapter; a cultural-value piece holds the parcel until an operator records an export
permit; then the parcel is tracked (signed carrier webhooks and beat polling) until delivered.

Consolidation (one parcel per order): the operator stacks the artisans' packed boxes in Almaty.
Each box lies on its largest face (its sides sorted so that length >= width >= height); the parcel
is as long as the longest box, as wide as the widest and as high as all boxes together, and weighs
what the boxes weigh (each box's weight already includes its packaging).

Public functions for other domains: ``pack_fulfilment``, ``request_shipment``,
``record_export_permit``, ``buy_label``, ``visible_shipment``, ``shipment_paper``,
``shipments_for_order``, ``verify_carrier_signature``, ``record_carrier_event``,
``poll_tracking``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace import mail, outbox, provenance
from marketplace.accounts.models import Role, User
from marketplace.catalog.models import Product
from marketplace.errors import (
    Conflict,
    ExternalServiceError,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.ids import isoformat, new_id, utcnow
from marketplace.money import Money
from marketplace.orders import lifecycle
from marketplace.orders import service as orders
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from marketplace.shipping import carriers, papers
from marketplace.shipping.errors import ShippingError
from marketplace.shipping.rates import effective_rates, rates_file
from marketplace.shipping.service import customs_form_for
from marketplace.transaction import lock_rows, use_case

log = logging.getLogger(__name__)

SHIPMENT_REQUESTED = "shipment.requested"

MAX_PACKED_WEIGHT_G = 70_000  # the heaviest parcel any service takes
MAX_PACKED_SIDE_MM = 1_500  # the longest side any service takes
# A box lighter than 90 % of its pieces' declared weight is a typo (kg for g, a lost digit).
MIN_CONTENT_SHARE_PERCENT = 90
SIGNATURE_TOLERANCE_SECONDS = 300
FUTURE_SKEW = timedelta(hours=1)  # carriers' clocks; a scan further ahead is refused
POLL_BATCH = 200

S = ShipmentStatus
SHIPPABLE_ORDER = lifecycle.SHIPPABLE
# How far along a parcel is; a scan only moves it forward. Customs and a customs hold are the
# same stage: there the newer scan wins (a hold is released, or customs hold it after all).
RANK = {S.LABEL_CREATED: 1, S.IN_TRANSIT: 2, S.CUSTOMS: 3, S.CUSTOMS_HOLD: 3,
        S.OUT_FOR_DELIVERY: 4, S.DELIVERED: 5, S.RETURNED: 5}
FINAL = frozenset({S.DELIVERED, S.RETURNED})
IN_FLIGHT = tuple(status for status in RANK if status not in FINAL)

SUBJECTS = {
    S.LABEL_CREATED: "Your Sheber order has shipped",
    S.IN_TRANSIT: "Your parcel is on its way",
    S.CUSTOMS: "Your parcel has reached customs",
    S.CUSTOMS_HOLD: "Customs are holding your parcel",
    S.OUT_FOR_DELIVERY: "Your parcel is out for delivery",
    S.DELIVERED: "Your parcel has been delivered",
    S.RETURNED: "Your parcel is on its way back to us",
}


class CarrierSignatureInvalid(Unauthorized):
    type = "invalid-carrier-signature"
    title = "Invalid carrier signature"
    code = ShippingError.CARRIER_SIGNATURE_INVALID


# --- packing -------------------------------------------------------------------------------

def _fulfilment_for_artisan(fulfilment_id: str, user: User) -> Fulfilment:
    fulfilment = db.session.get(Fulfilment, fulfilment_id)
    if fulfilment is None:
        raise NotFound("No such fulfilment.", code=ShippingError.FULFILMENT_NOT_FOUND)
    if fulfilment.artisan_id == user.id:
        return fulfilment
    order = db.session.get(Order, fulfilment.order_id)
    if user.role == Role.OPERATOR or order.buyer_id == user.id:
        raise Forbidden("Only the artisan who made these pieces marks them packed.",
                        code=ShippingError.NOT_YOUR_FULFILMENT)
    raise NotFound("No such fulfilment.", code=ShippingError.FULFILMENT_NOT_FOUND)


def _check_box(weight_g: int, sides: tuple[int, int, int]) -> None:
    errors: dict[str, list[str]] = {}
    if isinstance(weight_g, bool) or not isinstance(weight_g, int) or not (
            0 < weight_g <= MAX_PACKED_WEIGHT_G):
        errors["weight_g"] = [f"must be a whole number of grams from 1 to {MAX_PACKED_WEIGHT_G}"]
    for name, side in zip("lwh", sides, strict=True):
        if isinstance(side, bool) or not isinstance(side, int) or not (
                0 < side <= MAX_PACKED_SIDE_MM):
            errors[f"dimensions_mm.{name}"] = [
                f"must be a whole number of millimetres from 1 to {MAX_PACKED_SIDE_MM}"]
    if errors:
        raise ValidationFailed("The parcel's weight or size is not possible.",
                               code=ShippingError.PARCEL_INVALID, errors=errors)


def _lines_of(order: Order, artisan_id: str) -> list[OrderLine]:
    return [line for line in order.lines if line.artisan_id == artisan_id]


def _serials(lines: list[OrderLine]) -> list[str]:
    return [serial for line in lines for serial in (line.serials or [])]


PACKABLE_FULFILMENTS = frozenset({FulfilmentStatus.PENDING, FulfilmentStatus.PACKED})


def pack_refusal(order: Order, fulfilment: Fulfilment) -> str | None:
    """Why this box cannot be (re)packed now, or None when it can: the rule pages show too."""
    if OrderStatus(order.status) not in SHIPPABLE_ORDER:
        return f"An order that is {order.status} is not packed."
    if fulfilment.status not in PACKABLE_FULFILMENTS:
        return f"This fulfilment is {fulfilment.status} already."
    if _open_shipment(order.id) is not None:
        return "The operator has already made the parcel for this order."
    return None


def parcel_refusal(order: Order) -> tuple[ShippingError, str] | None:
    """Why the operator cannot make this order's parcel now, or None when they can."""
    if OrderStatus(order.status) not in SHIPPABLE_ORDER:
        return (ShippingError.ORDER_NOT_SHIPPABLE,
                f"An order that is {order.status} cannot be shipped.")
    if _open_shipment(order.id) is not None:
        return ShippingError.SHIPMENT_EXISTS, "This order has its shipment already."
    return None


@use_case
def pack_fulfilment(fulfilment_id: str, user: User, *, weight_g: int, length_mm: int,
                    width_mm: int, height_mm: int) -> Fulfilment:
    """The artisan's box is packed: its weight (with packaging) and outer size. May be repeated
    to correct the figures until the operator has made the parcel."""
    fulfilment = _fulfilment_for_artisan(fulfilment_id, user)
    _check_box(weight_g, (length_mm, width_mm, height_mm))
    order = lifecycle.lock_order(fulfilment.order_id)
    db.session.refresh(fulfilment)
    refusal = pack_refusal(order, fulfilment)
    if refusal is not None:
        raise InvalidTransition(refusal, code=ShippingError.NOT_PACKABLE)
    lines = _lines_of(order, fulfilment.artisan_id)
    declared = sum((db.session.get(Product, line.product_id).weight_g or 0) * line.quantity
                   for line in lines)
    if weight_g * 100 < declared * MIN_CONTENT_SHARE_PERCENT:
        raise ValidationFailed(
            f"A box of {weight_g} g cannot hold pieces declared at {declared} g.",
            code=ShippingError.PARCEL_INVALID,
            errors={"weight_g": [f"lighter than the pieces inside ({declared} g declared)"]})

    lifecycle.mark_fulfilment_packed(fulfilment, weight_g=weight_g,
                                     dimensions=(length_mm, width_mm, height_mm),
                                     actor_id=user.id)
    lifecycle.add_event(order.id, "fulfilment_packed", actor_id=user.id, data={
        "fulfilment_id": fulfilment.id, "weight_g": weight_g,
        "dimensions_mm": {"l": length_mm, "w": width_mm, "h": height_mm}})
    for serial in _serials(lines):
        provenance.record_piece_event(serial, "packed", data={"weight_g": weight_g},
                                      place={"city": "Almaty", "country": "KZ"},
                                      key=f"packed-{fulfilment.id}")
    return fulfilment


# --- the parcel ----------------------------------------------------------------------------

def consolidate(boxes: list[tuple[int, int, int, int]]) -> tuple[int, tuple[int, int, int]]:
    """``(weight_g, (l, w, h))`` of one parcel stacked from ``(weight_g, l, w, h)`` boxes."""
    laid = [sorted(sides, reverse=True) for _, *sides in boxes]
    weight = sum(box[0] for box in boxes)
    return weight, (max(s[0] for s in laid), max(s[1] for s in laid), sum(s[2] for s in laid))


def _open_shipment(order_id: str) -> Shipment | None:
    shipment = db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id)).scalar_one_or_none()
    return shipment if shipment is not None and shipment.status != S.FAILED else None


def _lock(shipment_id: str) -> tuple[Order, Shipment]:
    """Lock the order, then its shipment (always in this order), and read both afresh."""
    order_id = db.session.execute(
        select(Shipment.order_id).where(Shipment.id == shipment_id)).scalar_one_or_none()
    if order_id is None:
        raise NotFound("No such shipment.", code=ShippingError.SHIPMENT_NOT_FOUND)
    order = lifecycle.lock_order(order_id)
    lock_rows(Shipment, [shipment_id])
    shipment = db.session.execute(
        select(Shipment).where(Shipment.id == shipment_id)
        .execution_options(populate_existing=True)).scalar_one()
    return order, shipment


@use_case
def request_shipment(order_id: str, operator: User) -> Shipment:
    """The operator turns an order whose boxes are all packed into one parcel. The label is
    bought by a task (outbox event ``shipment.requested``); a cultural-value piece holds the
    parcel (``held_export``) until an export permit is recorded."""
    order = lifecycle.lock_order(order_id)
    shipment = db.session.execute(
        select(Shipment).where(Shipment.order_id == order.id)).scalar_one_or_none()
    refusal = parcel_refusal(order)
    if refusal is not None and refusal[0] is ShippingError.SHIPMENT_EXISTS:
        raise Conflict(refusal[1], code=refusal[0], shipment_id=shipment.id)
    if refusal is not None:
        raise InvalidTransition(refusal[1], code=refusal[0])
    active = [f for f in order.fulfilments if f.status != FulfilmentStatus.CANCELLED]
    unpacked = [f.id for f in active if f.status != FulfilmentStatus.PACKED]
    if not active or unpacked:
        raise InvalidTransition("Every artisan must mark their pieces packed first.",
                                code=ShippingError.NOT_PACKED, unpacked_fulfilments=unpacked)
    if not customs_lines(order):
        raise InvalidTransition("Every piece of this order has been refunded; nothing to ship.",
                                code=ShippingError.NOTHING_TO_SHIP)
    option = order.shipping_option or {}
    spec = effective_rates().services.get(option.get("service", ""))
    if spec is None or option.get("carrier") not in carriers.carrier_names():
        raise Conflict("The order's shipping service is no longer offered; refund the shipping "
                       "or contact the buyer.", code=ShippingError.SERVICE_WITHDRAWN)
    weight, sides = consolidate([(f.packed_weight_g, f.packed_length_mm, f.packed_width_mm,
                                  f.packed_height_mm) for f in active])
    if weight > spec.max_weight_g or max(sides) > spec.max_length_mm:
        raise Conflict(code=ShippingError.PARCEL_TOO_LARGE,
                       detail=f"The consolidated parcel ({weight} g, {sides[0]} x {sides[1]} x "
                       f"{sides[2]} mm) is over the {spec.name} limits of "
                       f"{spec.max_weight_g} g and {spec.max_length_mm} mm.")
    held = any(provenance.is_cultural_value(line.product_id) for line in order.lines)

    if shipment is None:
        shipment = Shipment(id=new_id(), order_id=order.id)
        db.session.add(shipment)
    shipment.carrier, shipment.service = option["carrier"], spec.code
    shipment.duties_mode = order.duties_mode
    shipment.weight_g = weight
    shipment.length_mm, shipment.width_mm, shipment.height_mm = sides
    shipment.requested_by, shipment.last_error = operator.id, None
    lifecycle.request_shipment(shipment, held_for_export=held and not shipment.permit_number,
                               actor_id=operator.id)
    lifecycle.add_event(order.id, "shipment_requested", actor_id=operator.id,
                     data={"shipment_id": shipment.id, "status": shipment.status})
    if shipment.status == S.REQUESTED:
        outbox.emit(SHIPMENT_REQUESTED, {"shipment_id": shipment.id})
    return shipment


def _naive_utc(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@use_case
def record_export_permit(shipment_id: str, operator: User, *, permit_number: str,
                         issued_by: str, issued_at: datetime | date) -> Shipment:
    """Record the export permit of a held parcel and release it to the label task."""
    issued = _naive_utc(issued_at)
    errors = {}
    if not permit_number.strip():
        errors["permit_number"] = ["required"]
    if not issued_by.strip():
        errors["issued_by"] = ["required"]
    if issued > utcnow() + FUTURE_SKEW:
        errors["issued_at"] = ["is in the future"]
    if errors:
        raise ValidationFailed("The export permit is not complete.",
                               code=ShippingError.PERMIT_INVALID, errors=errors)
    order, shipment = _lock(shipment_id)
    if shipment.status != S.HELD_EXPORT:
        raise InvalidTransition(f"A shipment that is {shipment.status} is not held for an "
                                "export permit.", code=ShippingError.NOT_HELD_FOR_PERMIT)
    shipment.permit_number, shipment.permit_issued_by = permit_number.strip(), issued_by.strip()
    shipment.permit_issued_at, shipment.permit_recorded_by = issued, operator.id
    lifecycle.release_shipment(shipment)
    lifecycle.add_event(order.id, "export_permit", actor_id=operator.id, data={
        "shipment_id": shipment.id, "permit_number": shipment.permit_number,
        "issued_by": shipment.permit_issued_by, "issued_at": isoformat(issued)})
    outbox.emit(SHIPMENT_REQUESTED, {"shipment_id": shipment.id})
    return shipment


# --- label and customs papers ----------------------------------------------------------------

def sender_address() -> papers.Address:
    """Where parcels leave from: the ``SHIPPING_SENDER`` setting (a dict of ``papers.Address``
    fields), else the origin of the rates file."""
    configured = current_app.config.get("SHIPPING_SENDER")
    if configured:
        return papers.Address(**configured)
    origin = rates_file()["origin"]
    return papers.Address(name="Sheber", line1="Sheber consolidation centre",
                          city=origin["city"], country=origin["country"],
                          postal_code=origin.get("postal_code", ""))


def _recipient(order: Order) -> papers.Address:
    address = order.shipping_address or {}
    return papers.Address(
        name=address.get("name", ""), line1=address.get("line1", ""),
        line2=address.get("line2") or "", city=address.get("city", ""),
        region=address.get("region") or "", postal_code=address.get("postal_code") or "",
        country=address.get("country", ""), phone=address.get("phone") or "")


def customs_lines(order: Order) -> tuple[papers.CustomsLine, ...]:
    """What is in the parcel: the order's pieces less refunded ones, valued at what the buyer
    paid, with HS codes as quoted and one provenance code (the piece's serial) per piece."""
    quoted_hs = {line["product_id"]: line["hs_code"]
                 for line in (order.shipping_option or {}).get("hs_lines", [])}
    lines = []
    for line in order.lines:
        quantity = line.quantity - line.refunded_quantity
        if quantity <= 0:
            continue
        product = db.session.get(Product, line.product_id)
        title = (line.title or {}).get("en") or next(iter((line.title or {}).values()), "Piece")
        codes = tuple((line.serials or [])[:quantity])
        if not codes:
            code = provenance.label_code_for_product(product.id)
            codes = (code,) if code else ()
        lines.append(papers.CustomsLine(
            description=f"{title} - handmade {product.craft}",
            hs_code=quoted_hs.get(product.id) or product.effective_hs_code,
            quantity=quantity, unit_value=Money(line.unit_presentment_amount, order.currency),
            unit_weight_g=product.weight_g or 0, materials=tuple(product.materials or ()),
            provenance_codes=codes))
    return tuple(lines)


def shipment_data(shipment: Shipment, order: Order) -> papers.ShipmentData:
    option = order.shipping_option or {}
    spec = effective_rates().services[shipment.service]
    estimate = option.get("duties_estimate") or {"amount": 0, "currency": order.currency}
    permit = ""
    if shipment.permit_number:
        permit = (f"{shipment.permit_number} ({shipment.permit_issued_by}, "
                  f"{shipment.permit_issued_at.date().isoformat()})")
    return papers.ShipmentData(
        reference=shipment.id, service=shipment.service, sender=sender_address(),
        recipient=_recipient(order), lines=customs_lines(order),
        gross_weight_g=shipment.weight_g, shipping=Money(order.shipping_amount, order.currency),
        duties_mode=shipment.duties_mode,
        duties_estimate=Money(estimate["amount"], estimate["currency"]),
        service_name=spec.name, service_kind=spec.kind, carrier=shipment.carrier,
        posted_on=utcnow().date(), invoice_number=f"SHB-{order.id}", export_permit=permit)


def buy_label(shipment_id: str) -> Shipment:
    """Ask the carrier adapter for the label, make the customs papers, mark the order shipped.
    Idempotent: a shipment that is not ``requested`` is returned as it is. A carrier that
    refuses the parcel fails the shipment (the operator may request it again); a carrier that
    is down raises ExternalServiceError so that the task retries. The carrier is called with
    no lock held; what it answers is recorded afterwards, if the parcel still waits for it."""
    data = _label_request(shipment_id)
    if data is None:
        return db.session.get(Shipment, shipment_id)
    try:
        # The shipment id is the carrier's reference: adapters that can, pass it as their
        # idempotency key so a retried task does not buy a second label.
        label = carriers.get_carrier(data.carrier).create_label(data)
    except (ValidationFailed, Conflict, NotFound) as refused:
        db.session.rollback()
        _fail(shipment_id, refused.detail)
        return db.session.get(Shipment, shipment_id)
    return _record_label(shipment_id, data, label)


@use_case
def _label_request(shipment_id: str) -> papers.ShipmentData | None:
    """What the carrier needs, or None when there is nothing to buy (the parcel is not waiting
    for a label, or its order was cancelled meanwhile: then the parcel is cancelled)."""
    order, shipment = _lock(shipment_id)
    if shipment.status != S.REQUESTED:
        return None
    if OrderStatus(order.status) not in SHIPPABLE_ORDER:
        lifecycle.cancel_shipment(
            shipment, f"the order became {order.status} before the label was bought")
        return None
    return shipment_data(shipment, order)


@use_case
def _record_label(shipment_id: str, data: papers.ShipmentData, label) -> Shipment:
    order, shipment = _lock(shipment_id)
    if shipment.status != S.REQUESTED:  # another run recorded its label first
        return shipment
    labelled = replace(data, tracking_number=label.tracking_number)
    form = customs_form_for(labelled.goods_value, shipment.service)
    shipment.tracking_number = label.tracking_number
    shipment.label_pdf = label.label_pdf
    shipment.customs_form = form
    shipment.customs_pdf = papers.customs_pdf(labelled, form)
    now = utcnow()
    shipment.label_created_at = now
    event = ShipmentEvent(shipment_id=shipment.id, carrier=shipment.carrier,
                          status=S.LABEL_CREATED, occurred_at=now, location="Almaty",
                          description=f"Label created ({data.service_name}); customs "
                                      f"declaration {form[:2]} {form[2:]}", source="label")
    db.session.add(event)
    lifecycle.record_scan(shipment, S.LABEL_CREATED, now)
    _enter(order, shipment, event)
    return shipment


@use_case
def _fail(shipment_id: str, reason: str) -> None:
    order, _ = _lock(shipment_id)
    if lifecycle.fail_shipment(shipment_id, reason):
        lifecycle.add_event(order.id, "shipment_failed",
                            data={"shipment_id": shipment_id, "reason": reason[:500]})
        log.warning("shipment %s: the carrier refused the label: %s", shipment_id, reason)


# --- what a status means for the order, the pieces and the buyer -----------------------------

def _enter(order: Order, shipment: Shipment, event: ShipmentEvent) -> None:
    """Side effects of the shipment reaching ``event.status`` (called once per status)."""
    status = S(event.status)
    serials = _serials(list(order.lines))
    lifecycle.add_event(order.id, "shipment", data={
        "shipment_id": shipment.id, "status": status, "tracking_number": shipment.tracking_number,
        "location": event.location})
    if status is S.LABEL_CREATED:
        lifecycle.mark_shipped(order, shipment, at=event.occurred_at)
        for serial in serials:
            provenance.record_piece_event(
                serial, "shipped", place={"city": "Almaty", "country": "KZ"},
                data={"carrier": shipment.carrier, "tracking_number": shipment.tracking_number},
                key=f"shipped-{shipment.id}", time=event.occurred_at)
    elif status is S.DELIVERED:
        shipment.delivered_at = event.occurred_at
        lifecycle.mark_delivered(order, shipment, at=event.occurred_at)
        country = (order.shipping_address or {}).get("country")
        for serial in serials:
            provenance.record_piece_event(
                serial, "delivered", place={"country": country},
                data={"tracking_number": shipment.tracking_number},
                key=f"delivered-{shipment.id}", time=event.occurred_at)
    elif status is S.RETURNED:
        for serial in serials:
            provenance.record_piece_event(
                serial, "returned", data={"tracking_number": shipment.tracking_number},
                key=f"returned-{shipment.id}", time=event.occurred_at)
    _mail_buyer(order, shipment, event)


def _mail_buyer(order: Order, shipment: Shipment, event: ShipmentEvent) -> None:
    buyer = db.session.get(User, order.buyer_id)
    option = order.shipping_option or {}
    eta = option.get("eta_days") or {}
    text = render_template(
        f"mail/shipping_{event.status}.txt", buyer_name=buyer.name, order_id=order.id,
        order_url=f"{current_app.config['PUBLIC_URL']}/orders/{order.id}",
        tracking_number=shipment.tracking_number, carrier=shipment.carrier,
        service_name=option.get("service_name") or shipment.service,
        location=event.location, description=event.description,
        occurred_at=isoformat(event.occurred_at), duties_mode=shipment.duties_mode,
        eta_min=eta.get("min"), eta_max=eta.get("max"),
        has_provenance=bool(_serials(list(order.lines))))
    mail.queue_mail(to=buyer.email, subject=f"{SUBJECTS[S(event.status)]} (order {order.id})",
                    text=text)


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
        _enter(order, shipment, event)
    db.session.flush()
    return moved


# --- tracking: signed carrier webhooks -------------------------------------------------------

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
        raise CarrierSignatureInvalid(f"No webhook secret is configured for {carrier}.",
                                      code=ShippingError.CARRIER_SIGNATURE_INVALID)
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise CarrierSignatureInvalid("The X-Carrier-Signature header is missing or malformed.",
                                      code=ShippingError.CARRIER_SIGNATURE_INVALID)
    if abs((time.time() if now is None else now) - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise CarrierSignatureInvalid("The signature's timestamp is too old or in the future.",
                                      code=ShippingError.CARRIER_SIGNATURE_INVALID)
    signed = f"{timestamp}.".encode() + body
    expected = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
                for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise CarrierSignatureInvalid("The signature does not match the body.",
                                      code=ShippingError.CARRIER_SIGNATURE_INVALID)


def _known_event(carrier: str, event_id: str) -> bool:
    found = db.session.execute(select(ShipmentEvent.id).where(
        ShipmentEvent.carrier == carrier, ShipmentEvent.external_id == event_id)).first()
    return found is not None


def record_carrier_event(carrier: str, *, event_id: str, tracking_number: str, status: str,
                         occurred_at: datetime, location: str = "",
                         description: str = "") -> tuple[Shipment, bool]:
    """Apply one verified carrier event; returns ``(shipment, duplicate)``. An event id seen
    before changes nothing."""
    occurred = _naive_utc(occurred_at)
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
    order, shipment = _lock(shipment_id)
    if _known_event(carrier, event_id):  # a concurrent delivery of the same event won
        return shipment, True
    _apply_scan(order, shipment, status=status, occurred_at=occurred_at, location=location,
                description=description, source="webhook", external_id=event_id)
    return shipment, False


# --- tracking: polling -------------------------------------------------------------------------

def poll_tracking(limit: int = POLL_BATCH) -> int:
    """Ask the carriers about parcels not yet delivered (least recently polled first) and record
    what they have not told us yet; returns how many new scans were recorded."""
    ids = db.session.execute(
        select(Shipment.id).where(Shipment.status.in_(IN_FLIGHT),
                                  Shipment.tracking_number.is_not(None))
        .order_by(Shipment.polled_at.asc().nulls_first(), Shipment.id).limit(limit)
    ).scalars().all()
    db.session.commit()
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
    order, shipment = _lock(shipment_id)
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


# --- reading -----------------------------------------------------------------------------------

def visible_shipment(shipment_id: str, user: User) -> Shipment:
    """The shipment for its order's buyer, artisans and operators; 404 for everyone else."""
    shipment = db.session.get(Shipment, shipment_id)
    order = db.session.get(Order, shipment.order_id) if shipment is not None else None
    if order is None or not orders.can_see(order, user):
        raise NotFound("No such shipment.", code=ShippingError.SHIPMENT_NOT_FOUND)
    return shipment


def shipment_paper(shipment_id: str, user: User, kind: str) -> bytes:
    """The label or customs PDF (``kind``: ``label`` or ``customs``), for operators."""
    shipment = visible_shipment(shipment_id, user)
    if user.role != Role.OPERATOR:
        raise Forbidden("Only operators print labels and customs papers.",
                        code=ShippingError.PAPERS_OPERATOR_ONLY)
    pdf = shipment.label_pdf if kind == "label" else shipment.customs_pdf
    if pdf is None:
        raise InvalidTransition(f"The shipment is {shipment.status}: it has no {kind} yet.",
                                code=ShippingError.PAPERS_NOT_READY)
    return pdf


def shipments_for_order(order_id: str) -> list[Shipment]:
    return list(db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.created_at)
    ).scalars())
