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

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import aliased

from marketplace import hs
from marketplace.accounts.models import Role, User
from marketplace.catalog import search
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.images import image_out
from marketplace.catalog.models import (
    CRAFT_HS_CODES,
    VERIFIED_CONDITIONS,
    ArtisanProfile,
    Craft,
    Product,
    ProductImage,
    ProductStatus,
    ProductTag,
)
from marketplace.catalog.pages import page_statement
from marketplace.catalog.schemas import FALLBACK_ORDER, LANGUAGES
from marketplace.catalog.writes import missing_for_sale
from marketplace.errors import NotFound, RequestError, ValidationFailed
from marketplace.extensions import db, in_list, prepared
from marketplace.fx.service import BASE_CURRENCY, RateTable, cached_rates, format_rate
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
        .where(Product.artisan_id == user_id, Product.status == ProductStatus.ACTIVE,
               Product.reserved_for_id.is_(None))
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
    operator; a commission's one-off listing only for the buyer it is reserved for (and those
    two)."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    insider = viewer is not None and (viewer.id == product.artisan_id
                                      or viewer.role == Role.OPERATOR)
    if product.status != ProductStatus.ACTIVE and not insider:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    if product.reserved_for_id is not None and not insider and (
            viewer is None or viewer.id != product.reserved_for_id):
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    return product


# Built once: every list runs it (a statement built per request costs more than its query).
_IMAGES_OF = prepared(select(ProductImage)
                      .where(in_list(ProductImage.product_id))
                      .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id))
_WORKSHOPS_OF = (select(User.id, User.name, ArtisanProfile.workshop_name, ArtisanProfile.city)
                 .outerjoin(ArtisanProfile, ArtisanProfile.user_id == User.id)
                 .where(in_list(User.id)))


def _workshop(user_id: str, name: str, workshop_name: str | None, city: str | None) -> dict:
    return {"id": user_id, "workshop_name": workshop_name or name, "city": city or "Almaty"}


def workshops_of(artisan_ids: Collection[str]) -> dict[str, dict]:
    """``{artisan_id: workshop}``: each artisan's workshop as lists show it, in one query."""
    if not artisan_ids:
        return {}
    return {row[0]: _workshop(*row)
            for row in db.session.execute(_WORKSHOPS_OF, {"ids": list(artisan_ids)})}


def with_workshops(query):
    """``query``, a select of products, with each one's workshop as lists show it
    (``workshop_of`` reads it), so that a list reads it in the same statement as what the other
    domains know of its products (``marketplace.listings``)."""
    return (query.add_columns(Product.artisan_id.label("artisan_id"),
                              User.name.label("artisan_name"),
                              ArtisanProfile.workshop_name.label("workshop_name"),
                              ArtisanProfile.city.label("workshop_city"))
            .join(User, User.id == Product.artisan_id)
            .outerjoin(ArtisanProfile, ArtisanProfile.user_id == Product.artisan_id))


def workshop_of(row) -> dict:
    """The workshop of a row of ``with_workshops``."""
    return _workshop(row.artisan_id, row.artisan_name, row.workshop_name, row.workshop_city)


def present_products(products: list[Product], *, lang: str | None, currency: str,
                     provenance: Mapping[str, dict],
                     workshops: Mapping[str, dict],
                     rates: RateTable | None = None,
                     reviews: Mapping[str, dict] | None = None,
                     saved: Collection[str] | None = None) -> list[dict]:
    """Products as the API shows them, in ``lang`` and ``currency``, each with its provenance
    summary from ``provenance`` (by product id), its workshop from ``workshops`` (by artisan
    id: ``workshops_of`` or ``with_workshops``), and, when given, its review summary from
    ``reviews`` and whether the viewer saved it (``saved``: the ids they saved): one query per
    call (images) plus one for the rates unless given."""
    if not products:
        return []
    rates = rates or cached_rates()
    ids = [p.id for p in products]
    images: dict[str, list[dict]] = {pid: [] for pid in ids}
    for image in db.session.execute(_IMAGES_OF, {"ids": ids}).scalars():
        images[image.product_id].append(image_out(image))
    shown = [_product_out(p, lang, currency, rates, images[p.id], workshops[p.artisan_id],
                          provenance[p.id]) for p in products]
    for item in shown:
        if reviews is not None:
            item["reviews"] = reviews[item["id"]]
        if saved is not None:
            item["saved"] = item["id"] in saved
    return shown


def _product_out(product: Product, lang: str | None, currency: str, rates: RateTable,
                 images: list[dict], workshop: dict, provenance: dict) -> dict:
    title, used = resolve_text(product.title, lang)
    description, _ = resolve_text(product.description, used or lang)
    display, rate = rates.price(product.price, currency)
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
        "tariff_codes": dict(product.tariff_codes or {}),
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
    facets: dict | None = None


def _cursor_after(sort: str, cursor: str | None):
    """The keyset a cursor continues after: (created_at, id), (price_base, id) or, for
    relevance, (tier, created_at, id)."""
    if cursor is None:
        return None
    values = decode_cursor(cursor)
    bad = ValidationFailed("The cursor does not belong to this listing.",
                           errors={"cursor": ["invalid for this sort"]},
                           code=RequestError.INVALID_CURSOR)
    if len(values) != 3 or values[0] != sort or not isinstance(values[2], str):
        raise bad
    value = values[1]

    def moment(raw):
        try:
            return datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            raise bad from None

    if sort == "newest":
        return moment(value), values[2]
    if sort in ("price_asc", "price_desc"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value, values[2]
    if (not isinstance(value, list) or len(value) != 2 or value[0] not in search.TIERS
            or isinstance(value[0], bool)):
        raise bad
    return value[0], moment(value[1]), values[2]


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


def _missing(product: Product, images: list[dict]) -> list[str]:
    if product.status != ProductStatus.DRAFT:
        return []
    return missing_for_sale(product, sum(1 for image in images if image["state"] == "ready"))


def _filtered(query, *, craft, material, technique, artisan, verified, floor, ceiling,
              ships_nowhere, statuses=(ProductStatus.ACTIVE,), price_walked=False):
    statuses = [str(status) for status in statuses]
    query = query.where(Product.status == statuses[0] if len(statuses) == 1
                        else Product.status.in_(statuses),
                        Product.reserved_for_id.is_(None))  # a commission's listing is private
    # each value may be a bound parameter (``_browse_page``): asked "is it given?", not "is it
    # true?" (``list_products`` gives None for an empty one)
    if craft is not None:
        query = query.where(Product.craft == craft)
    for tag, value in ((MATERIAL_TAG, material), (TECHNIQUE_TAG, technique)):
        if value is not None:  # the tag's copy of status and privacy: its index serves the page
            query = query.join(tag, and_(
                tag.product_id == Product.id, tag.kind == TAG_KINDS[tag], tag.value == value,
                tag.status == statuses[0] if len(statuses) == 1 else tag.status.in_(statuses),
                tag.private.is_(False)))
    if artisan is not None:
        query = query.where(Product.artisan_id == artisan)
    # the partial indexes' own predicates, so that PostgreSQL proves it may use them
    if verified is True:
        query = query.where(text(VERIFIED_CONDITIONS["verified"]))
    elif verified is False:
        query = query.where(text(VERIFIED_CONDITIONS["unverified"]))
    # a dense price range on SQLite: compared as an expression, which no index serves, so that
    # the planner walks the page's own order instead (``_dense_range``)
    price = Product.price_base + 0 if price_walked else Product.price_base
    if floor is not None:
        query = query.where(price >= floor)
    if ceiling is not None:
        query = query.where(price <= ceiling)
    if ships_nowhere:  # the destination asked for is one shipping does not serve
        query = query.where(false())
    return query


MATERIAL_TAG = aliased(ProductTag, name="material_tag")
TECHNIQUE_TAG = aliased(ProductTag, name="technique_tag")
TAG_KINDS = {MATERIAL_TAG: "material", TECHNIQUE_TAG: "technique"}


def _sort_keys(material: str | None, technique: str | None):
    """(created_at, price_base, id) to order a page by: a material or technique filter's tag
    row carries copies of them, and ordering by those walks its index in the page's order."""
    tag = MATERIAL_TAG if material else TECHNIQUE_TAG if technique else None
    if tag is None:
        return Product.created_at, Product.price_base, Product.id
    return tag.created_at, tag.price_base, tag.product_id


# a page statement built once per shape takes its cursor and size as these parameters
_AFTER = (bindparam("after_created_at", type_=DateTime()), bindparam("after_id", type_=String()))
_PAGE_ROWS = bindparam("page_rows", type_=Integer())


def _newest(query, after, keys=None):
    created_at, _price, id_ = keys or _sort_keys(None, None)
    query = query.order_by(created_at.desc(), id_.desc())
    if after:
        query = query.where(tuple_(created_at, id_) < tuple_(*after))
    return query


def _sorted(query, sort: str, after, keys):
    """``query`` in the order of ``sort`` (newest, price_asc, price_desc) by ``keys``
    (``_sort_keys``), continued after the keyset ``after`` when given."""
    _created, price_base, id_ = keys
    if sort == "newest":
        return _newest(query, after, keys)
    if sort == "price_asc":
        query = query.order_by(price_base.asc(), id_.asc())
        return query.where(tuple_(price_base, id_) > tuple_(*after)) if after else query
    query = query.order_by(price_base.desc(), id_.desc())
    return query.where(tuple_(price_base, id_) < tuple_(*after)) if after else query


# the filters a browse page takes as parameters, with the types of the columns they meet
_FILTER_PARAMETERS = {"craft": Product.craft.type, "material": ProductTag.value.type,
                      "technique": ProductTag.value.type, "artisan": Product.artisan_id.type,
                      "floor": Product.price_base.type, "ceiling": Product.price_base.type}
_AFTER_PRICE = (bindparam("after_price", type_=Product.price_base.type), _AFTER[1])


# SQLite plans a price range by the price index under any sort, then sorts every product in the
# range: at 100k products a range of a tenth of them cost 0.1x /healthz newest first. Walking the
# newest-first index and checking each price from it reads about a page / (the range's share)
# rows, which is far less when the range is dense and everything when it is empty. The probe
# counts, from the price index alone, up to DENSE_RANGE products in the range: that many, and
# the page walks (it then reads at most page x products / DENSE_RANGE index entries); fewer,
# and sorting them is cheap. PostgreSQL's planner weighs the two from its statistics itself.
DENSE_RANGE = 1_000
_RANGE_PROBE = text(
    "SELECT count(*) FROM (SELECT 1 FROM product INDEXED BY ix_product_status_price_base "
    "WHERE status = :status AND price_base BETWEEN :floor AND :ceiling LIMIT :dense)")
_PRICE_MAX = 2**63 - 1


def _dense_range(filters: dict) -> bool:
    """Whether a browse page's price range holds DENSE_RANGE products or more, on SQLite (one
    status asked, a bound given); False elsewhere."""
    if (filters["floor"] is None and filters["ceiling"] is None
            or len(filters["statuses"]) != 1 or filters["ships_nowhere"]
            or db.session.get_bind().dialect.name != "sqlite"):
        return False
    return db.session.execute(_RANGE_PROBE, {
        "status": str(filters["statuses"][0]),
        "floor": 0 if filters["floor"] is None else filters["floor"],
        "ceiling": _PRICE_MAX if filters["ceiling"] is None else filters["ceiling"],
        "dense": DENSE_RANGE}).scalar_one() >= DENSE_RANGE


def _browse_page(filters: dict, sort: str, after, rows: int):
    """(statement, parameters) of a browse page (no query words): ``rows`` products under
    ``filters`` in the order of ``sort`` after the keyset ``after``. The statement is built once
    per shape (which filters are given, the verified choice, the statuses, the sort, whether a
    cursor is) and run with the filters' values, the cursor and the page size as parameters:
    building it cost more Python than its run."""
    given = {name: value for name, value in filters.items()
             if name in _FILTER_PARAMETERS and value is not None}
    walked = sort == "newest" and _dense_range(filters)
    shape = ("browse", frozenset(given), filters["verified"], filters["statuses"],
             filters["ships_nowhere"], sort, after is not None, walked)

    def build():
        bound = {name: bindparam(name, type_=_FILTER_PARAMETERS[name]) for name in given}
        query = _filtered(select(Product), **{
            **filters, **dict.fromkeys(_FILTER_PARAMETERS), **bound}, price_walked=walked)
        keyset = None if after is None else _AFTER if sort == "newest" else _AFTER_PRICE
        return _sorted(query, sort, keyset,
                       _sort_keys(filters["material"], filters["technique"])).limit(_PAGE_ROWS)

    parameters = {**given, "page_rows": rows}
    if after is not None:
        parameters |= {"after_created_at" if sort == "newest" else "after_price": after[0],
                       "after_id": after[1]}
    return page_statement(shape, build), parameters


def _tier_page(matched: search.Match, filters: dict, shape: tuple,
               cursor: tuple[datetime, str] | None, rows: int):
    """(statement, parameters) of a relevance tier's page: ``rows`` products of ``matched``
    under ``filters`` (named by ``shape``), newest first after ``cursor``. On PostgreSQL the
    statement is built once per shape and run with the tier's tsqueries, the cursor and the
    page size as parameters; elsewhere it is built for the request."""
    def keys():
        return _filtered(select(Product.id, Product.created_at), **filters)

    if matched.rum is not None:  # the RUM index gives the page in order
        return matched.ranked_page(shape, keys, cursor, rows)
    if matched.shape is None:
        return matched.products(_newest(matched.apply(keys()), cursor).limit(rows)), None
    page = page_statement(
        ("tier", shape, matched.shape, cursor is not None),
        lambda: matched.products(_newest(matched.apply(keys()), cursor and _AFTER)
                                 .limit(_PAGE_ROWS)))
    parameters = {**matched.parameters, "page_rows": rows}
    if cursor:
        parameters |= {"after_created_at": cursor[0], "after_id": cursor[1]}
    return page, parameters


def list_products(*, q: str | None = None, craft: str | None = None,
                  material: str | None = None, technique: str | None = None,
                  artisan: str | None = None, verified: bool | None = None,
                  min_price: int | None = None, max_price: int | None = None,
                  currency: str | None = None, ships_to: str | None = None,
                  served_countries: Collection[str] | None = None,
                  sort: str | None = None, limit: int = 24,
                  cursor: str | None = None, facets: Collection[str] = (),
                  statuses: Collection[str] = (ProductStatus.ACTIVE,)) -> ProductPage:
    """Active products matching every filter, one keyset page of them. Buyers see only active
    ones; an artisan's own pages pass ``statuses`` to see their drafts too.

    ``min_price``/``max_price`` are minor units of ``currency`` (default KZT), compared through
    each product's KZT ``price_base`` so that price filters and sorts work in any currency.
    ``ships_to`` keeps every product when the destination is among ``served_countries`` (the
    countries shipping delivers to, which the caller must give with it) and none otherwise.
    Relevance (the default with ``q``) reads the search tiers in turn (``catalog/search.py``).
    ``facets`` (craft, material, technique, price) adds counts under the same filters, in one
    more query.
    """
    if ships_to and served_countries is None:
        raise ValueError("ships_to needs the served_countries to compare it with")
    rates = cached_rates()
    words = search.parse(q) if q else []
    sort = sort or ("relevance" if words else "newest")
    if sort == "relevance" and not words:
        sort = "newest"  # nothing to rank by
    after = _cursor_after(sort, cursor)
    dialect = db.session.get_bind().dialect.name
    floor, ceiling = _base_bounds(min_price, max_price, currency or BASE_CURRENCY, rates)
    filters = {"craft": str(craft) if craft else None, "material": material or None,
               "technique": technique or None, "artisan": artisan or None,
               "verified": verified, "floor": floor, "ceiling": ceiling,
               "ships_nowhere": bool(ships_to) and ships_to.upper() not in {
                   country.upper() for country in served_countries},
               "statuses": tuple(statuses)}

    if sort == "relevance":
        rows: list[tuple[int, Product]] = []
        first_tier = after[0] if after else 0
        shape = tuple(filters.items())  # the tier pages' (their statements hold the values)
        for tier in search.TIERS[first_tier:]:
            # the vocabulary, read for tier 2's fuzzy terms, tells whether a word is unknown
            # (a typo's): read it before the exact tiers for a word that may be one
            if tier == 2 or search.may_be_unknown(words):
                search.resolve_fuzzy(words, db.session)
            if search.holds_nothing(words, tier):
                continue
            wanted = limit + 1 - len(rows)
            matched = search.match(words, tier, dialect, page_rows=wanted)
            cursor = after[1:] if after and tier == first_tier else None
            page, parameters = _tier_page(matched, filters, shape, cursor, wanted)
            found = db.session.execute(page, parameters).scalars().all()
            rows += [(tier, product) for product in found]
            if len(rows) > limit:
                break
        more = len(rows) > limit
        rows = rows[:limit]
        products = [product for _tier, product in rows]
        next_cursor = None
        if more and rows:
            tier, product = rows[-1]
            next_cursor = encode_cursor([sort, [tier, product.created_at.isoformat()],
                                         product.id])
    else:
        if words:
            search.resolve_fuzzy(words, db.session)
            matched = search.match(words, None, dialect, page_rows=limit + 1)
            page = _sorted(matched.apply(_filtered(select(Product), **filters)), sort, after,
                           _sort_keys(material, technique)).limit(limit + 1)
            parameters = None
        else:
            page, parameters = _browse_page(filters, sort, after, limit + 1)
        products = db.session.execute(page, parameters).scalars().all()
        more = len(products) > limit
        products = products[:limit]
        next_cursor = None
        if more and products:
            product = products[-1]
            value = (product.created_at.isoformat() if sort == "newest"
                     else product.price_base)
            next_cursor = encode_cursor([sort, value, product.id])
    counts = None
    if facets:
        if words and sort == "relevance":
            search.resolve_fuzzy(words, db.session)
        counts = facet_counts(words, filters, facets, dialect, currency or BASE_CURRENCY, rates)
    return ProductPage(products=list(products), next_cursor=next_cursor, rates=rates,
                       facets=counts)


FACETS = ("craft", "material", "technique", "price")
FACET_VALUES = 20  # materials and techniques shown per facet, most frequent first
# Price bands, in US dollars, shown in the page's currency rounded to two significant digits.
PRICE_BANDS_USD = (25, 50, 100, 250, 500, 1000)


def _two_digits(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(0)
    step = Decimal(10) ** (value.adjusted() - 1)
    return (value / step).to_integral_value() * step


def price_bands(currency: str, rates: RateTable) -> list[tuple[int, int | None]]:
    """[(min, max)] in minor units of ``currency``: the bands the price facet counts; each is
    exactly what ``min_price``/``max_price`` with those values selects."""
    per_usd = rates.rate("USD", currency)
    scale = Decimal(10) ** exponent(currency)
    edges = sorted({int(_two_digits(usd * per_usd) * scale) for usd in PRICE_BANDS_USD} - {0})
    lows = [0, *edges]
    return [(low, high - 1 if high is not None else None)
            for low, high in zip(lows, [*edges, None], strict=True)]


def facet_counts(words, filters: dict, wanted: Collection[str], dialect: str, currency: str,
                 rates: RateTable) -> dict:
    """Counts per craft, material, technique and price band of the products that the filters
    (and query words) select, in one query grouped by (craft, tags, band)."""
    bands = price_bands(currency, rates)
    ceilings = [_base_bounds(None, high, currency, rates)[1] for _low, high in bands[:-1]]
    band = case(*[(Product.price_base <= ceiling, index)
                  for index, ceiling in enumerate(ceilings)], else_=len(bands) - 1)
    query = _filtered(select(Product.craft, Product.materials_key, Product.techniques_key,
                             band.label("band"), func.count().label("n")), **filters)
    if words:
        query = search.match(words, None, dialect, page_rows=None).apply(query)
    query = query.group_by(Product.craft, Product.materials_key, Product.techniques_key, band)
    crafts_: dict[str, int] = {}
    materials: dict[str, int] = {}
    techniques: dict[str, int] = {}
    per_band = [0] * len(bands)
    for craft, materials_key, techniques_key, index, n in db.session.execute(query):
        crafts_[craft] = crafts_.get(craft, 0) + n
        for value in filter(None, (materials_key or "").split("|")):
            materials[value] = materials.get(value, 0) + n
        for value in filter(None, (techniques_key or "").split("|")):
            techniques[value] = techniques.get(value, 0) + n
        per_band[index] += n

    def ranked(counts: dict[str, int], top: int | None = None) -> list[dict]:
        items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [{"value": value, "count": n} for value, n in items[:top]]

    out: dict = {}
    if "craft" in wanted:
        out["craft"] = ranked(crafts_)
    if "material" in wanted:
        out["material"] = ranked(materials, FACET_VALUES)
    if "technique" in wanted:
        out["technique"] = ranked(techniques, FACET_VALUES)
    if "price" in wanted:
        out["price"] = [{"min": low, "max": high, "count": per_band[i]}
                        for i, (low, high) in enumerate(bands) if per_band[i]]
        out["currency"] = currency
    return out


def tariffs() -> list[dict]:
    """The national tariffs a product may carry codes of (data/tax/tariffs.json)."""
    return [{"id": tariff_id, "name": entry["name"], "lengths": list(entry["lengths"]),
             "countries": list(entry["countries"]), "source": entry["source"],
             "legal_reference": entry["legal_reference"], "confirmed": entry["confirmed"],
             "note": entry.get("note")}
            for tariff_id, entry in sorted(hs.tariffs().items())]


def crafts(lang: str | None = None) -> list[dict]:
    return [
        {"code": str(craft), "hs_code": CRAFT_HS_CODES[craft],
         "name": resolve_text(CRAFT_NAMES[craft], lang)[0], "names": dict(CRAFT_NAMES[craft])}
        for craft in Craft
    ]
