"""What the community knows of the pieces in a list: each one's review summary and, for a
signed-in viewer, whether they saved it, read together in one query."""

from __future__ import annotations

from sqlalchemy import exists, select

from marketplace.accounts.models import User
from marketplace.catalog.models import Product
from marketplace.community import reviews
from marketplace.community.models import Favourite
from marketplace.extensions import db


def facts(product_ids: list[str], viewer: User | None) -> dict[str, dict]:
    """``{product_id: {"reviews": summary, "saved": bool}}``; ``saved`` only for a viewer."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    totals = reviews.visible_totals(ids).subquery()
    columns = [Product.id, totals.c.count, totals.c.total]
    if viewer is not None:
        columns.append(exists().where(Favourite.user_id == viewer.id,
                                      Favourite.product_id == Product.id))
    found = {}
    for row in db.session.execute(
            select(*columns).select_from(Product)
            .outerjoin(totals, totals.c.product_id == Product.id)
            .where(Product.id.in_(ids))):
        found[row[0]] = {"reviews": reviews.summary(row[1], row[2])}
        if viewer is not None:
            found[row[0]]["saved"] = bool(row[3])
    empty = {"reviews": reviews.summary(0, 0)} | ({"saved": False} if viewer else {})
    return {pid: found.get(pid, empty) for pid in ids}
