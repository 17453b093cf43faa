"""HTML pages: storefront, auth, artisan workshop (/workshop) and operator console (/console).

Views parse the form or query, call one domain service and render; no business rule lives here.
"""

from __future__ import annotations

from flask import has_request_context

from marketplace.checkout import service as checkout
from marketplace.storefront import (
    account,
    auth,
    buy,
    community,
    console,
    security_page,
    seo,
    shop,
    workshop,
)
from marketplace.storefront.pages import page_user

blueprints = [shop.bp, auth.bp, buy.bp, community.bp, workshop.bp, console.bp, seo.bp,
              account.bp, security_page.bp]


@shop.bp.app_context_processor
def _page_globals():
    user = page_user() if has_request_context() else None
    count = checkout.cart_count(user.id) if user is not None and user.role == "buyer" else 0
    return {"page_user": user, "cart_count": count, "page_alternates": seo.alternates}
