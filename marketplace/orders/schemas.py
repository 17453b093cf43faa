from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.ids import isoformat
from marketplace.money import Money
from marketplace.orders.models import (
    FulfilmentStatus,
    Order,
    OrderStatus,
    Shipment,
    ShipmentStatus,
)
from marketplace.orders.service import payment_summary
from marketplace.schemas import (
    DimensionsOut,
    EtaDaysOut,
    MoneyOut,
    OutModel,
    TextOut,
    Timestamp,
    build,
    dump,
)
from marketplace.validation import MoneyIn


class OrderListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus | None = None
    limit: int = Field(default=24, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class RefundLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(min_length=1, max_length=26)
    quantity: int = Field(strict=True, ge=1, le=1000)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: MoneyIn | None = None
    lines: list[RefundLineIn] | None = Field(default=None, min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_of(self) -> RefundIn:
        if self.amount is not None and self.lines:
            raise ValueError("give an amount or lines, not both")
        return self


class TotalsOut(OutModel):
    items: MoneyOut
    shipping: MoneyOut
    duties: MoneyOut
    total: MoneyOut


class OrderLineOut(OutModel):
    id: str
    product_id: str
    artisan_id: str
    title: TextOut = Field(description="The product's title when it was ordered.")
    quantity: int
    refunded_quantity: int
    unit_price: MoneyOut = Field(description="In the listing currency.")
    unit_price_presentment: MoneyOut = Field(description="In the order's currency.")
    line_total: MoneyOut = Field(description="In the order's currency.")
    fx_rate: str = Field(description="Presentment units per listing unit, a decimal string.")
    serials: list[str] = Field(description="One per verified piece sold (provenance).")


class PackedOut(OutModel):
    weight_g: int = Field(description="The packed box, packaging included.")
    dimensions_mm: DimensionsOut
    at: Timestamp


class FulfilmentOut(OutModel):
    """One artisan's part of an order: their pieces, packed into one box."""

    id: str
    artisan_id: str
    status: FulfilmentStatus = Field(strict=False)
    ship_by: Timestamp | None
    packed: PackedOut | None
    shipped_at: Timestamp | None
    delivered_at: Timestamp | None


class DateWindowOut(OutModel):
    from_: str = Field(alias="from", json_schema_extra={"format": "date"})
    to: str = Field(json_schema_extra={"format": "date"})

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True,
                              serialize_by_alias=True)


class ShipmentSummaryOut(OutModel):
    id: str
    status: ShipmentStatus = Field(strict=False)
    carrier: str
    service: str
    tracking_number: str | None
    created_at: Timestamp
    delivered_at: Timestamp | None


class RefundLineOut(OutModel):
    line_id: str
    quantity: int


class EventDataOut(OutModel):
    """What an event records; which keys are present depends on the event's ``type``."""

    total: MoneyOut = Field(None, description="created")
    attempt: int = Field(None, description="payment_attempt")
    payment_intent: str = Field(None)
    replaces: str | None = Field(None, description="payment_attempt: the earlier PaymentIntent")
    after_expiry: bool = Field(None, description="status (paid after the hold expired)")
    charged: MoneyOut = Field(None, description="payment_mismatch")
    expected: MoneyOut = Field(None, description="payment_mismatch")
    code: str | None = Field(None, description="payment_failed: Stripe's error code")
    decline_code: str | None = Field(None, description="payment_failed")
    message: str | None = Field(None, description="payment_failed")
    dispute: str | None = Field(None, description="dispute: Stripe's dispute id")
    charge: str | None = Field(None, description="dispute")
    refund_id: str = Field(None, description="refund: Stripe's refund id")
    refund: str = Field(None, description="refund_failed: the refund's id")
    amount: int | None = Field(None, description="refund, dispute: minor units of currency")
    currency: str = Field(None)
    reason: str | None = Field(None)
    source: str = Field(None, description="refund: operator, cancellation, automatic, stripe")
    lines: list[RefundLineOut] = Field(None, description="refund")
    by: str = Field(None, description="status (cancelled): the role that cancelled")
    fulfilments: int = Field(None, description="status (fulfilling): how many artisans")
    fulfilment_id: str = Field(None, description="fulfilment_packed")
    weight_g: int = Field(None, description="fulfilment_packed")
    dimensions_mm: DimensionsOut = Field(None, description="fulfilment_packed")
    shipment_id: str = Field(None)
    status: str | None = Field(None, description="shipment, shipment_requested, dispute")
    tracking_number: str | None = Field(None)
    location: str = Field(None, description="shipment")
    permit_number: str = Field(None, description="export_permit")
    issued_by: str = Field(None, description="export_permit")
    issued_at: Timestamp = Field(None, description="export_permit")
    was: str = Field(None, description="dispute_updated: the dispute's status before")
    cancellation_reason: str | None = Field(None, description="status (cancelled by Stripe)")
    fields: list[str] = Field(None, description="dispute_evidence: the fields sent")
    submitted: bool = Field(None, description="dispute_evidence: sent on to the bank")


class OrderEventOut(OutModel):
    type: str = Field(description="status, created, payment_attempt, payment_failed, "
                                  "payment_mismatch, refund, refund_failed, dispute, "
                                  "fulfilment_packed, shipment_requested, export_permit, "
                                  "shipment, shipment_failed, payment_requires_action, "
                                  "payment_processing, foreign_payment, "
                                  "foreign_payment_refunded, refund_reversed, "
                                  "dispute_updated, dispute_closed, dispute_evidence")
    from_status: OrderStatus | None = Field(strict=False)
    to_status: OrderStatus | None = Field(strict=False)
    data: EventDataOut
    at: Timestamp


class ShippingChoiceOut(OutModel):
    """The shipping option the buyer chose at checkout, as it was priced."""

    service: str | None
    service_name: str | None
    carrier: str | None
    shipping: MoneyOut | None
    duties: MoneyOut | None = Field(description="What the buyer paid for duties (DDP).")
    duties_estimate: MoneyOut | None
    duties_mode: Literal["DDP", "DAP"] | None
    eta_days: EtaDaysOut | None
    eta_dates: DateWindowOut | None = Field(
        None, description="The delivery window promised at checkout, as dates.")


class AddressOut(OutModel):
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    country: str
    postal_code: str | None
    phone: str


class PaymentSummaryOut(OutModel):
    provider: Literal["stripe"]
    payment_intent_id: str | None
    authorised: MoneyOut
    captured: MoneyOut
    refunded: MoneyOut
    refundable: MoneyOut
    fully_paid: bool
    fully_refunded: bool


class OrderRefundOut(OutModel):
    id: str
    stripe_refund_id: str | None = Field(description="null until Stripe accepted the refund.")
    amount: MoneyOut
    reason: str
    lines: list[RefundLineOut]
    source: str = Field(description="operator, cancellation, automatic or stripe.")
    status: str = Field(description="requested (Stripe not asked or not answered yet), then "
                                    "Stripe's: pending, succeeded, failed, canceled.")
    created_at: Timestamp


class ArtisanShareOut(OutModel):
    """One artisan's money from an order, as their payout ledger has it."""

    sale: MoneyOut
    commission: MoneyOut
    refunded: MoneyOut
    clawed_back: MoneyOut
    net: MoneyOut


class OrderOut(OutModel):
    """The buyer and operators see the whole order; an artisan sees only their own lines and
    fulfilment, without the address, payment and refunds."""

    id: str
    status: OrderStatus = Field(strict=False)
    currency: str = Field(description="The presentment currency: what the buyer pays in.")
    listing_currency: str
    fx_rate: str
    totals: TotalsOut
    lines: list[OrderLineOut]
    fulfilments: list[FulfilmentOut]
    shipments: list[ShipmentSummaryOut]
    events: list[OrderEventOut]
    duties_mode: Literal["DDP", "DAP"]
    shipping_option: ShippingChoiceOut
    reservation_expires_at: Timestamp | None
    created_at: Timestamp
    paid_at: Timestamp | None
    cancelled_at: Timestamp | None
    shipping_address: AddressOut = Field(None, description="Not shown to artisans.")
    payment: PaymentSummaryOut = Field(None, description="Not shown to artisans.")
    refunds: list[OrderRefundOut] = Field(None, description="Not shown to artisans.")
    flagged_reason: str | None = Field(None, description="Operators only.")
    artisan_subtotal: MoneyOut | None = Field(
        None, description="Artisans only: their lines at listing price (``totals`` then covers "
                          "only their lines, without shipping or duties).")
    artisan_share: ArtisanShareOut = Field(
        None, description="Artisans only: their sale, commission, refunds and net payout.")


class OrderSummaryOut(OutModel):
    id: str
    status: OrderStatus = Field(strict=False)
    currency: str
    totals: TotalsOut
    line_count: int
    created_at: Timestamp
    paid_at: Timestamp | None


class OrderListOut(OutModel):
    items: list[OrderSummaryOut]
    next_cursor: str | None


class RefundOut(OutModel):
    refunds: list[OrderRefundOut] = Field(description="The refunds this request made.")
    order: OrderOut


def _money(amount: int, currency: str) -> MoneyOut:
    return MoneyOut(**Money(amount, currency).to_dict())


def _artisan_totals(order: Order, artisan_id: str) -> TotalsOut:
    """An artisan's part only: their lines; shipping, duties and the other pieces are not
    theirs to see."""
    items = sum(line.unit_presentment_amount * line.quantity for line in order.lines
                if line.artisan_id == artisan_id)
    return TotalsOut(items=_money(items, order.currency), shipping=_money(0, order.currency),
                     duties=_money(0, order.currency), total=_money(items, order.currency))


def _artisan_subtotal(order: Order, artisan_id: str) -> MoneyOut | None:
    """The artisan's lines at listing price: what their sale and payout are worked out on."""
    lines = [line for line in order.lines if line.artisan_id == artisan_id]
    if not lines or len({line.unit_price_currency for line in lines}) != 1:
        return None
    return _money(sum(line.unit_price_amount * line.quantity for line in lines),
                  lines[0].unit_price_currency)


def _is_artisan_view(order: Order, viewer: User | None) -> bool:
    return viewer is not None and viewer.role == Role.ARTISAN and viewer.id != order.buyer_id


def _totals(order: Order) -> TotalsOut:
    return TotalsOut(
        items=_money(order.items_amount, order.currency),
        shipping=_money(order.shipping_amount, order.currency),
        duties=_money(order.duties_amount, order.currency),
        total=_money(order.total_amount, order.currency),
    )


def totals_out(order: Order) -> dict:
    return dump(TotalsOut, _totals(order))


def _line(line) -> OrderLineOut:
    return OrderLineOut(
        id=line.id, product_id=line.product_id, artisan_id=line.artisan_id,
        title=TextOut(**line.title), quantity=line.quantity,
        refunded_quantity=line.refunded_quantity,
        unit_price=_money(line.unit_price_amount, line.unit_price_currency),
        unit_price_presentment=_money(line.unit_presentment_amount, line.order.currency),
        line_total=_money(line.unit_presentment_amount * line.quantity, line.order.currency),
        fx_rate=line.fx_rate, serials=list(line.serials or []),
    )


def line_out(line) -> dict:
    return dump(OrderLineOut, _line(line))


def fulfilment_out(fulfilment) -> dict:
    packed = None
    if fulfilment.packed_at is not None:
        packed = PackedOut(
            weight_g=fulfilment.packed_weight_g,
            dimensions_mm=DimensionsOut(l=fulfilment.packed_length_mm,
                                        w=fulfilment.packed_width_mm,
                                        h=fulfilment.packed_height_mm),
            at=isoformat(fulfilment.packed_at),
        )
    return build(
        FulfilmentOut, id=fulfilment.id, artisan_id=fulfilment.artisan_id,
        status=fulfilment.status, ship_by=isoformat(fulfilment.ship_by), packed=packed,
        shipped_at=isoformat(fulfilment.shipped_at),
        delivered_at=isoformat(fulfilment.delivered_at),
    )


def event_out(event) -> dict:
    return build(OrderEventOut, type=event.type, from_status=event.from_status,
                 to_status=event.to_status, data=event.data or {},
                 at=isoformat(event.created_at))


def refund_out(refund) -> dict:
    return build(
        OrderRefundOut, id=refund.id, stripe_refund_id=refund.stripe_refund_id,
        amount=refund.money.to_dict(), reason=refund.reason, lines=list(refund.lines or []),
        source=refund.source, status=refund.status, created_at=isoformat(refund.created_at),
    )


def shipment_summary_out(shipment: Shipment) -> dict:
    return build(ShipmentSummaryOut, id=shipment.id, status=shipment.status,
                 carrier=shipment.carrier, service=shipment.service,
                 tracking_number=shipment.tracking_number,
                 created_at=isoformat(shipment.created_at),
                 delivered_at=isoformat(shipment.delivered_at))


def order_shipments_out(order_id: str) -> list[dict]:
    """The ``shipments`` of an order's JSON."""
    return [shipment_summary_out(s) for s in db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.created_at)
    ).scalars()]


def order_summary_out(order: Order, viewer: User | None = None) -> dict:
    artisan_view = _is_artisan_view(order, viewer)
    return build(
        OrderSummaryOut, id=order.id, status=order.status, currency=order.currency,
        totals=_artisan_totals(order, viewer.id) if artisan_view else _totals(order),
        line_count=sum(1 for line in order.lines
                       if not artisan_view or line.artisan_id == viewer.id),
        created_at=isoformat(order.created_at), paid_at=isoformat(order.paid_at),
    )


def order_out(order: Order, viewer: User, *, artisan_share: dict | None = None) -> dict:
    """The whole order for its buyer and operators; an artisan sees only their own lines,
    fulfilment, subtotal and payout share, without the order's totals, the other artisans'
    pieces, the buyer's address or payment details."""
    artisan_view = _is_artisan_view(order, viewer)
    lines = [line for line in order.lines if not artisan_view or line.artisan_id == viewer.id]
    fulfilments = [f for f in order.fulfilments
                   if not artisan_view or f.artisan_id == viewer.id]
    body = {
        "id": order.id,
        "status": order.status,
        "currency": order.currency,
        "listing_currency": order.listing_currency,
        "fx_rate": order.fx_rate,
        "totals": _artisan_totals(order, viewer.id) if artisan_view else _totals(order),
        "lines": [_line(line) for line in lines],
        "fulfilments": [fulfilment_out(f) for f in fulfilments],
        "shipments": order_shipments_out(order.id),
        "events": [event_out(e) for e in order.events
                   if not artisan_view or e.type == "status"],
        "duties_mode": order.duties_mode,
        "shipping_option": {key: order.shipping_option.get(key) for key in (
            "service", "service_name", "carrier", "shipping", "duties", "duties_estimate",
            "duties_mode", "eta_days", "eta_dates")},
        "reservation_expires_at": isoformat(order.reservation_expires_at),
        "created_at": isoformat(order.created_at),
        "paid_at": isoformat(order.paid_at),
        "cancelled_at": isoformat(order.cancelled_at),
    }
    if artisan_view:
        body["artisan_subtotal"] = _artisan_subtotal(order, viewer.id)
        if artisan_share is not None:
            body["artisan_share"] = artisan_share
    if not artisan_view:
        body["shipping_address"] = order.shipping_address
        body["payment"] = {"provider": "stripe", "payment_intent_id": order.payment_intent_id,
                           **payment_summary(order).to_dict()}
        body["refunds"] = [refund_out(r) for r in order.refunds]
    if viewer.role == Role.OPERATOR:
        body["flagged_reason"] = order.flagged_reason
    return build(OrderOut, **body)


class GuestOrderQuery(BaseModel):
    access: str = Field(min_length=10, max_length=500,
                        description="The signed token of the order's mailed link.")


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, max_length=500,
                              description="The claim link's token from the welcome mail.")
    order_id: str | None = Field(default=None, max_length=26)
    access: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_proof(self):
        if not self.token and not (self.order_id and self.access):
            raise ValueError("give token, or order_id and access")
        return self


class ClaimOut(OutModel):
    claimed: int = Field(description="How many guest orders moved to your account.")
class DisputeEvidenceIn(BaseModel):
    """Evidence for a dispute, sent through Stripe's dispute API (text fields of its
    ``evidence``); ``submit`` forwards it to the card holder's bank (no more can follow)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    evidence: dict[str, str] = Field(description="Stripe evidence field → text")
    submit: bool = False


class DisputeOut(OutModel):
    id: str
    stripe_dispute_id: str
    order_id: str
    amount: MoneyOut
    reason: str | None
    status: str
    evidence_due_by: Timestamp | None
    evidence_submitted_at: Timestamp | None
    closed_at: Timestamp | None


class DisputeListOut(OutModel):
    items: list[DisputeOut]


class ReconciliationQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    date: dt.date | None = Field(None, description="The UTC day to reconcile; yesterday if left "
                                                    "out.")
    format: Literal["json", "csv"] = Field("json", description="json, or csv: the same rows as "
                                                               "the console's CSV.")


class ReconciliationSidesOut(OutModel):
    captured: int = Field(description="Minor units of the row's currency.")
    refunded: int
    disputed: int


class ReconciliationRowOut(OutModel):
    order_id: str
    payment_intent_id: str
    currency: str
    stripe: ReconciliationSidesOut
    ledger: ReconciliationSidesOut
    differences: list[str]
    error: str | None = Field(description="Why Stripe could not be asked about this one.")
    foreign: bool = Field(description="A PaymentIntent Sheber did not create (its money was "
                                      "given back).")


class ReconciliationTotalsOut(OutModel):
    currency: str
    stripe: ReconciliationSidesOut
    ledger: ReconciliationSidesOut


class ReconciliationOut(OutModel):
    date: dt.date
    differing: int = Field(description="How many rows differ.")
    rows: list[ReconciliationRowOut]
    totals: list[ReconciliationTotalsOut]


def reconciliation_out(report) -> dict:
    return build(ReconciliationOut, date=report.day, differing=len(report.differing),
                 rows=[{"order_id": row.order_id, "payment_intent_id": row.payment_intent_id,
                        "currency": row.currency, "stripe": row.stripe, "ledger": row.ledger,
                        "differences": row.differences, "error": row.error,
                        "foreign": row.foreign} for row in report.rows],
                 totals=[{"currency": currency, **sides}
                         for currency, sides in sorted(report.totals().items())])


def dispute_out(dispute) -> dict:
    return build(DisputeOut, id=dispute.id, stripe_dispute_id=dispute.stripe_dispute_id,
                 order_id=dispute.order_id, amount=dispute.money.to_dict(),
                 reason=dispute.reason, status=dispute.status,
                 evidence_due_by=isoformat(dispute.evidence_due_by),
                 evidence_submitted_at=isoformat(dispute.evidence_submitted_at),
                 closed_at=isoformat(dispute.closed_at))


class DocumentAccessQuery(BaseModel):
    access: str | None = Field(None, min_length=10, max_length=500,
                               description="A guest's signed token of the order's mailed link "
                                           "(signed-in buyers and operators need none).")


class TaxDocumentOut(OutModel):
    id: str
    kind: Literal["invoice", "credit_note"]
    number: str = Field(description="The number as printed, e.g. SHB-2026-000001.")
    order_id: str
    issued_at: Timestamp
    total: MoneyOut
    invoice_number: str | None = Field(description="A credit note's invoice.")
    pdf_url: str = Field(description="Where the PDF is (relative to the API's host).")


class TaxDocumentListOut(OutModel):
    items: list[TaxDocumentOut]


def document_pdf_path(document) -> str:
    if document.kind == "invoice":
        return f"/api/v1/orders/{document.order_id}/invoice.pdf"
    return f"/api/v1/orders/{document.order_id}/credit-notes/{document.number}.pdf"


def tax_document_out(document) -> dict:
    return build(TaxDocumentOut, id=document.id, kind=document.kind, number=document.number,
                 order_id=document.order_id, issued_at=isoformat(document.issued_at),
                 total=document.total.to_dict(),
                 invoice_number=(document.data.get("invoice") or {}).get("number"),
                 pdf_url=document_pdf_path(document))
