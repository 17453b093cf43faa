from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

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
