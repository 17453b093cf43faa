"""Browsing the catalogue: products as the API shows them, filtered, searched and paged, and
workshops as anyone may see them.

Reads for lists use a constant number of queries whatever the page size. What other domains
know of a product (its provenance summary, where shipping delivers) is handed in by the caller.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import and_, case, false, func, or_, select, tuple_

from marketplace.accounts.models import Role, User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.images import image_out
from marketplace.catalog.models import (
    CRAFT_HS_CODES,
    ArtisanProfile,
    Craft,
    Product,
    ProductImage,
    ProductStatus,
)
from marketplace.catalog.schemas import FALLBACK_ORDER, LANGUAGES
from marketplace.catalog.search import text_match
from marketplace.catalog.writes import missing_for_sale
from marketplace.errors import NotFound, RequestError, ValidationFailed
from marketplace.extensions import db
from marketplace.fx.service import BASE_CURRENCY, RateTable, current_rates, format_rate
from marketplace.http import decode_cursor, encode_cursor
from marketplace.ids import isoformat
from marketplace.money import exponent

VERIFIED_LEVELS = ("L1", "L2")
DEFAULT_PRESENTMENT = "USD"

CRAFT_NAMES: dict[str, dict[str, str]] = {
    Craft.JEWELLERY: {"en": "Jewellery", "ru": "Ювелирные украшения", "kk": "Зергерлік бұйымдар"},
    Craft.CERAMICS: {"en": "Ceramics", "ru": "Керамика", "kk": "Керамика"},
    Craft.FELT: {"en": "Felt", "ru": "Войлок", "kk": "Киіз"},
    Craft.TEXTILES: {"en": "Textiles and embroidery", "ru": "Текстиль и вышивка",
                     "kk": "Тоқыма және кесте"},
    Craft.LEATHER: {"en": "Leather", "ru": "Кожа", "kk": "Былғары"},
    Craft.WOOD: {"en": "Wood", "ru": "Дерево", "kk": "Ағаш"},
    Craft.METAL: {"en": "Metalwork", "ru": "Художественный металл", "kk": "Металл өңдеу"},
    Craft.INSTRUMENTS: {"en": "Musical instruments", "ru": "Музыкальные инструменты",
                        "kk": "Музыкалық аспаптар"},
    Craft.OTHER: {"en": "Other crafts", "ru": "Другие ремёсла", "kk": "Басқа қолөнер"},
}


# --- language ---

def resolve_text(translations: dict | None, lang: str | None) -> tuple[str, str | None]:
    """The text in ``lang``, else en, ru, kk (the first present); with the language used."""
    translations = translations or {}
    for candidate in dict.fromkeys([lang, *FALLBACK_ORDER]):
        if candidate and translations.get(candidate):
            return translations[candidate], candidate
    return "", None


def supported_language(lang: str | None) -> str | None:
    if not lang:
        return None
    primary = lang.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


# --- workshops ---

def _artisan(user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role != Role.ARTISAN:
        raise NotFound("No such artisan.", code=CatalogError.ARTISAN_NOT_FOUND)
    return user


def profile_counts(user_id: str) -> dict[str, int]:
    active, verified = db.session.execute(
        select(func.count(Product.id),
               func.coalesce(func.sum(case(
                   (Product.provenance_level.in_(VERIFIED_LEVELS), 1), else_=0)), 0))
        .where(Product.artisan_id == user_id, Product.status == ProductStatus.ACTIVE)
    ).one()
    return {"active_products": int(active), "verified_products": int(verified)}


def profile_view(user_id: str, lang: str | None = None) -> dict:
    """A workshop as anyone may see it (404 unless the id is an artisan's)."""
    user = _artisan(user_id)
    profile = db.session.get(ArtisanProfile, user_id)
    bio = profile.bio if profile else {}
    text, used = resolve_text(bio, lang)
    return {
        "id": user.id,
        "workshop_name": profile.workshop_name if profile else user.name,
        "bio": text, "lang": used, "translations": {"bio": dict(bio)},
        "city": profile.city if profile else "Almaty",
        "country": profile.country if profile else user.country,
        "crafts": list(profile.crafts) if profile else [],
        "since_year": profile.since_year if profile else None,
        "lineage": profile.lineage if profile else None,
        "processing_days": profile.processing_days if profile else 5,
        "counts": profile_counts(user_id),
        "member_since": isoformat(user.created_at),
    }


# --- products: reads ---

def get_product(product_id: str, viewer: User | None = None) -> Product:
    """An active product for anyone; a draft or an archived one only for its artisan or an
    operator."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    if product.status != ProductStatus.ACTIVE and not (
        viewer is not None and (viewer.id == product.artisan_id or viewer.role == Role.OPERATOR)
    ):
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    return product


def present_products(products: list[Product], *, lang: str | None, currency: str,
                     provenance: Mapping[str, dict],
                     rates: RateTable | None = None) -> list[dict]:
    """Products as the API shows them, in ``lang`` and ``currency``, each with its provenance
    summary from ``provenance`` (by product id): two queries per call (images, workshops) plus
    one for the rates unless given."""
    if not products:
        return []
    rates = rates or current_rates()
    ids = [p.id for p in products]
    images: dict[str, list[dict]] = {pid: [] for pid in ids}
    for image in db.session.execute(
        select(ProductImage).where(ProductImage.product_id.in_(ids))
        .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id)
    ).scalars():
        images[image.product_id].append(image_out(image))
    artisan_ids = list({p.artisan_id for p in products})
    workshops = {
        user_id: {"id": user_id, "workshop_name": workshop or name, "city": city or "Almaty"}
        for user_id, name, workshop, city in db.session.execute(
            select(User.id, User.name, ArtisanProfile.workshop_name, ArtisanProfile.city)
            .outerjoin(ArtisanProfile, ArtisanProfile.user_id == User.id)
            .where(User.id.in_(artisan_ids))
        )
    }
    return [_product_out(p, lang, currency, rates, images[p.id], workshops[p.artisan_id],
                         provenance[p.id]) for p in products]


def _missing(product: Product, images: list[dict]) -> list[str]:
    if product.status != ProductStatus.DRAFT:
        return []
    return missing_for_sale(product, sum(1 for image in images if image["state"] == "ready"))


def _product_out(product: Product, lang: str | None, currency: str, rates: RateTable,
                 images: list[dict], workshop: dict, provenance: dict) -> dict:
    title, used = resolve_text(product.title, lang)
    description, _ = resolve_text(product.description, used or lang)
    display, rate = rates.convert(product.price, currency)
    return {
        "id": product.id,
        "artisan_id": product.artisan_id,
        "artisan": workshop,
        "title": title,
        "description": description,
        "lang": used,
        "translations": {"title": dict(product.title or {}),
                         "description": dict(product.description or {})},
        "craft": product.craft,
        "materials": list(product.materials or []),
        "techniques": list(product.techniques or []),
        "price": product.price.to_dict(),
        "display_price": display.to_dict(),
        "fx_rate": format_rate(rate),
        "stock": product.stock,
        "available": max(product.available, 0),
        "weight_g": product.weight_g,
        "dimensions_mm": {"l": product.length_mm, "w": product.width_mm, "h": product.height_mm},
        "hs_code": product.effective_hs_code,
        "hs_code_override": product.hs_code,
        "status": product.status,
        "missing": _missing(product, images),
        "images": images,
        "provenance": provenance,
        "created_at": isoformat(product.created_at),
        "updated_at": isoformat(product.updated_at),
    }


@dataclass(frozen=True)
class ProductPage:
    products: list[Product]
    next_cursor: str | None
    rates: RateTable


def _cursor_after(sort: str, cursor: str | None):
    if cursor is None:
        return None
    values = decode_cursor(cursor)
    bad = ValidationFailed("The cursor does not belong to this listing.",
                           errors={"cursor": ["invalid for this sort"]},
                           code=RequestError.INVALID_CURSOR)
    if len(values) != 3 or values[0] != sort or not isinstance(values[2], str):
        raise bad
    value = values[1]
    if sort == "newest":
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise bad from None
    elif sort in ("price_asc", "price_desc"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    return value, values[2]


def _base_bounds(min_price: int | None, max_price: int | None, currency: str,
                 rates: RateTable) -> tuple[int | None, int | None]:
    """KZT price_base bounds that keep exactly the products whose price, shown in ``currency``
    (rounded half-up), lies within [min_price, max_price]."""
    per_base = rates.rate(BASE_CURRENCY, currency) * Decimal(10) ** (
        exponent(currency) - exponent(BASE_CURRENCY))
    half = Decimal("0.5")
    floor = ceiling = None
    if min_price is not None:
        floor = int(((min_price - half) / per_base).to_integral_value(rounding=ROUND_CEILING))
    if max_price is not None:
        ceiling = int(((max_price + half) / per_base).to_integral_value(
            rounding=ROUND_CEILING)) - 1
    return floor, ceiling


def list_products(*, q: str | None = None, craft: str | None = None,
                  material: str | None = None, technique: str | None = None,
                  artisan: str | None = None, verified: bool | None = None,
                  min_price: int | None = None, max_price: int | None = None,
                  currency: str | None = None, ships_to: str | None = None,
                  served_countries: Collection[str] | None = None,
                  sort: str | None = None, limit: int = 24,
                  cursor: str | None = None,
                  statuses: Collection[str] = (ProductStatus.ACTIVE,)) -> ProductPage:
    """Active products matching every filter, one keyset page of them. Buyers see only active
    ones; an artisan's own pages pass ``statuses`` to see their drafts too.

    ``min_price``/``max_price`` are minor units of ``currency`` (default KZT), compared through
    each product's KZT ``price_base`` so that price filters and sorts work in any currency.
    ``ships_to`` keeps every product when the destination is among ``served_countries`` (the
    countries shipping delivers to, which the caller must give with it) and none otherwise.
    """
    if ships_to and served_countries is None:
        raise ValueError("ships_to needs the served_countries to compare it with")
    rates = current_rates()
    match = text_match(q, db.session.get_bind().dialect.name) if q else None
    sort = sort or ("relevance" if match else "newest")
    if sort == "relevance" and match is None:
        sort = "newest"  # nothing to rank by
    after = _cursor_after(sort, cursor)

    score = match.score if match else None
    query = select(Product, score.label("score")) if score is not None else select(Product)
    statuses = [str(status) for status in statuses]
    query = query.where(Product.status == statuses[0] if len(statuses) == 1
                        else Product.status.in_(statuses))
    if match is not None:
        if match.join is not None:
            query = query.join(match.join, match.join_on)
        if match.condition is not None:
            query = query.where(match.condition)
    if craft:
        query = query.where(Product.craft == str(craft))
    if material:
        query = query.where(Product.materials_key.contains(f"|{material}|", autoescape=True))
    if technique:
        query = query.where(Product.techniques_key.contains(f"|{technique}|", autoescape=True))
    if artisan:
        query = query.where(Product.artisan_id == artisan)
    if verified is True:
        query = query.where(Product.provenance_level.in_(VERIFIED_LEVELS))
    elif verified is False:
        query = query.where(Product.provenance_level.not_in(VERIFIED_LEVELS))
    floor, ceiling = _base_bounds(min_price, max_price, currency or BASE_CURRENCY, rates)
    if floor is not None:
        query = query.where(Product.price_base >= floor)
    if ceiling is not None:
        query = query.where(Product.price_base <= ceiling)
    if ships_to and ships_to.upper() not in {country.upper() for country in served_countries}:
        query = query.where(false())

    if sort == "newest":
        keys = (Product.created_at, Product.id)
        query = query.order_by(Product.created_at.desc(), Product.id.desc())
        if after:
            query = query.where(tuple_(*keys) < tuple_(*after))
    elif sort == "price_asc":
        query = query.order_by(Product.price_base.asc(), Product.id.asc())
        if after:
            query = query.where(tuple_(Product.price_base, Product.id) > tuple_(*after))
    elif sort == "price_desc":
        query = query.order_by(Product.price_base.desc(), Product.id.desc())
        if after:
            query = query.where(tuple_(Product.price_base, Product.id) < tuple_(*after))
    else:
        query = query.order_by(score.asc(), Product.id.asc())
        if after:
            query = query.where(or_(score > after[0],
                                    and_(score == after[0], Product.id > after[1])))

    rows = db.session.execute(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    products = [row[0] for row in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        product = last[0]
        if sort == "newest":
            value = product.created_at.isoformat()
        elif sort in ("price_asc", "price_desc"):
            value = product.price_base
        else:
            value = float(last[1])
        next_cursor = encode_cursor([sort, value, product.id])
    return ProductPage(products=products, next_cursor=next_cursor, rates=rates)


def crafts(lang: str | None = None) -> list[dict]:
    return [
        {"code": str(craft), "hs_code": CRAFT_HS_CODES[craft],
         "name": resolve_text(CRAFT_NAMES[craft], lang)[0], "names": dict(CRAFT_NAMES[craft])}
        for craft in Craft
    ]
