from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow


class ShippingRateOverride(db.Model):
    """An operator's price for one weight bracket, over the rates file in data/shipping/."""

    __tablename__ = "shipping_rate_override"
    __table_args__ = (UniqueConstraint("service", "zone", "up_to_g"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    service: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str] = mapped_column(String(10))
    up_to_g: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units of the rates file's currency
    updated_by: Mapped[str | None] = mapped_column(String(26))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CarrierLabel(db.Model):
    """A label bought from a carrier adapter; the built-in carrier tracks from these rows."""

    __tablename__ = "carrier_label"

    tracking_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(64), index=True)  # our shipment id
    destination_country: Mapped[str] = mapped_column(String(2))
    eta_min_days: Mapped[int] = mapped_column(Integer)
    eta_max_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShipmentStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the label task
    HELD_EXPORT = "held_export"  # a cultural-value piece: no label until an export permit
    LABEL_CREATED = "label_created"
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
