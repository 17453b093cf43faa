from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.ids import isoformat
from marketplace.money import Money
from marketplace.orders.models import Order, OrderStatus, Shipment
from marketplace.orders.service import payment_summary
from marketplace.validation import MoneyIn, MoneyOut


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


class TotalsOut(BaseModel):
    items: MoneyOut
    shipping: MoneyOut
    duties: MoneyOut
    total: MoneyOut


class OrderOut(BaseModel):
    id: str
    status: OrderStatus
    currency: str
    fx_rate: str
    totals: TotalsOut
    lines: list[dict]
    fulfilments: list[dict]
    shipments: list[dict]
    events: list[dict]


class OrderListOut(BaseModel):
    items: list[dict]
    next_cursor: str | None


class RefundOut(BaseModel):
    refunds: list[dict]
    order: OrderOut


def _money(amount: int, currency: str) -> dict:
    return Money(amount, currency).to_dict()


def totals_out(order: Order) -> dict:
    return {
        "items": _money(order.items_amount, order.currency),
        "shipping": _money(order.shipping_amount, order.currency),
        "duties": _money(order.duties_amount, order.currency),
        "total": _money(order.total_amount, order.currency),
    }


def line_out(line) -> dict:
    return {
        "id": line.id, "product_id": line.product_id, "artisan_id": line.artisan_id,
        "title": line.title, "quantity": line.quantity,
        "refunded_quantity": line.refunded_quantity,
        "unit_price": _money(line.unit_price_amount, line.unit_price_currency),
        "unit_price_presentment": _money(line.unit_presentment_amount, line.order.currency),
        "line_total": _money(line.unit_presentment_amount * line.quantity, line.order.currency),
        "fx_rate": line.fx_rate, "serials": line.serials or [],
    }


def fulfilment_out(fulfilment) -> dict:
    packed = None
    if fulfilment.packed_at is not None:
        packed = {
            "weight_g": fulfilment.packed_weight_g,
            "dimensions_mm": {"l": fulfilment.packed_length_mm, "w": fulfilment.packed_width_mm,
                              "h": fulfilment.packed_height_mm},
            "at": isoformat(fulfilment.packed_at),
        }
    return {
        "id": fulfilment.id, "artisan_id": fulfilment.artisan_id, "status": fulfilment.status,
        "ship_by": isoformat(fulfilment.ship_by), "packed": packed,
        "shipped_at": isoformat(fulfilment.shipped_at),
        "delivered_at": isoformat(fulfilment.delivered_at),
    }


def event_out(event) -> dict:
    return {"type": event.type, "from_status": event.from_status, "to_status": event.to_status,
            "data": event.data or {}, "at": isoformat(event.created_at)}


def refund_out(refund) -> dict:
    return {
        "id": refund.id, "stripe_refund_id": refund.stripe_refund_id,
        "amount": refund.money.to_dict(), "reason": refund.reason, "lines": refund.lines or [],
        "source": refund.source, "status": refund.status,
        "created_at": isoformat(refund.created_at),
    }


def shipment_summary_out(shipment: Shipment) -> dict:
    return {"id": shipment.id, "status": shipment.status, "carrier": shipment.carrier,
            "service": shipment.service, "tracking_number": shipment.tracking_number,
            "created_at": isoformat(shipment.created_at),
            "delivered_at": isoformat(shipment.delivered_at)}


def order_shipments_out(order_id: str) -> list[dict]:
    """The ``shipments`` of an order's JSON."""
    return [shipment_summary_out(s) for s in db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.created_at)
    ).scalars()]


def order_summary_out(order: Order) -> dict:
    return {
        "id": order.id, "status": order.status, "currency": order.currency,
        "totals": totals_out(order), "line_count": len(order.lines),
        "created_at": isoformat(order.created_at), "paid_at": isoformat(order.paid_at),
    }


def order_out(order: Order, viewer: User) -> dict:
    """The whole order for its buyer and operators; an artisan sees only their own lines and
    fulfilment, without the buyer's address or payment details."""
    artisan_view = viewer.role == Role.ARTISAN and viewer.id != order.buyer_id
    lines = [line for line in order.lines if not artisan_view or line.artisan_id == viewer.id]
    fulfilments = [f for f in order.fulfilments
                   if not artisan_view or f.artisan_id == viewer.id]
    body = {
        "id": order.id,
        "status": order.status,
        "currency": order.currency,
        "listing_currency": order.listing_currency,
        "fx_rate": order.fx_rate,
        "totals": totals_out(order),
        "lines": [line_out(line) for line in lines],
        "fulfilments": [fulfilment_out(f) for f in fulfilments],
        "shipments": order_shipments_out(order.id),
        "events": [event_out(e) for e in order.events
                   if not artisan_view or e.type == "status"],
        "duties_mode": order.duties_mode,
        "shipping_option": {key: order.shipping_option.get(key) for key in (
            "service", "service_name", "carrier", "shipping", "duties", "duties_estimate",
            "duties_mode", "eta_days")},
        "reservation_expires_at": isoformat(order.reservation_expires_at),
        "created_at": isoformat(order.created_at),
        "paid_at": isoformat(order.paid_at),
        "cancelled_at": isoformat(order.cancelled_at),
    }
    if not artisan_view:
        body["shipping_address"] = order.shipping_address
        body["payment"] = {"provider": "stripe", "payment_intent_id": order.payment_intent_id,
                           **payment_summary(order).to_dict()}
        body["refunds"] = [refund_out(r) for r in order.refunds]
    if viewer.role == Role.OPERATOR:
        body["flagged_reason"] = order.flagged_reason
    return body
