"""Catalogue rules: workshop profiles, products, images, browsing.

Writes validate through the schemas (so the API, the seed and any other caller obey the same
limits), keep the derived columns (materials_key, techniques_key, price_base) in step, and commit
once. Reads for lists use a constant number of queries whatever the page size.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from PIL import Image, UnidentifiedImageError
from sqlalchemy import and_, case, false, func, or_, select, tuple_, update

from marketplace.accounts.models import Role, User
from marketplace.catalog.models import (
    CRAFT_HS_CODES,
    ArtisanProfile,
    Craft,
    Product,
    ProductImage,
    ProductStatus,
)
from marketplace.catalog.schemas import (
    FALLBACK_ORDER,
    LANGUAGES,
    ProductIn,
    ProductPatch,
    ProfileIn,
)
from marketplace.catalog.search import text_match
from marketplace.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.fx.service import BASE_CURRENCY, RateTable, current_rates, format_rate
from marketplace.http import decode_cursor, encode_cursor, parse_model
from marketplace.ids import isoformat
from marketplace.money import Money, exponent
from marketplace.storage import get_storage

VERIFIED_LEVELS = ("L1", "L2")
# Product fields whose change makes a provenance label untrue (the provenance service may name
# more in its PROVENANCE_FIELDS).
PROVENANCE_RELEVANT = frozenset({"craft", "materials", "techniques"})
IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
                 "WEBP": ("image/webp", "webp")}
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGES_PER_PRODUCT = 12
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


class PayloadTooLarge(DomainError):
    status = 413
    type = "payload-too-large"
    title = "Payload too large"


# --- cross-domain hooks (the other package may land before or after this one) ---

def _optional_service(module_name: str, function: str):
    if importlib.util.find_spec(module_name.rsplit(".", 1)[0]) is None:
        return None
    if importlib.util.find_spec(module_name) is None:
        return None
    return getattr(importlib.import_module(module_name), function, None)


def _call(fn, *args, **kwargs):
    """Call ``fn`` with only the keyword arguments it accepts."""
    accepted = inspect.signature(fn).parameters
    return fn(*args, **{k: v for k, v in kwargs.items() if k in accepted})


def provenance_summaries(products: list[Product]) -> dict[str, dict]:
    summaries = _optional_service("marketplace.provenance.service", "summaries_for_products")
    found = summaries([p.id for p in products]) if summaries and products else {}
    return {
        p.id: found.get(p.id) or {"level": p.provenance_level, "label_code": None,
                                  "status": "none", "url": None}
        for p in products
    }


def served_countries() -> set[str] | None:
    """Countries the shipping tables serve, or None when shipping is not set up (no filter)."""
    served = _optional_service("marketplace.shipping.service", "served_countries")
    return None if served is None else {c.upper() for c in served()}


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


# --- workshop profiles ---

def _artisan(user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role != Role.ARTISAN:
        raise NotFound("No such artisan.")
    return user


def get_profile(user_id: str) -> ArtisanProfile:
    profile = db.session.get(ArtisanProfile, user_id)
    if profile is None:
        raise NotFound("No workshop profile yet: PUT /api/v1/artisans/me to create it.")
    return profile


def save_profile(user: User, data: ProfileIn | dict) -> ArtisanProfile:
    """Create or replace the artisan's workshop profile."""
    if user.role != Role.ARTISAN:
        raise Forbidden("Only artisans have a workshop profile.")
    fields = parse_model(ProfileIn, data) if isinstance(data, dict) else data
    profile = db.session.get(ArtisanProfile, user.id)
    if profile is None:
        profile = ArtisanProfile(user_id=user.id)
        db.session.add(profile)
    profile.workshop_name = fields.workshop_name
    profile.bio = fields.bio.as_dict()
    profile.city = fields.city
    profile.country = fields.country
    profile.crafts = [str(craft) for craft in fields.crafts]
    profile.since_year = fields.since_year
    profile.lineage = fields.lineage or None
    profile.processing_days = fields.processing_days
    db.session.commit()
    return profile


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


# --- products: writes ---

def _tags_key(values: list[str]) -> str:
    return "|" + "".join(f"{value}|" for value in values)


def _price_base(price: Money, rates: RateTable) -> int:
    return rates.convert(price, BASE_CURRENCY)[0].amount


def _owned(artisan_id: str, product_id: str, *, lock: bool = False) -> Product:
    query = select(Product).where(Product.id == product_id)
    if lock:
        query = query.with_for_update()
    product = db.session.execute(query).scalar_one_or_none()
    # Another artisan's product is "not found", not "forbidden": its existence is not theirs.
    if product is None or product.artisan_id != artisan_id:
        raise NotFound("No such product.")
    return product


def _require_artisan(user: User) -> None:
    if user.role != Role.ARTISAN:
        raise Forbidden("Only artisans list products.")


def create_product(artisan: User, data: ProductIn | dict) -> Product:
    _require_artisan(artisan)
    fields = parse_model(ProductIn, data) if isinstance(data, dict) else data
    price = Money(fields.price.amount, fields.price.currency)
    product = Product(
        artisan_id=artisan.id,
        title=fields.title.as_dict(),
        description=fields.description.as_dict() if fields.description else {},
        craft=str(fields.craft),
        materials=fields.materials, materials_key=_tags_key(fields.materials),
        techniques=fields.techniques, techniques_key=_tags_key(fields.techniques),
        price_amount=price.amount, price_currency=price.currency,
        price_base=_price_base(price, current_rates()),
        stock=fields.stock, reserved=0, weight_g=fields.weight_g,
        length_mm=fields.dimensions_mm.l, width_mm=fields.dimensions_mm.w,
        height_mm=fields.dimensions_mm.h, hs_code=fields.hs_code,
        status=ProductStatus.ACTIVE,
    )
    db.session.add(product)
    db.session.flush()
    if fields.provenance is not None:
        _declare_provenance(product, artisan.id, fields.provenance)
    db.session.commit()
    return product


def _declare_provenance(product: Product, artisan_id: str, record: dict) -> None:
    put_record = _optional_service("marketplace.provenance.service", "put_record")
    if put_record is None:
        db.session.rollback()
        raise ValidationFailed("Provenance records are not available yet.",
                               errors={"provenance": ["not supported"]})
    try:
        _call(put_record, product.id, record, artisan_id=artisan_id, commit=False)
    except ValidationFailed as exc:
        db.session.rollback()
        errors = {f"provenance.{field}": messages
                  for field, messages in (exc.errors or {}).items()}
        raise ValidationFailed(exc.detail, errors=errors or {"provenance": [exc.detail]}) from None


def _changes_from_patch(product: Product, patch: ProductPatch, rates: RateTable) -> set[str]:
    """Apply ``patch`` to ``product``; the names of the fields whose value really changed."""
    given = patch.model_fields_set
    changed: set[str] = set()

    def assign(field: str, **columns) -> None:
        if any(getattr(product, column) != value for column, value in columns.items()):
            changed.add(field)
            for column, value in columns.items():
                setattr(product, column, value)

    if "title" in given:
        assign("title", title=patch.title.as_dict())
    if "description" in given:
        assign("description", description=patch.description.as_dict() if patch.description else {})
    if "craft" in given:
        assign("craft", craft=str(patch.craft))
    if "materials" in given:
        assign("materials", materials=patch.materials, materials_key=_tags_key(patch.materials))
    if "techniques" in given:
        assign("techniques", techniques=patch.techniques,
               techniques_key=_tags_key(patch.techniques))
    if "price" in given:
        price = Money(patch.price.amount, patch.price.currency)
        assign("price", price_amount=price.amount, price_currency=price.currency,
               price_base=_price_base(price, rates))
    if "stock" in given:
        if patch.stock < product.reserved:
            raise Conflict(f"{product.reserved} pieces are held by checkouts in progress; "
                           "stock cannot go below that.", errors={"stock": ["below reserved"]})
        assign("stock", stock=patch.stock)
    if "weight_g" in given:
        assign("weight_g", weight_g=patch.weight_g)
    if "dimensions_mm" in given:
        dims = patch.dimensions_mm
        assign("dimensions_mm", length_mm=dims.l, width_mm=dims.w, height_mm=dims.h)
    if "hs_code" in given:
        assign("hs_code", hs_code=patch.hs_code)
    return changed


def update_product(artisan: User, product_id: str, data: ProductPatch | dict) -> Product:
    """Partial update by the owner; a provenance-relevant change revokes the product's label."""
    _require_artisan(artisan)
    patch = parse_model(ProductPatch, data) if isinstance(data, dict) else data
    rates = current_rates()
    product = _owned(artisan.id, product_id, lock=True)
    if product.status != ProductStatus.ACTIVE:
        db.session.rollback()
        raise Conflict("An archived product cannot be edited.")
    try:
        changed = _changes_from_patch(product, patch, rates)
    except DomainError:
        db.session.rollback()
        raise
    if changed:
        db.session.flush()
        _revoke_provenance_if_relevant(product.id, changed)
    db.session.commit()
    return product


def _revoke_provenance_if_relevant(product_id: str, changed: set[str]) -> None:
    revoke = _optional_service("marketplace.provenance.service", "revoke_for_product_change")
    if revoke is None:
        return
    named = _optional_service("marketplace.provenance.service", "PROVENANCE_FIELDS") or ()
    relevant = PROVENANCE_RELEVANT | set(named)
    if changed & relevant:
        _call(revoke, product_id, set(changed), commit=False)


def archive_product(artisan: User, product_id: str) -> Product:
    """Hide the product from the catalogue; orders that reference it keep it."""
    _require_artisan(artisan)
    product = _owned(artisan.id, product_id, lock=True)
    product.status = ProductStatus.ARCHIVED
    db.session.commit()
    return product


def recompute_price_base(rates: RateTable) -> int:
    """Re-derive every product's KZT ``price_base`` from its listing price (after an FX change).
    Does not commit: the caller's rate change and the repricing commit together."""
    rows = db.session.execute(
        select(Product.id, Product.price_amount, Product.price_currency, Product.price_base)
        .where(Product.price_currency != BASE_CURRENCY)
    ).all()
    changes = []
    for product_id, amount, currency, old in rows:
        new = _price_base(Money(amount, currency), rates)
        if new != old:
            changes.append({"id": product_id, "price_base": new})
    if changes:
        db.session.execute(update(Product), changes)
    db.session.execute(
        update(Product)
        .where(Product.price_currency == BASE_CURRENCY, Product.price_base != Product.price_amount)
        .values(price_base=Product.price_amount)
        .execution_options(synchronize_session=False)
    )
    return len(changes)


# --- images ---

def _inspect_image(data: bytes) -> tuple[str, str, int, int]:
    """(content type, extension, width, height) judged from the bytes, never from the name."""
    invalid = ValidationFailed("The file is not a JPEG, PNG or WebP image.",
                               errors={"file": ["must be a JPEG, PNG or WebP image"]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                if kind not in IMAGE_FORMATS:
                    raise invalid
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValidationFailed(
                        "The image has too many pixels.",
                        errors={"file": [f"at most {MAX_IMAGE_PIXELS:,} pixels"]})
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() misses truncated data; decoding does not
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise invalid from None
    content_type, extension = IMAGE_FORMATS[kind]
    return content_type, extension, width, height


def add_image(artisan: User, product_id: str, data: bytes | None, *, max_bytes: int,
              alt: dict | None = None) -> ProductImage:
    _require_artisan(artisan)
    product = _owned(artisan.id, product_id)
    if data is None:
        raise ValidationFailed("Send the image as the multipart field 'file'.",
                               errors={"file": ["required"]})
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Images are limited to {max_bytes // (1024 * 1024)} MB.")
    if not data:
        raise ValidationFailed("The file is empty.", errors={"file": ["empty file"]})
    content_type, extension, width, height = _inspect_image(data)
    positions = db.session.execute(
        select(func.count(ProductImage.id), func.max(ProductImage.position))
        .where(ProductImage.product_id == product.id)
    ).one()
    if positions[0] >= MAX_IMAGES_PER_PRODUCT:
        raise Conflict(f"A product has at most {MAX_IMAGES_PER_PRODUCT} images.")
    key = get_storage().save(data, extension)
    image = ProductImage(product_id=product.id, storage_key=key, content_type=content_type,
                         width=width, height=height, size_bytes=len(data),
                         position=(positions[1] + 1) if positions[1] is not None else 0,
                         alt=alt or {})
    db.session.add(image)
    db.session.commit()
    return image


def delete_image(artisan: User, product_id: str, image_id: str) -> None:
    _require_artisan(artisan)
    product = _owned(artisan.id, product_id)
    image = db.session.get(ProductImage, image_id)
    if image is None or image.product_id != product.id:
        raise NotFound("No such image.")
    db.session.delete(image)
    db.session.commit()  # the file stays: another product may use the same bytes


def image_out(image: ProductImage) -> dict:
    return {
        "id": image.id, "url": f"/media/{image.storage_key}", "content_type": image.content_type,
        "width": image.width, "height": image.height, "size_bytes": image.size_bytes,
        "position": image.position, "alt": dict(image.alt or {}),
    }


# --- products: reads ---

def get_product(product_id: str, viewer: User | None = None) -> Product:
    """An active product for anyone; an archived one only for its artisan or an operator."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.")
    if product.status != ProductStatus.ACTIVE and not (
        viewer is not None and (viewer.id == product.artisan_id or viewer.role == Role.OPERATOR)
    ):
        raise NotFound("No such product.")
    return product


def present_products(products: list[Product], *, lang: str | None, currency: str,
                     rates: RateTable | None = None) -> list[dict]:
    """Products as the API shows them, in ``lang`` and ``currency``: three queries per call
    (images, workshops, provenance) plus one for the rates unless given."""
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
    provenance = provenance_summaries(products)
    return [_product_out(p, lang, currency, rates, images[p.id], workshops[p.artisan_id],
                         provenance[p.id]) for p in products]


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
                           errors={"cursor": ["invalid for this sort"]})
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
                  sort: str | None = None, limit: int = 24,
                  cursor: str | None = None) -> ProductPage:
    """Active products matching every filter, one keyset page of them.

    ``min_price``/``max_price`` are minor units of ``currency`` (default KZT), compared through
    each product's KZT ``price_base`` so that price filters and sorts work in any currency.
    """
    rates = current_rates()
    match = text_match(q, db.session.get_bind().dialect.name) if q else None
    sort = sort or ("relevance" if match else "newest")
    if sort == "relevance" and match is None:
        sort = "newest"  # nothing to rank by
    after = _cursor_after(sort, cursor)

    score = match.score if match else None
    query = select(Product, score.label("score")) if score is not None else select(Product)
    query = query.where(Product.status == ProductStatus.ACTIVE)
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
    if ships_to:
        served = served_countries()
        if served is not None and ships_to not in served:
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
