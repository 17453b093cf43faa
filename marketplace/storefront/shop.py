"""The storefront: catalogue, product and artisan pages."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace.catalog import browse
from marketplace.catalog import views as piece_views
from marketplace.catalog.schemas import ListQuery
from marketplace.community import reviews as community_reviews
from marketplace.community.api import review_out
from marketplace.i18n import current_currency, current_language, format_money
from marketplace.money import Money
from marketplace.provenance import labels
from marketplace.storefront import community
from marketplace.storefront.forms import lenient_query, minor_units
from marketplace.storefront.pages import html_errors, page_user, present_listings
from marketplace.storefront.seo import product_card

bp = html_errors(Blueprint("shop", __name__))

PAGE_SIZE = 24


def _sort_names() -> dict[str, str]:
    return {"newest": _("Newest first"), "price_asc": _("Price: low to high"),
            "price_desc": _("Price: high to low"), "relevance": _("Best match")}


def _price_filter(raw: str, currency: str, errors: dict, field: str) -> int | None:
    """Major units typed by the visitor ("50", "49.90") to minor units of ``currency``."""
    if not raw.strip():
        return None
    amount = minor_units(raw, currency)
    if amount is None or amount < 0:
        errors[field] = _("Enter an amount such as 50 or 49.90.")
        return None
    return amount


def _filters() -> tuple[dict, ListQuery | None, dict]:
    """(the form as typed, the catalogue query in the API's input model, per-field errors); no
    query when the price range is empty, so nothing can match."""
    args = request.args
    currency = current_currency()
    errors: dict[str, str] = {}
    form = {key: args.get(key, "").strip() for key in ("q", "craft", "material", "min_price",
                                                        "max_price", "sort")}
    form["verified"] = args.get("verified") == "1"
    query = lenient_query(ListQuery, {
        "q": form["q"] or None,
        "craft": form["craft"] or None,
        "material": form["material"] or None,
        "verified": True if form["verified"] else None,
        "min_price": _price_filter(form["min_price"], currency, errors, "min_price"),
        "max_price": _price_filter(form["max_price"], currency, errors, "max_price"),
        "currency": currency,
        "sort": form["sort"] or None,
    })
    return form, query, errors


def _names(crafts: list[dict]) -> dict[str, str]:
    return {craft["code"]: craft["name"] for craft in crafts}


PAGE_FACETS = ("craft", "material", "price")


def _facet_links(facets: dict, crafts: dict[str, str]) -> list[dict]:
    """The facet counts as groups of links that add one filter to the current page."""
    args = {key: value for key, value in request.args.items() if key != "cursor"}

    def link(**changes) -> str:
        return url_for("shop.catalogue", **{**args, **changes})

    groups = []
    if facets.get("craft"):
        groups.append({"name": _("Craft"), "items": [
            {"label": crafts.get(item["value"], item["value"]), "count": item["count"],
             "url": link(craft=item["value"]), "active": args.get("craft") == item["value"]}
            for item in facets["craft"]]})
    if facets.get("material"):
        groups.append({"name": _("Material"), "items": [
            {"label": item["value"], "count": item["count"], "url": link(material=item["value"]),
             "active": args.get("material", "").lower() == item["value"]}
            for item in facets["material"][:10]]})
    if facets.get("price"):
        currency = facets["currency"]
        items = []
        for band in facets["price"]:
            low, high = Money(band["min"], currency), None
            if band["max"] is not None:
                high = Money(band["max"], currency)
            label = (_("%(low)s to %(high)s", low=format_money(low), high=format_money(high))
                     if high else _("from %(amount)s", amount=format_money(low)))
            items.append({"label": label, "count": band["count"], "active": False,
                          "url": link(min_price=str(low.major),
                                      max_price=str(high.major) if high else "")})
        groups.append({"name": _("Price"), "items": items})
    return groups


@bp.get("/")
def catalogue():
    form, query, errors = _filters()
    products, next_cursor, facets = [], None, []
    crafts = browse.crafts(current_language())
    if query is not None:
        cursor = request.args.get("cursor") or None
        page = browse.list_products(
            q=query.q, craft=query.craft, material=query.material, verified=query.verified,
            min_price=query.min_price, max_price=query.max_price, currency=query.currency,
            sort=query.sort, limit=PAGE_SIZE, cursor=cursor,
            facets=() if cursor else PAGE_FACETS)
        products = present_listings(page.products, rates=page.rates)
        next_cursor = page.next_cursor
        if page.facets:
            facets = _facet_links(page.facets, _names(crafts))
    next_url = None
    if next_cursor:
        args = {key: value for key, value in request.args.items() if key != "cursor"}
        next_url = url_for("shop.catalogue", **args, cursor=next_cursor)
    first_url = None
    if request.args.get("cursor"):
        first_url = url_for("shop.catalogue", **{key: value for key, value
                                                 in request.args.items() if key != "cursor"})
    return render_template("storefront/catalogue.html", products=products, form=form,
                           errors=errors, crafts=crafts, craft_names=_names(crafts),
                           sorts=_sort_names(), next_url=next_url, first_url=first_url,
                           facets=facets)


@bp.get("/catalogue")
def catalogue_alias():
    return redirect(url_for("shop.catalogue", **request.args), code=301)


def _label_for(summary: dict) -> dict | None:
    """The public, signed label behind a product's provenance summary, when one holds."""
    if summary.get("status") != "valid" or not summary.get("label_code"):
        return None
    return labels.public_label(summary["label_code"])


@bp.get("/products/<product_id>")
def product(product_id: str):
    item = browse.get_product(product_id, viewer=page_user())
    view = present_listings([item])[0]
    label = _label_for(view["provenance"])
    record = label["record"].get("record") or {} if label else {}
    crafts = _names(browse.crafts(current_language()))
    response = make_response(render_template(
        "storefront/product.html", product=view, label=label, record=record,
        craft_name=crafts.get(view["craft"], view["craft"]), card=product_card(view),
        **community.product_extras(view, page_user())))
    viewer = page_user()
    # the workshop looking at its own piece, or an operator, is not a buyer's interest
    if (viewer is None or (viewer.role != "operator" and viewer.id != view["artisan_id"])) and (
            piece_views.count_view(view["id"])):
        piece_views.schedule_flush(response)
    return response


@bp.get("/artisans/<artisan_id>")
def artisan(artisan_id: str):
    profile = browse.profile_view(artisan_id, current_language())
    page = browse.list_products(artisan=artisan_id, limit=PAGE_SIZE,
                                cursor=request.args.get("cursor") or None)
    products = present_listings(page.products, rates=page.rates)
    next_url = (url_for("shop.artisan", artisan_id=artisan_id, cursor=page.next_cursor)
                if page.next_cursor else None)
    latest = [review_out(review, page_user()) for review in community_reviews.workshop_reviews(
        artisan_id, language=current_language())]
    return render_template("storefront/artisan.html", profile=profile, products=products,
                           next_url=next_url, reviews=latest,
                           craft_names=_names(browse.crafts(current_language())))
