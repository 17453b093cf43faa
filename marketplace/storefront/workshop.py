"""The artisan's workshop dashboard (/workshop): profile and listings."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from marketplace.catalog import service as catalog
from marketplace.i18n import current_currency, current_language
from marketplace.storefront.pages import html_errors, page_user, roles_required

bp = html_errors(Blueprint("workshop", __name__, url_prefix="/workshop"))

PAGE_SIZE = 50


@bp.get("/")
@roles_required("artisan")
def dashboard():
    user = page_user()
    profile = catalog.profile_view(user.id, current_language())
    page = catalog.list_products(artisan=user.id, limit=PAGE_SIZE,
                                 cursor=request.args.get("cursor") or None)
    listings = catalog.present_products(page.products, lang=current_language(),
                                        currency=current_currency(), rates=page.rates)
    next_url = url_for("workshop.dashboard", cursor=page.next_cursor) if page.next_cursor else None
    crafts = {craft["code"]: craft["name"] for craft in catalog.crafts(current_language())}
    return render_template("workshop/dashboard.html", profile=profile, listings=listings,
                           next_url=next_url, craft_names=crafts)
