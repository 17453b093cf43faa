"""Reviews from people who received the piece: one per delivered order line, 1-5 stars, text in
any language and photos; the workshop replies once; operators hide abusive ones with a reason,
which removes them from pages and from the average.

Photos (at most ``MAX_REVIEW_PHOTOS`` a review) go through the catalogue's photo pipeline
before the review's transaction: each upload is judged by its bytes (``check_upload``: JPEG,
PNG or WebP that decodes, not a bomb), then only its pixels are kept (``clean_variants``: no
EXIF, GPS, camera or ICC survives) at ``REVIEW_PHOTO_SIZES``; the review keeps the stored
variants. A hidden review's photos are shown to nobody but operators, like its text. When the
author's account is deleted the photos go (``community.erasure``): the review forgets them in
the deleting transaction and a worker deletes the files after the commit
(``delete_unused_files``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from sqlalchemy import String, case, cast, func, select

from marketplace.accounts.models import Role, User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.images import check_upload, clean_variants, default_variant, variants_out
from marketplace.catalog.models import ProductImage
from marketplace.community.errors import CommunityError
from marketplace.community.models import Review
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db, in_list
from marketplace.ids import utcnow
from marketplace.orders.models import (
    Fulfilment,
    FulfilmentStatus,
    Order,
    OrderLine,
    OrderStatus,
)
from marketplace.outbox import emit
from marketplace.storage import get_storage, media_url
from marketplace.transaction import lock_rows, use_case

REVIEWABLE_ORDER = {OrderStatus.DELIVERED, OrderStatus.COMPLETED}
MAX_REVIEW_PHOTOS = 4
REVIEW_PHOTO_SIZES = (320, 640, 1280)  # px on the long side; a review's photo is seen small
# {"keys": [...]}: stored files no review shows any more; a worker deletes them after commit.
FILES_UNUSED = "community.files_unused"


@dataclass(frozen=True)
class ReviewIn:
    rating: int
    text: str
    language: str
    photos: tuple[dict, ...] = ()  # from clean_photos: each {"width", "height", "variants"}


# --- photos ---

def _too_many() -> Conflict:
    return Conflict(f"A review has at most {MAX_REVIEW_PHOTOS} photos.",
                    code=CommunityError.REVIEW_PHOTO_LIMIT)


def clean_photos(files: list[bytes | None], *, max_bytes: int, already: int = 0) -> list[dict]:
    """Uploaded photos made safe, all or none: each judged by its bytes, then stored as
    metadata-free variants. Call it outside any transaction (it is slow and talks to storage);
    if the review is then refused, pass the result to ``forget_photos``."""
    if already + len(files) > MAX_REVIEW_PHOTOS:
        raise _too_many()
    uploads = [check_upload(data, max_bytes=max_bytes) for data in files]
    photos: list[dict] = []
    for upload in uploads:
        try:
            variants = clean_variants(upload.data, REVIEW_PHOTO_SIZES)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                Image.DecompressionBombError, Image.DecompressionBombWarning):
            forget_photos(photos)
            raise ValidationFailed("The file is not a JPEG, PNG or WebP image.",
                                   errors={"file": ["must be a JPEG, PNG or WebP image"]},
                                   code=CatalogError.IMAGE_UNSUPPORTED) from None
        full = max(variants, key=lambda v: v["width"] * v["height"])
        photos.append({"width": full["width"], "height": full["height"], "variants": variants})
    return photos


def photo_keys(photos: list) -> list[str]:
    keys = []
    for photo in photos or []:
        if isinstance(photo, str):  # a bare storage key
            keys.append(photo)
        else:
            keys.extend(variant["key"] for variant in photo.get("variants", []))
    return keys


def forget_photos(photos: list) -> None:
    """Delete the files of photos that were stored but not kept (nothing else shows them)."""
    delete_unused_files(photo_keys(photos))


def photo_out(photo) -> dict:
    if isinstance(photo, str):
        return {"url": media_url(photo), "width": None, "height": None, "variants": []}
    variants = list(photo.get("variants") or [])
    default = default_variant(variants)
    return {"url": media_url(default["key"]) if default else None, "width": photo.get("width"),
            "height": photo.get("height"), "variants": variants_out(variants)}


def photo_room(author: User, review_id: str) -> int:
    """How many photos the author's review has (raises if they may not add any)."""
    review = _visible(review_id)
    if review.author_id != author.id:
        raise Forbidden("Only the review's author adds photos to it.",
                        code=CommunityError.NOT_YOUR_REVIEW_PHOTOS)
    count = len(review.photos or [])
    if count >= MAX_REVIEW_PHOTOS:
        raise _too_many()
    return count


@use_case
def add_photos(author: User, review_id: str, photos: list[dict]) -> Review:
    """Add cleaned photos (``clean_photos``) to the author's review, up to the limit."""
    lock_rows(Review, [review_id])
    review = _visible(review_id)
    db.session.refresh(review)
    if review.author_id != author.id:
        raise Forbidden("Only the review's author adds photos to it.",
                        code=CommunityError.NOT_YOUR_REVIEW_PHOTOS)
    if len(review.photos or []) + len(photos) > MAX_REVIEW_PHOTOS:
        raise _too_many()
    review.photos = [*(review.photos or []), *photos]
    db.session.flush()
    return review


def drop_photos_of(author_id: str) -> None:
    """The author's reviews forget their photos (in the caller's transaction); their files are
    deleted by a worker once it commits."""
    keys: list[str] = []
    for review in db.session.execute(select(Review).where(Review.author_id == author_id)).scalars():
        keys.extend(photo_keys(review.photos))
        review.photos = []
    db.session.flush()
    if keys:
        emit(FILES_UNUSED, {"keys": sorted(set(keys))})


def _still_shown(key: str) -> bool:
    """Does any review or product image still name this stored file?"""
    return bool(db.session.execute(select(Review.id).where(
        cast(Review.photos, String).contains(key)).limit(1)).first() or db.session.execute(
        select(ProductImage.id).where(cast(ProductImage.variants, String).contains(key))
        .limit(1)).first())


def delete_unused_files(keys: list[str]) -> int:
    """Delete the stored files among ``keys`` that no review or product image shows (the same
    bytes may have been kept twice under one content key); how many were deleted. Storage is
    called with no transaction open."""
    unused = [key for key in dict.fromkeys(keys) if not _still_shown(key)]
    db.session.rollback()
    storage = get_storage()
    deleted = 0
    for key in unused:
        if storage.exists(key):
            storage.delete(key)
            deleted += 1
    return deleted


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


def workshop_reviews(artisan_id: str, *, language: str | None = None, limit: int = 10
                     ) -> list[Review]:
    """The latest visible reviews of a workshop's pieces, the reader's language first."""
    order = [Review.created_at.desc(), Review.id]
    if language:
        order.insert(0, case((Review.language == language, 0), else_=1))
    return list(db.session.execute(
        select(Review).where(Review.artisan_id == artisan_id, Review.hidden_at.is_(None))
        .order_by(*order).limit(limit)).scalars())


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


def visible_totals(product_ids: list[str] | str):
    """The count and rating sum of each piece's visible reviews (a query to run or join):
    of the pieces ``product_ids``, or, when it is a name, of the list a statement built once
    is given as that parameter."""
    among = (in_list(Review.product_id, product_ids) if isinstance(product_ids, str)
             else Review.product_id.in_(product_ids))
    return (select(Review.product_id, func.count().label("count"),
                   func.sum(Review.rating).label("total"))
            .where(among, Review.hidden_at.is_(None))
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
