from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"  # became a sale: stock decremented
    RELEASED = "released"  # expired, failed or cancelled: stock free again


class Reservation(db.Model):
    """Stock held for an unpaid order; ``product.reserved`` is the sum of the active ones."""

    __tablename__ = "reservation"
    __table_args__ = (Index("ix_reservation_status_expires", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default=ReservationStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
