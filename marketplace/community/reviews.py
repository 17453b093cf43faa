"""Reviews from people who received the piece: one per delivered order line, 1-5 stars, text in
any language and photos; the workshop replies once; operators hide abusive ones with a reason,
which removes them from pages and from the average."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from marketplace.accounts.models import Role, User
from marketplace.community.errors import CommunityError
from marketplace.community.models import Review
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderLine,
    OrderStatus,
)
from marketplace.transaction import lock_rows, use_case

REVIEWABLE_ORDER = {OrderStatus.DELIVERED, OrderStatus.COMPLETED}


@dataclass(frozen=True)
class ReviewIn:
    rating: int
    text: str
    language: str
    photos: tuple[str, ...] = ()


def _first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0][:200] or "Buyer"


def _delivered(order: Order, line: OrderLine) -> bool:
    if order.status in REVIEWABLE_ORDER:
        return True
    fulfilment = db.session.execute(select(Fulfilment).where(
        Fulfilment.order_id == order.id, Fulfilment.artisan_id == line.artisan_id)
    ).scalar_one_or_none()
    return fulfilment is not None and fulfilment.status == FulfilmentStatus.DELIVERED


def reviewable_line(buyer: User, order_id: str, line_id: str) -> tuple[Order, OrderLine]:
    order = db.session.get(Order, order_id)
    line = db.session.get(OrderLine, line_id)
    if order is None or order.buyer_id != buyer.id or line is None or line.order_id != order.id:
        raise NotFound("No such line in your orders.", code=CommunityError.LINE_NOT_FOUND)
    if not _delivered(order, line) or line.refunded_quantity >= line.quantity:
        raise Conflict("The piece has not been delivered to you.",
                       code=CommunityError.NOT_DELIVERED)
    return order, line


@use_case
def write_review(buyer: User, order_id: str, line_id: str, review: ReviewIn) -> Review:
    order, line = reviewable_line(buyer, order_id, line_id)
    lock_rows(Order, [order.id])  # two tabs submitting at once: one review
    if db.session.execute(select(Review.id).where(Review.order_line_id == line.id)).first():
        raise Conflict("You reviewed this piece already.", code=CommunityError.ALREADY_REVIEWED)
    row = Review(order_id=order.id, order_line_id=line.id, product_id=line.product_id,
                 artisan_id=line.artisan_id, author_id=buyer.id,
                 author_name=_first_name(buyer.name), rating=review.rating,
                 text=review.text, language=review.language, photos=list(review.photos))
    db.session.add(row)
    db.session.flush()
    return row


def _visible(review_id: str) -> Review:
    review = db.session.get(Review, review_id)
    if review is None or review.hidden_at is not None:
        raise NotFound("No such review.", code=CommunityError.REVIEW_NOT_FOUND)
    return review


@use_case
def reply(artisan: User, review_id: str, text: str) -> Review:
    review = _visible(review_id)
    if review.artisan_id != artisan.id:
        raise Forbidden("Only the workshop that made the piece replies.",
                        code=CommunityError.NOT_YOUR_REVIEW)
    replied = db.session.execute(
        Review.__table__.update().where(Review.id == review.id, Review.reply_text.is_(None))
        .values(reply_text=text, replied_at=utcnow())).rowcount
    if not replied:
        raise Conflict("You replied to this review already.", code=CommunityError.ALREADY_REPLIED)
    db.session.refresh(review)
    return review


@use_case
def hide(operator: User, review_id: str, reason: str) -> Review:
    review = db.session.get(Review, review_id)
    if review is None:
        raise NotFound("No such review.", code=CommunityError.REVIEW_NOT_FOUND)
    if review.hidden_at is None:
        review.hidden_at = utcnow()
        review.hidden_reason = reason
        review.hidden_by = operator.id
        db.session.flush()
    return review


def product_reviews(product_id: str, *, language: str | None = None, limit: int = 50,
                    viewer: User | None = None) -> list[Review]:
    """Visible reviews of a piece, the reader's language first, then newest first; operators
    also see hidden ones."""
    query = select(Review).where(Review.product_id == product_id)
    if viewer is None or viewer.role != Role.OPERATOR:
        query = query.where(Review.hidden_at.is_(None))
    order = [Review.created_at.desc(), Review.id]
    if language:
        order.insert(0, case((Review.language == language, 0), else_=1))
    return list(db.session.execute(query.order_by(*order).limit(limit)).scalars())


def visible_totals(product_ids: list[str]):
    """The count and rating sum of each piece's visible reviews (a query to run or join)."""
    return (select(Review.product_id, func.count().label("count"),
                   func.sum(Review.rating).label("total"))
            .where(Review.product_id.in_(product_ids), Review.hidden_at.is_(None))
            .group_by(Review.product_id))


def summaries(product_ids: list[str]) -> dict[str, dict]:
    """Average rating (one decimal) and count of visible reviews per piece, in one query."""
    found = {pid: (count, total) for pid, count, total in db.session.execute(
        visible_totals(product_ids)).all()} if product_ids else {}
    return {pid: summary(*found.get(pid, (0, 0))) for pid in product_ids}


def workshop_summary(artisan_id: str) -> dict:
    count, total = db.session.execute(
        select(func.count(), func.sum(Review.rating))
        .where(Review.artisan_id == artisan_id, Review.hidden_at.is_(None))).one()
    return summary(count, total or 0)


def summary(count: int, total: int | None) -> dict:
    """A review summary: how many, and their average rating to one decimal."""
    return {"count": int(count or 0), "average": round(total / count, 1) if count else None}


def line_reviews(order_id: str) -> dict[str, Review]:
    """The reviews of an order's lines, by line id (the order page offers the missing ones)."""
    return {r.order_line_id: r for r in db.session.execute(
        select(Review).where(Review.order_id == order_id)).scalars()}
