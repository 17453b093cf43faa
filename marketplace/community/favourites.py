"""Favourites: a buyer saves a piece; a workshop sees how many buyers saved each of its pieces."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import User
from marketplace.catalog.models import Product, ProductStatus
from marketplace.catalog.views import views_since
from marketplace.community.errors import CommunityError
from marketplace.community.models import Favourite
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.transaction import use_case


def _saveable(product_id: str, user: User) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or product.status != ProductStatus.ACTIVE or (
            product.reserved_for_id not in (None, user.id)):
        raise NotFound("No such piece.", code=CommunityError.PRODUCT_NOT_FOUND)
    return product


@use_case
def save(user: User, product_id: str) -> bool:
    """Save a piece; True when it was not saved before (saving twice changes nothing)."""
    product = _saveable(product_id, user)
    if db.session.get(Favourite, (user.id, product.id)) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(Favourite(user_id=user.id, product_id=product.id))
    except IntegrityError:  # the same save from another request, at the same time
        return False
    return True


@use_case
def unsave(user: User, product_id: str) -> bool:
    return db.session.execute(delete(Favourite).where(
        Favourite.user_id == user.id, Favourite.product_id == product_id)).rowcount > 0


def saved_products(user: User, *, limit: int = 100) -> list[Product]:
    """The buyer's saved pieces that are still for sale, newest save first."""
    return list(db.session.execute(
        select(Product).join(Favourite, Favourite.product_id == Product.id)
        .where(Favourite.user_id == user.id, Product.status == ProductStatus.ACTIVE)
        .order_by(Favourite.created_at.desc(), Product.id).limit(limit)).scalars())


def saved_ids(user: User | None, product_ids: list[str]) -> set[str]:
    """Which of these pieces the user saved (none for a visitor)."""
    if user is None or not product_ids:
        return set()
    return set(db.session.execute(select(Favourite.product_id).where(
        Favourite.user_id == user.id, Favourite.product_id.in_(product_ids))).scalars())


def save_counts(product_ids: list[str]) -> dict[str, int]:
    """How many buyers saved each piece (a workshop's and the operators' figure)."""
    if not product_ids:
        return {}
    counts = dict(db.session.execute(
        select(Favourite.product_id, func.count()).where(Favourite.product_id.in_(product_ids))
        .group_by(Favourite.product_id)).all())
    return {pid: counts.get(pid, 0) for pid in product_ids}


def piece_interest(artisan_id: str, *, days: int = 30, limit: int = 20,
                   today: date | None = None) -> list[tuple[str, dict, int, int]]:
    """A workshop's pieces with their page views over the last ``days`` days and how many
    buyers saved them now, the most seen first: (product id, title, views, saves), one query."""
    pieces = select(Product.id).where(Product.artisan_id == artisan_id).scalar_subquery()
    seen = views_since(days, today=today, product_ids=pieces)
    saved = (select(Favourite.product_id, func.count().label("saves"))
             .where(Favourite.product_id.in_(pieces))
             .group_by(Favourite.product_id).subquery())
    views = func.coalesce(seen.c.views, 0)
    saves = func.coalesce(saved.c.saves, 0)
    rows = db.session.execute(
        select(Product.id, Product.title, views, saves)
        .outerjoin(seen, seen.c.product_id == Product.id)
        .outerjoin(saved, saved.c.product_id == Product.id)
        .where(Product.artisan_id == artisan_id,
               Product.status.in_([ProductStatus.ACTIVE, ProductStatus.DRAFT]))
        .order_by(views.desc(), saves.desc(), Product.id).limit(limit)).all()
    return [(pid, dict(title or {}), int(v), int(s)) for pid, title, v, s in rows]
