from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow


class Favourite(db.Model):
    """A buyer saved a piece; one row per buyer and piece."""

    __tablename__ = "favourite"
    __table_args__ = (Index("ix_favourite_user_created", "user_id", "created_at"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"),
                                         primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(db.Model):
    """One review per delivered order line, by the order's buyer; the artisan may reply once;
    an operator may hide it (with a reason), which takes it out of pages and the average."""

    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("order_line_id", name="uq_review_order_line"),
        Index("ix_review_product_visible", "product_id", "hidden_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("order.id"), index=True)
    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_line.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"))
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("user.id"), index=True)
    author_name: Mapped[str] = mapped_column(String(200))  # as shown: the first name only
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5))
    photos: Mapped[list] = mapped_column(JSON, default=list)  # storage keys of the photos
    reply_text: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(db.Model):
    """A buyer and a workshop talking about a piece, an order, or a commission."""

    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_buyer_last", "buyer_id", "last_message_at"),
        Index("ix_conversation_artisan_last", "artisan_id", "last_message_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("user.id"))
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"))
    product_id: Mapped[str | None] = mapped_column(ForeignKey("product.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("order.id"))
    subject: Mapped[str] = mapped_column(String(200))
    reported_at: Mapped[datetime | None] = mapped_column(index=True)
    reported_by: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    report_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(db.Model):
    __tablename__ = "conversation_message"
    __table_args__ = (Index("ix_message_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"))
    sender_id: Mapped[str] = mapped_column(ForeignKey("user.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommissionStatus(StrEnum):
    REQUESTED = "requested"  # the buyer asked; the artisan has not answered
    OFFERED = "offered"  # the artisan named a price and a making time
    ACCEPTED = "accepted"  # the buyer took the offer: a one-off listing is reserved for them
    DECLINED = "declined"  # the artisan said no
    WITHDRAWN = "withdrawn"  # the buyer no longer wants it (before accepting)


class Commission(db.Model):
    """A made-to-order request: the buyer describes the piece, a budget and a date; the artisan
    answers with an offer; an accepted offer becomes a listing only that buyer can buy."""

    __tablename__ = "commission"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    budget_amount: Mapped[int | None] = mapped_column(BigInteger)
    budget_currency: Mapped[str | None] = mapped_column(String(3))
    wanted_by: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(12), default=CommissionStatus.REQUESTED)
    offer_amount: Mapped[int | None] = mapped_column(BigInteger)  # the artisan's listing currency
    offer_currency: Mapped[str | None] = mapped_column(String(3))
    offer_making_days: Mapped[int | None] = mapped_column(Integer)
    offer_note: Mapped[str | None] = mapped_column(Text)
    # the listing the offer would create: title, description, craft, weight, dimensions, tags
    offer_listing: Mapped[dict | None] = mapped_column(JSON)
    product_id: Mapped[str | None] = mapped_column(ForeignKey("product.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
