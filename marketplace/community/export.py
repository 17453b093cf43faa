""""Download my data": what the community keeps about a person (their reviews, saved pieces,
conversations with their messages, and commissions)."""

from __future__ import annotations

from sqlalchemy import or_, select

from marketplace.accounts.models import User
from marketplace.community.models import (
    Commission,
    Conversation,
    Favourite,
    Message,
    Review,
)
from marketplace.community.reviews import photo_out
from marketplace.extensions import db
from marketplace.ids import isoformat


def export_reviews(user: User) -> list[dict]:
    rows = db.session.execute(select(Review).where(
        or_(Review.author_id == user.id, Review.artisan_id == user.id))
        .order_by(Review.created_at, Review.id)).scalars()
    return [{"id": r.id, "product_id": r.product_id, "order_id": r.order_id,
             "written_by_you": r.author_id == user.id, "rating": r.rating, "text": r.text,
             "language": r.language, "reply": r.reply_text,
             "photos": [photo_out(photo)["url"] for photo in r.photos or []],
             "created_at": isoformat(r.created_at), "hidden": r.hidden_at is not None}
            for r in rows]


def export_favourites(user: User) -> list[dict]:
    rows = db.session.execute(select(Favourite).where(Favourite.user_id == user.id)
                              .order_by(Favourite.created_at)).scalars()
    return [{"product_id": f.product_id, "saved_at": isoformat(f.created_at)} for f in rows]


def export_conversations(user: User) -> list[dict]:
    rows = list(db.session.execute(select(Conversation).where(
        or_(Conversation.buyer_id == user.id, Conversation.artisan_id == user.id))
        .order_by(Conversation.created_at, Conversation.id)).scalars())
    ids = [c.id for c in rows]
    messages: dict[str, list[dict]] = {cid: [] for cid in ids}
    for m in db.session.execute(select(Message).where(Message.conversation_id.in_(ids))
                                .order_by(Message.created_at, Message.id)).scalars() if ids else ():
        messages[m.conversation_id].append({
            "from_you": m.sender_id == user.id, "body": m.body,
            "sent_at": isoformat(m.created_at)})
    commissions: dict[str, list[dict]] = {cid: [] for cid in ids}
    for c in db.session.execute(select(Commission).where(Commission.conversation_id.in_(ids))
                                .order_by(Commission.created_at)).scalars() if ids else ():
        commissions[c.conversation_id].append({
            "id": c.id, "description": c.description, "status": c.status,
            "budget_amount": c.budget_amount, "budget_currency": c.budget_currency,
            "offer_amount": c.offer_amount, "offer_currency": c.offer_currency,
            "product_id": c.product_id, "created_at": isoformat(c.created_at)})
    return [{"id": c.id, "subject": c.subject, "product_id": c.product_id,
             "order_id": c.order_id, "created_at": isoformat(c.created_at),
             "messages": messages[c.id], "commissions": commissions[c.id]} for c in rows]
