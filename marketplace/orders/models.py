from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.money import Money


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLING = "fulfilling"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    EXPIRED = "expired"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


S = OrderStatus

# The whole state machine: a move not listed here never happens.
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.PAYMENT_FAILED, S.EXPIRED, S.CANCELLED}),
    S.PAYMENT_FAILED: frozenset({S.PAID, S.EXPIRED, S.CANCELLED}),
    # a payment that succeeds after the hold lapsed is re-reserved (paid) or refunded
    S.EXPIRED: frozenset({S.PAID, S.REFUNDED}),
    S.PAID: frozenset({S.FULFILLING, S.CANCELLED, S.REFUNDED, S.DISPUTED}),
    S.FULFILLING: frozenset({S.SHIPPED, S.CANCELLED, S.REFUNDED, S.DISPUTED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.REFUNDED, S.DISPUTED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED, S.DISPUTED}),
    S.COMPLETED: frozenset({S.REFUNDED, S.DISPUTED}),
    S.DISPUTED: frozenset({S.REFUNDED, S.COMPLETED}),
    # card holders can dispute even a refunded charge
    S.CANCELLED: frozenset({S.DISPUTED}),
    S.REFUNDED: frozenset({S.DISPUTED}),
}

AWAITING_PAYMENT = frozenset({S.PENDING_PAYMENT, S.PAYMENT_FAILED})
# A buyer may cancel until a parcel has left.
CANCELLABLE = frozenset({S.PENDING_PAYMENT, S.PAYMENT_FAILED, S.PAID, S.FULFILLING})
# States in which the order's money has been taken and may be refunded.
REFUNDABLE = frozenset({S.PAID, S.FULFILLING, S.SHIPPED, S.DELIVERED, S.COMPLETED, S.DISPUTED})


def sources_of(target: OrderStatus) -> frozenset[OrderStatus]:
    return frozenset(source for source, targets in ALLOWED.items() if target in targets)


class FulfilmentStatus(StrEnum):
    PENDING = "pending"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class LedgerKind(StrEnum):
    AUTHORISED = "authorised"
    CAPTURED = "captured"
    REFUNDED = "refunded"


class Order(db.Model):
    __tablename__ = "order"
    __table_args__ = (Index("ix_order_buyer_created", "buyer_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("user.id"))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING_PAYMENT,
                                        index=True)
    currency: Mapped[str] = mapped_column(String(3))  # presentment currency, what Stripe charges
    listing_currency: Mapped[str] = mapped_column(String(3))
    fx_rate: Mapped[str] = mapped_column(String(40))  # presentment units per listing unit
    items_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger)
    duties_amount: Mapped[int] = mapped_column(BigInteger)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_address: Mapped[dict] = mapped_column(JSON)
    shipping_option: Mapped[dict] = mapped_column(JSON)  # the priced option as quoted
    duties_mode: Mapped[str] = mapped_column(String(3))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_attempt: Mapped[int] = mapped_column(Integer, default=1)
    reservation_expires_at: Mapped[datetime | None]
    flagged_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    lines: Mapped[list[OrderLine]] = relationship(back_populates="order",
                                                  order_by="OrderLine.position")
    fulfilments: Mapped[list[Fulfilment]] = relationship(order_by="Fulfilment.created_at")
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.created_at")
    refunds: Mapped[list[Refund]] = relationship(order_by="Refund.created_at")
    ledger: Mapped[list[PaymentLedgerEntry]] = relationship(
        order_by="PaymentLedgerEntry.created_at")

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def total(self) -> Money:
        return Money(self.total_amount, self.currency)


class OrderLine(db.Model):
    __tablename__ = "order_line"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    title: Mapped[dict] = mapped_column(JSON)  # snapshot: the product may change later
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)  # listing currency
    unit_price_currency: Mapped[str] = mapped_column(String(3))
    unit_presentment_amount: Mapped[int] = mapped_column(BigInteger)  # order currency
    fx_rate: Mapped[str] = mapped_column(String(40))
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)
    serials: Mapped[list] = mapped_column(JSON, default=list)

    order: Mapped[Order] = relationship(back_populates="lines")


class Fulfilment(db.Model):
    """The part of an order one artisan packs and ships."""

    __tablename__ = "fulfilment"
    __table_args__ = (UniqueConstraint("order_id", "artisan_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=FulfilmentStatus.PENDING)
    ship_by: Mapped[datetime]
    packed_weight_g: Mapped[int | None] = mapped_column(Integer)
    packed_length_mm: Mapped[int | None] = mapped_column(Integer)
    packed_width_mm: Mapped[int | None] = mapped_column(Integer)
    packed_height_mm: Mapped[int | None] = mapped_column(Integer)
    packed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderEvent(db.Model):
    """The order's timeline; append only."""

    __tablename__ = "order_event"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Refund(db.Model):
    __tablename__ = "refund"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    stripe_refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    lines: Mapped[list] = mapped_column(JSON, default=list)  # [{"line_id", "quantity"}]
    source: Mapped[str] = mapped_column(String(20))  # operator, cancellation, automatic, stripe
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class PaymentLedgerEntry(db.Model):
    """Money movements per order; totals are sums, so "fully paid" is computed, not stored.

    ``reference`` is Stripe's id (PaymentIntent or Refund): the unique pair makes recording the
    same movement twice impossible, however often Stripe tells us about it.
    """

    __tablename__ = "payment_ledger_entry"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
