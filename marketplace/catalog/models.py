from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace import hs
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.money import Money


class Craft(StrEnum):
    JEWELLERY = "jewellery"
    CERAMICS = "ceramics"
    FELT = "felt"
    TEXTILES = "textiles"
    LEATHER = "leather"
    WOOD = "wood"
    METAL = "metal"
    INSTRUMENTS = "instruments"
    OTHER = "other"


# Default HS 2022 subheading (6 digits) per craft; a product may override it (and carry up to
# 10 digits for a destination's tariff). Every code is checked against data/tax/hs2022.csv.
CRAFT_HS_CODES: dict[str, str] = {
    Craft.JEWELLERY: "711311",  # jewellery of silver (711319 other precious metal, 7117 imitation)
    Craft.CERAMICS: "691390",  # ornamental ceramic articles, not porcelain (691200 tableware)
    Craft.FELT: "630790",  # made-up felt articles n.e.c. (570490 felt rugs over 1 m2)
    Craft.TEXTILES: "630499",  # furnishing articles of other textiles, not knitted
    Craft.LEATHER: "420500",  # other articles of leather (4202 bags and cases)
    Craft.WOOD: "442090",  # wooden caskets, cases and ornamental articles n.e.c.
    Craft.METAL: "830629",  # statuettes and ornaments of base metal
    Craft.INSTRUMENTS: "920290",  # plucked string instruments (dombyra); 920210 bowed (kobyz)
    Craft.OTHER: "970191",  # fallback: hand-executed paintings and pictures; set the right code
}


# The verified browse filter, as partial index predicates (browse.py writes the same test).
VERIFIED_CONDITIONS = {"verified": "provenance_level IN ('L1', 'L2')",
                       "unverified": "provenance_level NOT IN ('L1', 'L2')"}


class ProductStatus(StrEnum):
    DRAFT = "draft"  # seen only by its artisan and operators until it is ready to sell
    ACTIVE = "active"
    ARCHIVED = "archived"


class ImageState(StrEnum):
    PROCESSING = "processing"  # uploaded; a worker is making its variants
    READY = "ready"
    FAILED = "failed"  # the file could not be decoded after all


class ArtisanProfile(db.Model):
    """An artisan's workshop; its id is the artisan user's id."""

    __tablename__ = "artisan_profile"

    user_id: Mapped[str] = mapped_column(ForeignKey("user.id"), primary_key=True)
    workshop_name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[dict] = mapped_column(JSON, default=dict)
    city: Mapped[str] = mapped_column(String(100), default="Almaty")
    country: Mapped[str] = mapped_column(String(2), default="KZ")
    crafts: Mapped[list] = mapped_column(JSON, default=list)
    since_year: Mapped[int | None] = mapped_column(Integer)
    lineage: Mapped[str | None] = mapped_column(Text)
    processing_days: Mapped[int] = mapped_column(Integer, default=5)
    payout_currency: Mapped[str] = mapped_column(String(3), default="KZT")
    payout_iban: Mapped[str | None] = mapped_column(String(34))
    payout_bic: Mapped[str | None] = mapped_column(String(11))
    payout_holder_name: Mapped[str | None] = mapped_column(String(140))  # legal name at the bank
    payout_iin_bin: Mapped[str | None] = mapped_column(String(12))  # Kazakh IIN or BIN
    payout_kbe: Mapped[str | None] = mapped_column(String(2))  # Kazakh beneficiary code
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()


class Product(db.Model):
    __tablename__ = "product"
    # An index for every browse path (filter x sort) of catalog/browse.py; the EXPLAIN test in
    # tests/catalog/test_browse_plans.py proves them on PostgreSQL. Materials and techniques
    # are browsed through ProductTag's indexes.
    __table_args__ = (
        # the price after the keys: a price range walked newest first is checked in the index
        Index("ix_product_status_created_price", "status", "created_at", "id", "price_base"),
        Index("ix_product_status_price_base", "status", "price_base", "id"),
        Index("ix_product_craft_created", "status", "craft", "created_at", "id"),
        Index("ix_product_craft_price", "status", "craft", "price_base", "id"),
        Index("ix_product_artisan_created", "artisan_id", "status", "created_at", "id"),
        Index("ix_product_artisan_price", "artisan_id", "status", "price_base", "id"),
        *(Index(f"ix_product_{name}_{sort}", "status", column, "id",
                postgresql_where=text(condition), sqlite_where=text(condition))
          for name, condition in VERIFIED_CONDITIONS.items()
          for sort, column in (("created", "created_at"), ("price", "price_base"))),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"), index=True)
    title: Mapped[dict] = mapped_column(JSON)  # {"en": ..., "ru": ..., "kk": ...}
    description: Mapped[dict] = mapped_column(JSON, default=dict)
    craft: Mapped[str] = mapped_column(String(20), index=True)
    materials: Mapped[list] = mapped_column(JSON, default=list)
    techniques: Mapped[list] = mapped_column(JSON, default=list)
    # "|silver|turquoise|": lets one portable LIKE filter by material/technique on any database
    materials_key: Mapped[str] = mapped_column(String(1000), default="|")
    techniques_key: Mapped[str] = mapped_column(String(1000), default="|")
    price_amount: Mapped[int] = mapped_column(BigInteger)
    price_currency: Mapped[str] = mapped_column(String(3))
    # price converted to KZT minor units at the current rate: sort/filter in any currency
    price_base: Mapped[int] = mapped_column(BigInteger, default=0)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # held by unexpired checkouts
    weight_g: Mapped[int | None] = mapped_column(Integer)
    length_mm: Mapped[int | None] = mapped_column(Integer)
    width_mm: Mapped[int | None] = mapped_column(Integer)
    height_mm: Mapped[int | None] = mapped_column(Integer)
    hs_code: Mapped[str | None] = mapped_column(String(10))
    # National tariff codes by tariff id ({"EU": "5704900000", "US": "5704900000"}; see
    # data/tax/tariffs.json): each begins with the product's HS6 and has that tariff's length.
    tariff_codes: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=ProductStatus.ACTIVE)
    # "L0" declared, "L1" operator-verified, "L2" third-party attested; kept by provenance service
    provenance_level: Mapped[str] = mapped_column(String(2), default="L0", index=True)
    # a commission's one-off listing: only this buyer sees and buys it
    reserved_for_id: Mapped[str | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The analysed text search indexes (catalog/search.py keeps it; never shown, not loaded)
    search_title: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    search_tags: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    search_body: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    search_alt: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)

    artisan: Mapped[User] = relationship(foreign_keys=[artisan_id])
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="ProductImage.position"
    )

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.price_currency)

    @property
    def available(self) -> int:
        return self.stock - self.reserved

    @property
    def effective_hs_code(self) -> str:
        return self.hs_code or CRAFT_HS_CODES[Craft(self.craft)]

    def tariff_code_for(self, country: str | None) -> str | None:
        """The national tariff code this product carries for ``country``'s customs (None: it
        carries none, the HS code applies). A code that no longer begins with the product's HS6
        is not used."""
        tariff = hs.tariff_for_country(country)
        code = (self.tariff_codes or {}).get(tariff) if tariff else None
        if code and code.startswith(self.effective_hs_code[:6]):
            return code
        return None

    def customs_code_for(self, country: str | None) -> str:
        """What the destination's customs classify the product by: its national code there,
        else its HS code."""
        return self.tariff_code_for(country) or self.effective_hs_code


class ProductTag(db.Model):
    """One row per material and per technique of a product, with the product's status, privacy
    and sort keys copied beside it, so that a material or technique filter walks an index in the
    page's order (``ix_product_tag_created`` / ``ix_product_tag_price``) instead of skipping
    the other products. Database triggers keep it (migration 0023_speed): every write to
    ``product`` (the ORM's, a bulk UPDATE of prices after a rates change, a status change) is
    copied in the same statement. Read only by ``catalog/browse.py``; never written here."""

    __tablename__ = "product_tag"
    __table_args__ = (
        Index("ix_product_tag_created", "kind", "value", "status", "private", "created_at",
              "product_id"),
        Index("ix_product_tag_price", "kind", "value", "status", "private", "price_base",
              "product_id"),
        Index("ix_product_tag_product_id", "product_id"),
    )

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # material | technique
    value: Mapped[str] = mapped_column(String(1000), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"),
                                            primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    private: Mapped[bool] = mapped_column(Boolean)  # reserved for one buyer (a commission)
    created_at: Mapped[datetime]
    price_base: Mapped[int] = mapped_column(BigInteger)


class ProductImage(db.Model):
    __tablename__ = "product_image"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.id"), index=True)
    # the upload as it arrived (private storage area, deleted once the variants exist)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    content_type: Mapped[str] = mapped_column(String(40))  # of the upload
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    alt: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default=ImageState.PROCESSING)
    # [{width, height, format: "jpeg"|"webp", key, size_bytes, original}]: public, metadata-free
    variants: Mapped[list] = mapped_column(JSON, default=list)
    illustration: Mapped[bool] = mapped_column(Boolean, default=False)  # drawn, not a photo
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class SearchTerm(db.Model):
    """A word that occurs in the catalogue's search documents: the vocabulary that typo and
    Kazakh-ending matching looks through (by trigram index). Words of removed listings may stay:
    a fuzzy match on them finds nothing."""

    __tablename__ = "search_term"

    term: Mapped[str] = mapped_column(String(200), primary_key=True)


class ProductViewDay(db.Model):
    """How many times a piece's page was seen on a day (UTC): written by the view counter in
    batches (``catalog.views``), never by the page's own request."""

    __tablename__ = "product_view_day"

    product_id: Mapped[str] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"),
                                            primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger, default=0)


# The search document hooks on Product live with the search (imported last: they need Product).
from marketplace.catalog import search as _search  # noqa: E402, F401
