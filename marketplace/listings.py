"""Products as lists show them, in the API and on pages alike: the catalogue's view of each
piece with what the domains above it know (its provenance summary, its reviews and, for a
signed-in viewer, whether they saved it). An adapter-level module: the HTTP API and the
storefront import it; no domain does."""

from __future__ import annotations

from marketplace.catalog import browse
from marketplace.catalog.models import Product
from marketplace.community import listing
from marketplace.fx.service import RateTable
from marketplace.http import current_user
from marketplace.provenance import summaries_for_products


def present(products: list[Product], *, lang: str | None, currency: str,
            rates: RateTable | None = None) -> list[dict]:
    """``products`` in ``lang`` and ``currency``, for the signed-in caller (or a visitor)."""
    ids = [product.id for product in products]
    user = current_user()
    known = listing.facts(ids, user)
    return browse.present_products(
        products, lang=lang, currency=currency, rates=rates,
        provenance=summaries_for_products(ids),
        reviews={pid: fact["reviews"] for pid, fact in known.items()},
        saved={pid for pid, fact in known.items() if fact.get("saved")}
        if user is not None else None)
