from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
    RETURNED = "returned"  # the carrier brought the parcel back undelivered: refund or resend


class FulfilmentStatus(StrEnum):
    PENDING = "pending"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # recorded, Stripe not asked yet (or asked and not answered)
    PENDING = "pending"  # Stripe accepted it; the bank has not confirmed
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # Stripe or the bank refused it: the money was not returned
    CANCELED = "canceled"


class LedgerKind(StrEnum):
    AUTHORISED = "authorised"
    CAPTURED = "captured"
    REFUNDED = "refunded"
    REFUND_BACK = "refund_back"  # a refund the bank failed after Stripe accepted it: undone
    DISPUTE_OUT = "dispute_out"  # Stripe withdrew the disputed amount from our balance
    DISPUTE_IN = "dispute_in"  # ... and gave it back (a won dispute)
    DISPUTE_LOSS = "dispute_loss"  # a lost dispute: the money is gone for good
    FOREIGN_IN = "foreign_in"  # a PaymentIntent we did not create paid money in ...
    FOREIGN_OUT = "foreign_out"  # ... and we refunded it


class DisputeStatus(StrEnum):
    """Stripe's dispute statuses (API reference, "The Dispute object")."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    PREVENTED = "prevented"


DISPUTE_CLOSED = frozenset({DisputeStatus.WARNING_CLOSED, DisputeStatus.WON, DisputeStatus.LOST,
                            DisputeStatus.PREVENTED})


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
    # a guest's order: where its mails go (an account's order mails its account's address)
    contact_email: Mapped[str | None] = mapped_column(String(254), index=True)
    locale: Mapped[str | None] = mapped_column(String(5))  # the language it was bought in
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
    # None until Stripe has been asked (the intent is recorded first, then Stripe is called)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    lines: Mapped[list] = mapped_column(JSON, default=list)  # [{"line_id", "quantity"}]
    source: Mapped[str] = mapped_column(String(20))  # operator, cancellation, automatic, stripe
    status: Mapped[str] = mapped_column(String(20))  # RefundStatus
    failure_reason: Mapped[str | None] = mapped_column(Text)
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
    # The other side of the movement in the listing currency, at the order's rate, so that the
    # ledger states both what the buyer paid and what it is worth to the artisans.
    counter_amount: Mapped[int | None] = mapped_column(BigInteger)
    counter_currency: Mapped[str | None] = mapped_column(String(3))
    fx_rate: Mapped[str | None] = mapped_column(String(40))  # presentment units per listing unit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentAttempt(db.Model):
    """Every PaymentIntent Sheber created for an order, one per attempt. Stripe's word about a
    PaymentIntent counts for an order only if it is one of these: ``metadata.order_id`` is set
    by whoever creates the PaymentIntent and proves nothing."""

    __tablename__ = "payment_attempt"
    __table_args__ = (UniqueConstraint("order_id", "attempt"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    payment_intent_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stripe_status: Mapped[str | None] = mapped_column(String(40))  # as last reported
    # Replaced by a newer attempt (set before the old PaymentIntent is cancelled, so that its
    # ``payment_intent.canceled`` never cancels the order).
    superseded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dispute(db.Model):
    """A card holder's dispute of an order's charge, as Stripe last reported it."""

    __tablename__ = "dispute"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    charge_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(30))  # DisputeStatus
    order_status_before: Mapped[str | None] = mapped_column(String(20))
    evidence_due_by: Mapped[datetime | None]
    evidence_submitted_at: Mapped[datetime | None]
    evidence_submitted_by: Mapped[str | None] = mapped_column(String(26))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class OperatorAlert(db.Model):
    """Something an operator must look at: a failed refund, a foreign payment, a dispute, a
    reconciliation difference. Open until an operator resolves it."""

    __tablename__ = "operator_alert"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))  # one alert per thing, however often seen
    order_id: Mapped[str | None] = mapped_column(ForeignKey("order.id"), index=True)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(26))


class ShipmentStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the label task
    HELD_EXPORT = "held_export"  # a cultural-value piece: no label until an export permit
    LABEL_CREATED = "label_created"
    HANDED_OVER = "handed_over"  # the carrier has the parcel (first acceptance scan)
    IN_TRANSIT = "in_transit"
    CUSTOMS = "customs"
    CUSTOMS_HOLD = "customs_hold"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    RETURNED = "returned"
    FAILED = "failed"  # the carrier refused the label; the operator may request it again
    CANCELLED = "cancelled"  # the order was cancelled before a label existed


class Shipment(db.Model):
    """The one parcel of an order, consolidated in Almaty from the artisans' packed boxes."""

    __tablename__ = "shipment"
    __table_args__ = (UniqueConstraint("carrier", "tracking_number"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=ShipmentStatus.REQUESTED,
                                        index=True)
    carrier: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(20))
    duties_mode: Mapped[str] = mapped_column(String(3))
    weight_g: Mapped[int] = mapped_column(Integer)
    length_mm: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    tracking_number: Mapped[str | None] = mapped_column(String(40))
    customs_form: Mapped[str | None] = mapped_column(String(4))  # CN22 or CN23
    label_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    customs_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    permit_number: Mapped[str | None] = mapped_column(String(64))
    permit_issued_by: Mapped[str | None] = mapped_column(String(200))
    permit_issued_at: Mapped[datetime | None]
    permit_recorded_by: Mapped[str | None] = mapped_column(String(26))
    requested_by: Mapped[str | None] = mapped_column(String(26))
    last_error: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the carrier said it
    label_created_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[ShipmentEvent]] = relationship(
        order_by="[ShipmentEvent.occurred_at, ShipmentEvent.id]")


class ShipmentEvent(db.Model):
    """One tracking scan (from the label task, a carrier's webhook or polling); append only."""

    __tablename__ = "shipment_event"
    # A carrier's event id is recorded once, however often the carrier sends it.
    __table_args__ = (UniqueConstraint("carrier", "external_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipment.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(10))  # label, webhook, poll
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class DocumentCounter(db.Model):
    """The last number given in one series of tax documents (``INV-2026``, ``CN-2026``).

    Numbers are taken by incrementing this row inside the transaction that records the
    document (``orders.invoices``), so the row lock serialises concurrent issuers and a rollback
    gives the number back: a series has no gaps and no duplicates."""

    __tablename__ = "document_counter"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class TaxDocument(db.Model):
    """An issued invoice or credit note. ``data`` is the document as issued (parties, lines,
    taxes, rate, totals); the PDF is rendered from it, so later changes to products, profiles
    or settings never alter an issued document."""

    __tablename__ = "tax_document"
    __table_args__ = (UniqueConstraint("series", "sequence"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(12))  # DocumentKind
    series: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # as printed
    # what the document is for, once: "invoice:<order id>" or "credit_note:<refund id>"
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refund.id"))
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("tax_document.id"))
    locale: Mapped[str] = mapped_column(String(5))
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    data: Mapped[dict] = mapped_column(JSON)

    @property
    def total(self) -> Money:
        return Money(self.total_amount, self.currency)


class OrderReceipt(db.Model):
    """The buyer's receipt PDF of a paid order, rendered on its first download and kept
    (``orders.receipt.stored_receipt``): one row per order, written once."""

    __tablename__ = "order_receipt"

    order_id: Mapped[str] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"),
                                          primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
