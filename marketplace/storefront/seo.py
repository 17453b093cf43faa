"""What search engines and link previews read: schema.org Product/Offer JSON-LD, hreflang
alternates, OpenGraph and Twitter cards, sitemap.xml, robots.txt and the favicon."""

from __future__ import annotations

import io
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request, url_for
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from marketplace.catalog.models import Product, ProductStatus
from marketplace.errors import NotFound, RequestError
from marketplace.extensions import db
from marketplace.i18n import LANGUAGES, current_language
from marketplace.money import Money

bp = Blueprint("seo", __name__)

SITEMAP_URLS = 50_000  # the protocol's limit per file
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
OG_LOCALES = {"kk": "kk_KZ", "ru": "ru_RU", "en": "en_GB"}
PRIVATE_PATHS = ("/workshop/", "/console/", "/cart", "/checkout", "/orders", "/account",
                 "/signin", "/signup")


def absolute(url: str) -> str:
    """A link anyone can follow: under PUBLIC_URL unless it already names its host."""
    if url.startswith(("https://", "http://")):
        return url
    return current_app.config["PUBLIC_URL"] + url


def language_url(path: str, lang: str | None) -> str:
    args = {key: value for key, value in request.args.items(multi=True)
            if key not in ("lang", "cursor")}
    if lang:
        args["lang"] = lang
    query = urlencode(args)
    return absolute(path + (f"?{query}" if query else ""))


def alternates() -> list[tuple[str, str]]:
    """(hreflang, URL) of this page in each language, and x-default."""
    return [*((lang, language_url(request.path, lang)) for lang in LANGUAGES),
            ("x-default", language_url(request.path, None))]


def _cover(product: dict) -> dict | None:
    return next((image for image in product["images"]
                 if image["state"] == "ready" and image["url"]), None)


def _shown_variant(image: dict) -> dict:
    return next((v for v in image["variants"] if v["url"] == image["url"]),
                {"width": image["width"], "height": image["height"]})


def product_json_ld(product: dict, page_url: str) -> dict:
    """schema.org Product with its Offer, in the page's currency."""
    price = Money(product["display_price"]["amount"], product["display_price"]["currency"])
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "@id": page_url,
        "name": product["title"],
        "description": product["description"] or product["title"],
        "sku": product["id"],
        "url": page_url,
        "category": product["craft"],
        "image": [absolute(image["url"]) for image in product["images"]
                  if image["state"] == "ready" and image["url"]],
        "brand": {"@type": "Brand", "name": product["artisan"]["workshop_name"]},
        "countryOfOrigin": "KZ",
        "offers": {
            "@type": "Offer",
            "url": page_url,
            "price": f"{price.major:f}",
            "priceCurrency": price.currency,
            "availability": "https://schema.org/InStock" if product["available"] > 0
            else "https://schema.org/OutOfStock",
            "itemCondition": "https://schema.org/NewCondition",
            "seller": {"@type": "Organization",
                       "name": product["artisan"]["workshop_name"]},
        },
    }
    if product["materials"]:
        data["material"] = ", ".join(product["materials"])
    if product["weight_g"]:
        data["weight"] = {"@type": "QuantitativeValue", "value": product["weight_g"],
                          "unitCode": "GRM"}
    return data


def product_card(product: dict) -> dict:
    """The OpenGraph / Twitter card of a product page."""
    page_url = absolute(url_for("shop.product", product_id=product["id"]))
    description = " ".join((product["description"] or product["title"]).split())
    if len(description) > 200:
        description = description[:197].rstrip() + "…"
    card = {"url": page_url, "title": product["title"], "description": description,
            "locale": OG_LOCALES.get(current_language(), "en_GB"),
            "price": product["display_price"], "image": None,
            "json_ld": product_json_ld(product, page_url)}
    cover = _cover(product)
    if cover:
        shown = _shown_variant(cover)
        card["image"] = {"url": absolute(cover["url"]), "width": shown["width"],
                         "height": shown["height"],
                         "alt": (cover["alt"] or {}).get(current_language())
                         or next(iter((cover["alt"] or {}).values()), product["title"])}
    return card


# --- sitemap, robots, favicon ---

def _listed_products():
    return (select(Product.id, Product.updated_at)
            .where(Product.status == ProductStatus.ACTIVE).order_by(Product.id))


def _artisans() -> list[tuple[str, object]]:
    return db.session.execute(
        select(Product.artisan_id, func.max(Product.updated_at))
        .where(Product.status == ProductStatus.ACTIVE)
        .group_by(Product.artisan_id).order_by(Product.artisan_id)).all()


def _urlset(entries) -> Response:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for loc, lastmod in entries:
        lines.append(f"<url><loc>{escape(loc)}</loc>"
                     + (f"<lastmod>{lastmod:%Y-%m-%d}</lastmod>" if lastmod else "")
                     + "</url>")
    lines.append("</urlset>")
    return Response("\n".join(lines) + "\n", mimetype="application/xml")


def _entries(offset: int, limit: int):
    """Sitemap entries from ``offset``: the catalogue, every workshop with a piece on sale,
    every piece on sale."""
    fixed = [(absolute(url_for("shop.catalogue")), None)]
    fixed += [(absolute(url_for("shop.artisan", artisan_id=artisan_id)), updated)
              for artisan_id, updated in _artisans()]
    head = fixed[offset:offset + limit]
    rest = limit - len(head)
    if rest > 0:
        rows = db.session.execute(_listed_products().offset(max(0, offset - len(fixed)))
                                  .limit(rest)).all()
        head += [(absolute(url_for("shop.product", product_id=product_id)), updated)
                 for product_id, updated in rows]
    return head, len(fixed)


def _total(fixed: int) -> int:
    return fixed + db.session.execute(
        select(func.count(Product.id)).where(Product.status == ProductStatus.ACTIVE)
    ).scalar_one()


@bp.get("/sitemap.xml")
def sitemap():
    """Every public page; an index of numbered sitemaps once there are more than 50,000."""
    entries, fixed = _entries(0, SITEMAP_URLS)
    total = _total(fixed)
    if total <= SITEMAP_URLS:
        return _urlset(entries)
    pages = -(-total // SITEMAP_URLS)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{SITEMAP_NS}">']
    lines += [f"<sitemap><loc>{escape(absolute(url_for('seo.sitemap_page', page=n)))}</loc>"
              "</sitemap>" for n in range(1, pages + 1)]
    lines.append("</sitemapindex>")
    return Response("\n".join(lines) + "\n", mimetype="application/xml")


@bp.get("/sitemap-<int:page>.xml")
def sitemap_page(page: int):
    """One numbered sitemap of the index."""
    entries, fixed = _entries((page - 1) * SITEMAP_URLS, SITEMAP_URLS) if page >= 1 else ([], 0)
    if not entries:
        raise NotFound("No such sitemap.", code=RequestError.NOT_FOUND)
    return _urlset(entries)


@bp.get("/robots.txt")
def robots():
    lines = ["User-agent: *", "Allow: /", *(f"Disallow: {path}" for path in PRIVATE_PATHS),
             f"Sitemap: {absolute(url_for('seo.sitemap'))}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain")


def draw_favicon(size: int) -> Image.Image:
    """The tumar (amulet triangle) of the brand, in the site's teal and gold."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 5, fill=(11, 93, 107))
    m = size / 32
    draw.polygon([(16 * m, 5 * m), (4 * m, 26 * m), (28 * m, 26 * m)], fill=(233, 196, 106))
    draw.polygon([(16 * m, 12 * m), (9.5 * m, 23 * m), (22.5 * m, 23 * m)], fill=(11, 93, 107))
    return image


@bp.get("/favicon.ico")
def favicon():
    data = current_app.extensions.get("sheber.favicon")
    if data is None:
        buffer = io.BytesIO()
        draw_favicon(64).save(buffer, "ICO", sizes=[(16, 16), (32, 32), (48, 48)])
        data = current_app.extensions["sheber.favicon"] = buffer.getvalue()
    response = Response(data, mimetype="image/vnd.microsoft.icon")
    response.cache_control.public = True
    response.cache_control.max_age = 7 * 24 * 3600
    return response
