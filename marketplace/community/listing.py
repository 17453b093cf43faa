"""What the community knows of the pieces in a list: each one's review summary and, for a
signed-in viewer, whether they saved it, read together in one query."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select

from marketplace.accounts.models import User
from marketplace.catalog.models import Product
from marketplace.community import reviews
from marketplace.community.models import Favourite
from marketplace.extensions import db


def _facts_query(with_saved: bool):
    ids = bindparam("ids", expanding=True)
    totals = reviews.visible_totals(ids).subquery()
    columns = [Product.id, totals.c.count, totals.c.total]
    if with_saved:
        columns.append(exists().where(Favourite.user_id == bindparam("viewer"),
                                      Favourite.product_id == Product.id))
    return (select(*columns).select_from(Product)
            .outerjoin(totals, totals.c.product_id == Product.id)
            .where(Product.id.in_(ids)))


# Built once (every list page runs one): for a visitor, and with whether the viewer saved each.
_FACTS = {False: _facts_query(False), True: _facts_query(True)}


def facts(product_ids: list[str], viewer: User | None) -> dict[str, dict]:
    """``{product_id: {"reviews": summary, "saved": bool}}``; ``saved`` only for a viewer."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    found = {}
    for row in db.session.execute(_FACTS[viewer is not None],
                                  {"ids": ids, "viewer": viewer.id if viewer else None}):
        found[row[0]] = {"reviews": reviews.summary(row[1], row[2])}
        if viewer is not None:
            found[row[0]]["saved"] = bool(row[3])
    empty = {"reviews": reviews.summary(0, 0)} | ({"saved": False} if viewer else {})
    return {pid: found.get(pid, empty) for pid in ids}
