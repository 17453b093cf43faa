"""Products as lists show them, in the API and on pages alike: the catalogue's view of each
piece with what the domains above it know (its provenance summary, its reviews and, for a
signed-in viewer, whether they saved it), read in one statement that each domain adds its
part to. An adapter-level module: the HTTP API and the storefront import it; no domain does."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.catalog import browse
from marketplace.catalog.models import Product
from marketplace.community import listing
from marketplace.extensions import db, in_list
from marketplace.fx.service import RateTable
from marketplace.http import current_user
from marketplace.provenance import summaries_for_products, summary_of, with_summaries


def _lookup(with_saved: bool):
    """One statement for what every domain knows of a list's products: their workshops, their
    provenance, their reviews and (``with_saved``) whether the viewer saved them."""
    products = select(Product.id).where(in_list(Product.id))
    return listing.with_facts(with_summaries(browse.with_workshops(products)), with_saved)


_LOOKUPS = {with_saved: _lookup(with_saved) for with_saved in (False, True)}  # built once


def present(products: list[Product], *, lang: str | None, currency: str,
            rates: RateTable | None = None) -> list[dict]:
    """``products`` in ``lang`` and ``currency``, for the signed-in caller (or a visitor)."""
    ids = list(dict.fromkeys(product.id for product in products))
    user = current_user()
    with_saved = user is not None
    workshops: dict[str, dict] = {}
    provenance: dict[str, dict] = {}
    known: dict[str, dict] = {}
    if ids:
        for row in db.session.execute(_LOOKUPS[with_saved],
                                      {"ids": ids, "viewer": user.id if user else None}):
            if row.artisan_id not in workshops:
                workshops[row.artisan_id] = browse.workshop_of(row)
            provenance[row.id] = summary_of(row)
            known[row.id] = listing.fact_of(row, with_saved)
    unknown = [pid for pid in ids if pid not in known]
    if unknown:  # not in the database (never flushed, or gone since): as each domain says
        provenance |= summaries_for_products(unknown)
        known |= listing.facts(unknown, user)
        workshops |= browse.workshops_of(
            {p.artisan_id for p in products if p.artisan_id not in workshops})
    return browse.present_products(
        products, lang=lang, currency=currency, rates=rates, provenance=provenance,
        workshops=workshops, reviews={pid: fact["reviews"] for pid, fact in known.items()},
        saved={pid for pid, fact in known.items() if fact.get("saved")} if with_saved else None)
