"""What the community knows of the pieces in a list: each one's review summary and, for a
signed-in viewer, whether they saved it, read together in one query (or joined to the list's
other lookups: ``with_facts``)."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select

from marketplace.accounts.models import User
from marketplace.catalog.models import Product
from marketplace.community import reviews
from marketplace.community.models import Favourite
from marketplace.extensions import db, in_list


def with_facts(query, with_saved: bool):
    """``query``, a select of products by the ids ``ids``, with what the community knows of
    each (``fact_of`` reads it): its visible reviews' count and rating sum and, ``with_saved``,
    whether the viewer ``viewer`` saved it. Lists read it in the same statement as what the
    other domains know (``marketplace.listings``)."""
    totals = reviews.visible_totals("ids").subquery()
    query = (query.add_columns(totals.c.count.label("review_count"),
                               totals.c.total.label("review_total"))
             .outerjoin(totals, totals.c.product_id == Product.id))
    if with_saved:
        query = query.add_columns(exists().where(
            Favourite.user_id == bindparam("viewer"),
            Favourite.product_id == Product.id).label("saved"))
    return query


def fact_of(row, with_saved: bool) -> dict:
    """``{"reviews": summary, "saved": bool}`` of a row of ``with_facts``; ``saved`` only
    ``with_saved``."""
    fact = {"reviews": reviews.summary(row.review_count, row.review_total)}
    if with_saved:
        fact["saved"] = bool(row.saved)
    return fact


# Built once: for a visitor, and with whether the viewer saved each.
_FACTS = {with_saved: with_facts(select(Product.id).where(in_list(Product.id)), with_saved)
          for with_saved in (False, True)}


def facts(product_ids: list[str], viewer: User | None) -> dict[str, dict]:
    """``{product_id: {"reviews": summary, "saved": bool}}``; ``saved`` only for a viewer."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    with_saved = viewer is not None
    found = {row.id: fact_of(row, with_saved) for row in db.session.execute(
        _FACTS[with_saved], {"ids": ids, "viewer": viewer.id if viewer else None})}
    empty = {"reviews": reviews.summary(0, 0)} | ({"saved": False} if viewer else {})
    return {pid: found.get(pid, empty) for pid in ids}
