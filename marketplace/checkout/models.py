from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow


class Cart(db.Model):
    __tablename__ = "cart"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("user.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[CartItem]] = relationship(back_populates="cart",
                                                 order_by="CartItem.created_at")


class CartItem(db.Model):
    __tablename__ = "cart_item"
    __table_args__ = (UniqueConstraint("cart_id", "product_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    cart_id: Mapped[str] = mapped_column(ForeignKey("cart.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class StripeEvent(db.Model):
    """Every webhook event Stripe sent us, stored once (its id is unique)."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(200))
