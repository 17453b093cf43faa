"""Catalogue writes: workshop profiles and products.

Writes validate through the schemas (so the API, the seed and any other caller obey the same
limits) and keep the derived columns (materials_key, techniques_key, price_base) in step. What
other domains must know of a change goes out as an outbox event; reactions registered for it run
in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from marketplace.accounts.models import Role, User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.models import (
    ArtisanProfile,
    ImageState,
    Product,
    ProductImage,
    ProductStatus,
)
from marketplace.catalog.schemas import ProductIn, ProductPatch, ProfileIn
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.fx.service import BASE_CURRENCY, RateTable, current_rates
from marketplace.http import parse_model
from marketplace.money import Money
from marketplace.outbox import emit, reactions_for
from marketplace.transaction import use_case

# {product_id, artisan_id, changed: [field, ...]}: the product's fields whose value changed.
PRODUCT_CHANGED = "catalog.product_changed"
# {product_id, artisan_id, record}: a product was listed with a provenance declaration.
PROVENANCE_DECLARED = "catalog.provenance_declared"
# {product_id, artisan_id}: a draft had all it needs and went on sale.
PRODUCT_PUBLISHED = "catalog.product_published"

# What a draft needs before it goes on sale, in the order pages list it.
READINESS = ("photo", "title", "description", "price", "stock", "weight", "size")


def require_artisan(user: User) -> None:
    if user.role != Role.ARTISAN:
        raise Forbidden("Only artisans list products.", code=CatalogError.ARTISAN_ONLY)


def owned_product(artisan_id: str, product_id: str, *, lock: bool = False) -> Product:
    query = select(Product).where(Product.id == product_id)
    if lock:
        query = query.with_for_update()
    product = db.session.execute(query).scalar_one_or_none()
    # Another artisan's product is "not found", not "forbidden": its existence is not theirs.
    if product is None or product.artisan_id != artisan_id:
        raise NotFound("No such product.", code=CatalogError.PRODUCT_NOT_FOUND)
    return product


# --- workshop profiles ---

def get_profile(user_id: str) -> ArtisanProfile:
    profile = db.session.get(ArtisanProfile, user_id)
    if profile is None:
        raise NotFound("No workshop profile yet: PUT /api/v1/artisans/me to create it.",
                       code=CatalogError.PROFILE_MISSING)
    return profile


@use_case
def save_profile(user: User, data: ProfileIn | dict) -> ArtisanProfile:
    """Create or replace the artisan's workshop profile."""
    if user.role != Role.ARTISAN:
        raise Forbidden("Only artisans have a workshop profile.", code=CatalogError.ARTISAN_ONLY)
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
    return profile


# --- products ---

def _tags_key(values: list[str]) -> str:
    return "|" + "".join(f"{value}|" for value in values)


def price_base(price: Money, rates: RateTable) -> int:
    """The KZT amount that price filters and sorts compare."""
    return rates.convert(price, BASE_CURRENCY)[0].amount


def product_actions(product: Product) -> dict[str, bool]:
    """What the owner may do with the product now (pages offer only these)."""
    return {"edit": product.status != ProductStatus.ARCHIVED,
            "archive": product.status != ProductStatus.ARCHIVED}


def ready_photos(product_ids: list[str]) -> dict[str, int]:
    """How many processed photos each product has (one query)."""
    counts = dict.fromkeys(product_ids, 0)
    if product_ids:
        rows = db.session.execute(
            select(ProductImage.product_id, func.count(ProductImage.id))
            .where(ProductImage.product_id.in_(product_ids),
                   ProductImage.state == ImageState.READY)
            .group_by(ProductImage.product_id)).all()
        counts.update({product_id: total for product_id, total in rows})
    return counts


def missing_for_sale(product: Product, photos: int | None = None) -> list[str]:
    """What the product lacks before it may go on sale (READINESS names); empty when ready."""
    if photos is None:
        photos = ready_photos([product.id])[product.id]
    present = {
        "photo": photos > 0,
        "title": any((product.title or {}).values()),
        "description": any((product.description or {}).values()),
        "price": bool(product.price_amount) and bool(product.price_currency),
        "stock": (product.stock or 0) > 0,
        "weight": bool(product.weight_g),
        "size": bool(product.length_mm and product.width_mm and product.height_mm),
    }
    return [name for name in READINESS if not present[name]]


def publish_if_ready(product: Product) -> bool:
    """A draft with nothing missing goes on sale, in the caller's transaction; True if it did.
    Active and archived products stay as they are."""
    if product.status != ProductStatus.DRAFT or missing_for_sale(product):
        return False
    product.status = ProductStatus.ACTIVE
    db.session.flush()
    emit(PRODUCT_PUBLISHED, {"product_id": product.id, "artisan_id": product.artisan_id})
    return True


@use_case
def create_product(artisan: User, data: ProductIn | dict, *,
                   reserved_for: str | None = None) -> Product:
    """List a product as a draft (it goes on sale once ``missing_for_sale`` is empty: its first
    photo is processed after this); a provenance declaration in ``data`` is saved with it, or
    nothing is. A one-off listing ``reserved_for`` one buyer (a commission they accepted) is on
    sale to them at once: it is never in the catalogue, and they agreed to it as offered."""
    require_artisan(artisan)
    fields = parse_model(ProductIn, data) if isinstance(data, dict) else data
    price = Money(fields.price.amount, fields.price.currency)
    dims = fields.dimensions_mm
    product = Product(
        artisan_id=artisan.id,
        title=fields.title.as_dict(),
        description=fields.description.as_dict() if fields.description else {},
        craft=str(fields.craft),
        materials=fields.materials, materials_key=_tags_key(fields.materials),
        techniques=fields.techniques, techniques_key=_tags_key(fields.techniques),
        price_amount=price.amount, price_currency=price.currency,
        price_base=price_base(price, current_rates()),
        stock=fields.stock, reserved=0, weight_g=fields.weight_g,
        length_mm=dims.l if dims else None, width_mm=dims.w if dims else None,
        height_mm=dims.h if dims else None, hs_code=fields.hs_code,
        tariff_codes=fields.tariff_codes or None,
        status=ProductStatus.ACTIVE if reserved_for else ProductStatus.DRAFT,
        reserved_for_id=reserved_for,
    )
    _check_tariff_codes(product)
    db.session.add(product)
    db.session.flush()
    if fields.provenance is not None:
        _declare_provenance(product, fields.provenance)
    return product


def _check_tariff_codes(product: Product) -> None:
    """Every national code begins with the product's HS6 (after this write's HS code and
    craft): a code of another subheading would declare other goods."""
    hs6 = product.effective_hs_code[:6]
    errors = {f"tariff_codes.{tariff}": [f"must begin with the product's HS code {hs6}"]
              for tariff, code in sorted((product.tariff_codes or {}).items())
              if not code.startswith(hs6)}
    if errors:
        raise ValidationFailed(
            f"National tariff codes must begin with the product's HS code {hs6}; change them "
            "with the HS code in the same request.", errors=errors,
            code=CatalogError.TARIFF_CODE_MISMATCH)


def _declare_provenance(product: Product, record: dict) -> None:
    # A declaration nobody takes would be lost without a word: refuse it instead.
    if not reactions_for(PROVENANCE_DECLARED):
        raise ValidationFailed("Provenance records are not available.",
                               errors={"provenance": ["not supported"]},
                               code=CatalogError.PROVENANCE_UNAVAILABLE)
    try:
        emit(PROVENANCE_DECLARED, {"product_id": product.id, "artisan_id": product.artisan_id,
                                   "record": record})
    except ValidationFailed as exc:
        errors = {f"provenance.{field}": messages
                  for field, messages in (exc.errors or {}).items()}
        raise ValidationFailed(exc.detail, code=exc.code,
                               errors=errors or {"provenance": [exc.detail]}) from None


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
               price_base=price_base(price, rates))
    if "stock" in given:
        if patch.stock < product.reserved:
            raise Conflict(f"{product.reserved} pieces are held by checkouts in progress; "
                           "stock cannot go below that.", errors={"stock": ["below reserved"]},
                           code=CatalogError.STOCK_BELOW_RESERVED)
        assign("stock", stock=patch.stock)
    if "weight_g" in given:
        assign("weight_g", weight_g=patch.weight_g)
    if "dimensions_mm" in given:
        dims = patch.dimensions_mm
        assign("dimensions_mm", length_mm=dims.l, width_mm=dims.w, height_mm=dims.h)
    if "hs_code" in given:
        assign("hs_code", hs_code=patch.hs_code)
    if "tariff_codes" in given:
        assign("tariff_codes", tariff_codes=patch.tariff_codes or None)
    if given & {"hs_code", "craft", "tariff_codes"}:
        _check_tariff_codes(product)
    return changed


@use_case
def update_product(artisan: User, product_id: str, data: ProductPatch | dict) -> Product:
    """Partial update by the owner; what changed goes out as ``catalog.product_changed`` (a
    provenance-relevant change revokes the label in the same transaction)."""
    require_artisan(artisan)
    patch = parse_model(ProductPatch, data) if isinstance(data, dict) else data
    rates = current_rates()
    product = owned_product(artisan.id, product_id, lock=True)
    if not product_actions(product)["edit"]:
        raise Conflict("An archived product cannot be edited.",
                       code=CatalogError.PRODUCT_ARCHIVED)
    changed = _changes_from_patch(product, patch, rates)
    if changed:
        db.session.flush()
        emit(PRODUCT_CHANGED, {"product_id": product.id, "artisan_id": product.artisan_id,
                               "changed": sorted(changed)})
        publish_if_ready(product)
    return product


@use_case
def archive_product(artisan: User, product_id: str) -> Product:
    """Hide the product from the catalogue; orders that reference it keep it."""
    require_artisan(artisan)
    product = owned_product(artisan.id, product_id, lock=True)
    product.status = ProductStatus.ARCHIVED
    return product


def recompute_price_base(rates: RateTable) -> int:
    """Re-derive every product's KZT ``price_base`` from its listing price, in the caller's
    transaction (the rate change and the repricing commit together)."""
    rows = db.session.execute(
        select(Product.id, Product.price_amount, Product.price_currency, Product.price_base)
        .where(Product.price_currency != BASE_CURRENCY)
    ).all()
    changes = []
    for product_id, amount, currency, old in rows:
        new = price_base(Money(amount, currency), rates)
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


def on_rates_changed(payload: dict) -> None:
    """Reaction to ``fx.rates_changed``: reprice with the rates as they now stand."""
    recompute_price_base(current_rates())
