"""Parcels: the artisans' packed boxes become one parcel per order, with a label and customs
papers from the carrier adapter; a cultural-value piece holds the parcel until an operator records
an export permit. Also what each status of a parcel means for the order, its pieces and the buyer.

Consolidation (one parcel per order): the operator stacks the artisans' packed boxes in Almaty.
Each box lies on its largest face (its sides sorted so that length >= width >= height); the parcel
is as long as the longest box, as wide as the widest and as high as all boxes together, and weighs
what the boxes weigh (each box's weight already includes its packaging).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from babel.dates import format_datetime
from flask import current_app
from sqlalchemy import select

from marketplace import hs, mail, outbox, provenance
from marketplace.accounts.models import Role, User
from marketplace.catalog.models import Product
from marketplace.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.ids import isoformat, new_id, utcnow
from marketplace.money import Money
from marketplace.orders import lifecycle, notify
from marketplace.orders import service as orders
from marketplace.orders.models import (
    FulfilmentStatus,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from marketplace.shipping import carriers, papers, progress
from marketplace.shipping.errors import ShippingError
from marketplace.shipping.rates import effective_rates, rates_file
from marketplace.shipping.service import customs_form_for
from marketplace.transaction import lock_rows, use_case

log = logging.getLogger(__name__)


SHIPMENT_REQUESTED = "shipment.requested"
FUTURE_SKEW = timedelta(hours=1)  # carriers' clocks; a scan further ahead is refused
S = ShipmentStatus
SHIPPABLE_ORDER = lifecycle.SHIPPABLE


def piece_serials(lines: list[OrderLine]) -> list[str]:
    return [serial for line in lines for serial in (line.serials or [])]


def parcel_refusal(order: Order) -> tuple[ShippingError, str] | None:
    """Why the operator cannot make this order's parcel now, or None when they can."""
    if OrderStatus(order.status) not in SHIPPABLE_ORDER:
        return (ShippingError.ORDER_NOT_SHIPPABLE,
                f"An order that is {order.status} cannot be shipped.")
    if open_shipment(order.id) is not None:
        return ShippingError.SHIPMENT_EXISTS, "This order has its shipment already."
    return None


def consolidate(boxes: list[tuple[int, int, int, int]]) -> tuple[int, tuple[int, int, int]]:
    """``(weight_g, (l, w, h))`` of one parcel stacked from ``(weight_g, l, w, h)`` boxes."""
    laid = [sorted(sides, reverse=True) for _, *sides in boxes]
    weight = sum(box[0] for box in boxes)
    return weight, (max(s[0] for s in laid), max(s[1] for s in laid), sum(s[2] for s in laid))


def open_shipment(order_id: str) -> Shipment | None:
    shipment = db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id)).scalar_one_or_none()
    return shipment if shipment is not None and shipment.status != S.FAILED else None


def lock_shipment(shipment_id: str) -> tuple[Order, Shipment]:
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


def naive_utc(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@use_case
def record_export_permit(shipment_id: str, operator: User, *, permit_number: str,
                         issued_by: str, issued_at: datetime | date) -> Shipment:
    """Record the export permit of a held parcel and release it to the label task."""
    issued = naive_utc(issued_at)
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
    order, shipment = lock_shipment(shipment_id)
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


def sender_address() -> papers.Address:
    """Where parcels leave from: the ``SHIPPING_SENDER`` setting (a dict of ``papers.Address``
    fields), else the origin of the rates file."""
    configured = current_app.config.get("SHIPPING_SENDER")
    if configured:
        return papers.Address(**configured)
    config = current_app.config
    origin = rates_file()["origin"]
    return papers.Address(
        name=config.get("EXPORTER_NAME") or "Sheber",
        line1=config.get("EXPORTER_STREET") or "Sheber consolidation centre",
        city=config.get("EXPORTER_CITY") or origin["city"],
        country=config.get("EXPORTER_COUNTRY") or origin["country"],
        postal_code=config.get("EXPORTER_POSTCODE") or origin.get("postal_code", ""),
        phone=config.get("EXPORTER_PHONE") or "", email=config.get("EXPORTER_EMAIL") or "")


def _recipient(order: Order) -> papers.Address:
    address = order.shipping_address or {}
    email = address.get("email")
    if not email and order.buyer_id:
        buyer = db.session.get(User, order.buyer_id)
        email = buyer.email if buyer is not None else ""
    return papers.Address(
        name=address.get("name", ""), line1=address.get("line1", ""),
        line2=address.get("line2") or "", city=address.get("city", ""),
        region=address.get("region") or "", postal_code=address.get("postal_code") or "",
        country=address.get("country", ""), phone=address.get("phone") or "",
        email=email or "")


def customs_lines(order: Order) -> tuple[papers.CustomsLine, ...]:
    """What is in the parcel: the order's pieces less refunded ones, valued at what the buyer
    paid, with HS codes as quoted and one provenance code (the piece's serial) per piece."""
    country = (order.shipping_address or {}).get("country")
    quoted = {line["product_id"]: line
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
        as_quoted = quoted.get(product.id)
        if as_quoted is not None:  # the codes the buyer was quoted (and charged duty) by
            tariff_code = as_quoted.get("tariff_code")
            hs_code = tariff_code or as_quoted["hs_code"]
        else:
            tariff_code = product.tariff_code_for(country)
            hs_code = product.customs_code_for(country)
        lines.append(papers.CustomsLine(
            description=f"{title} - handmade {product.craft}",
            hs_code=hs_code, tariff=hs.tariff_for_country(country) if tariff_code else None,
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
        posted_on=utcnow().date(), invoice_number=f"SHB-{order.id}", export_permit=permit,
        importer_reference=importer_reference(order),
        sender_customs_reference=current_app.config.get("EORI_NUMBER") or "",
        exporter_bin=current_app.config.get("EXPORTER_BIN") or "",
        licence_numbers=(shipment.permit_number,) if shipment.permit_number else (),
        comments=_duties_comment(order))


def importer_reference(order: Order) -> str:
    """The number the parcel clears customs under: the point-of-sale scheme's (IOSS, UK VAT,
    ARN, ...) when the quote used one, else none (a consumer has no tax id)."""
    breakdown = (order.shipping_option or {}).get("duty_breakdown") or {}
    number = breakdown.get("scheme_number")
    return f"{breakdown.get('regime')} {number}" if number else ""


def _duties_comment(order: Order) -> str:
    breakdown = (order.shipping_option or {}).get("duty_breakdown") or {}
    if breakdown.get("collector") == "marketplace":
        return (f"VAT/GST collected at the point of sale under {breakdown.get('regime')} "
                f"({breakdown.get('scheme_number')}): release without collection.")
    return ""


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
    order, shipment = lock_shipment(shipment_id)
    if shipment.status != S.REQUESTED:
        return None
    if OrderStatus(order.status) not in SHIPPABLE_ORDER:
        lifecycle.cancel_shipment(
            shipment, f"the order became {order.status} before the label was bought")
        return None
    return shipment_data(shipment, order)


@use_case
def _record_label(shipment_id: str, data: papers.ShipmentData, label) -> Shipment:
    order, shipment = lock_shipment(shipment_id)
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
    enter_status(order, shipment, event)
    return shipment


@use_case
def _fail(shipment_id: str, reason: str) -> None:
    order, _ = lock_shipment(shipment_id)
    if lifecycle.fail_shipment(shipment_id, reason):
        lifecycle.add_event(order.id, "shipment_failed",
                            data={"shipment_id": shipment_id, "reason": reason[:500]})
        notify.alert_operators("label_refused", order, detail=reason[:500])
        log.warning("shipment %s: the carrier refused the label: %s", shipment_id, reason)


def enter_status(order: Order, shipment: Shipment, event: ShipmentEvent) -> None:
    """Side effects of the shipment reaching ``event.status`` (called once per status). The
    label only prepares the parcel; the carrier's first scan after it (handed over, or any
    later one when that scan was skipped) ships the order."""
    status = S(event.status)
    serials = piece_serials(list(order.lines))
    lifecycle.add_event(order.id, "shipment", data={
        "shipment_id": shipment.id, "status": status, "tracking_number": shipment.tracking_number,
        "location": event.location})
    shipped_now = False
    if status not in progress.AT_ORIGIN - {S.HANDED_OVER}:
        shipped_now = lifecycle.mark_shipped(order, shipment, at=event.occurred_at)
        if shipped_now:
            for serial in serials:
                provenance.record_piece_event(
                    serial, "shipped", place={"city": "Almaty", "country": "KZ"},
                    data={"carrier": shipment.carrier,
                          "tracking_number": shipment.tracking_number},
                    key=f"shipped-{shipment.id}", time=event.occurred_at)
    if status is S.DELIVERED:
        shipment.delivered_at = event.occurred_at
        lifecycle.mark_delivered(order, shipment, at=event.occurred_at)
        country = (order.shipping_address or {}).get("country")
        for serial in serials:
            provenance.record_piece_event(
                serial, "delivered", place={"country": country},
                data={"tracking_number": shipment.tracking_number},
                key=f"delivered-{shipment.id}", time=event.occurred_at)
    elif status is S.RETURNED:
        lifecycle.mark_returned(order, shipment)
        for serial in serials:
            provenance.record_piece_event(
                serial, "returned", data={"tracking_number": shipment.tracking_number},
                key=f"returned-{shipment.id}", time=event.occurred_at)
        notify.alert_operators("returned", order, detail=event.description or None,
                               tracking_number=shipment.tracking_number)
    elif status is S.CUSTOMS_HOLD:
        notify.alert_operators("customs_hold", order, detail=event.description or None,
                               tracking_number=shipment.tracking_number)
    _mail_buyer(order, shipment, event, shipped_now=shipped_now)


# Which mail a buyer gets when the parcel reaches a status (none for the label alone).
PARCEL_MAILS = {S.IN_TRANSIT: "parcel_update", S.CUSTOMS: "parcel_update",
                S.OUT_FOR_DELIVERY: "parcel_update", S.CUSTOMS_HOLD: "customs_hold",
                S.DELIVERED: "delivered", S.RETURNED: "returned"}


def _mail_buyer(order: Order, shipment: Shipment, event: ShipmentEvent, *,
                shipped_now: bool) -> None:
    status = S(event.status)
    # the carrier's first scan says "shipped"; a parcel whose first scan is a later one (the
    # carrier skipped some) gets that scan's mail, which names the carrier and tracking too
    template = "shipped" if shipped_now and status in (S.HANDED_OVER, S.IN_TRANSIT) else (
        PARCEL_MAILS.get(status))
    if template is None:
        return
    reader = notify.buyer_of(order)
    destination = (order.shipping_address or {}).get("country")
    scan = progress.scan_view(event, destination, reader.locale)
    order_url = notify.order_url(order)
    notify.queue_to(
        reader, template, status=str(status),
        parcel=progress.parcel_facts(order, shipment, notify.public_url(), order_url,
                                     mail.short_number(order.id)),
        duties_mode=shipment.duties_mode, description=event.description,
        scan_place=scan.place,
        scan_time=format_datetime(scan.local_time, "short", tzinfo=scan.local_time.tzinfo,
                                  locale=reader.locale),
        review_url=f"{order_url}{'&' if '?' in order_url else '?'}review=1#review",
        has_provenance=bool(piece_serials(list(order.lines))))


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


def shipment_by_tracking_number(tracking_number: str) -> Shipment | None:
    return db.session.execute(select(Shipment).where(
        Shipment.tracking_number == tracking_number).limit(1)).scalar_one_or_none()
def customs_declaration(shipment_id: str, user: User) -> dict:
    """The customs declaration as data (``papers.customs_data``), for operators: what the
    postal operator's ITMATT / the EU's ICS2 data set need, the same as the customs PDF."""
    shipment = visible_shipment(shipment_id, user)
    if user.role != Role.OPERATOR:
        raise Forbidden("Only operators read the customs declaration.",
                        code=ShippingError.PAPERS_OPERATOR_ONLY)
    if shipment.customs_pdf is None:
        raise InvalidTransition(f"The shipment is {shipment.status}: it has no customs "
                                "declaration yet.", code=ShippingError.PAPERS_NOT_READY)
    order = db.session.get(Order, shipment.order_id)
    data = replace(shipment_data(shipment, order), tracking_number=shipment.tracking_number)
    if shipment.label_created_at is not None:
        data = replace(data, posted_on=shipment.label_created_at.date())
    return papers.customs_data(data, shipment.customs_form or "CN23")


def shipments_for_order(order_id: str) -> list[Shipment]:
    return list(db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.created_at)
    ).scalars())
