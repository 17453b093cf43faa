"""Request and response models of the catalogue (they also produce the OpenAPI document)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from marketplace import hs
from marketplace.catalog.models import Craft, ProductStatus
from marketplace.money import LISTING_CURRENCIES, MAX_AMOUNT
from marketplace.schemas import MoneyOut, OutModel, TextOut, Timestamp
from marketplace.validation import country_code, presentment_currency

LANGUAGES = ("en", "ru", "kk")
FALLBACK_ORDER = ("en", "ru", "kk")
MAX_PRICE = 10**10  # minor units: 100 million tenge; anything above is a typo
MAX_STOCK = 100_000
MAX_WEIGHT_G = 100_000
MAX_DIMENSION_MM = 3_000
MAX_TAGS = 20

Dimension = Annotated[StrictInt, Field(ge=1, le=MAX_DIMENSION_MM)]


def _clean_translations(model: BaseModel) -> dict[str, str]:
    return {lang: value for lang in LANGUAGES if (value := getattr(model, lang))}


class TitleText(BaseModel):
    """A title in up to three languages; at least one is required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    en: str | None = Field(None, max_length=200)
    ru: str | None = Field(None, max_length=200)
    kk: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _one_language(self):
        if not _clean_translations(self):
            raise ValueError("give the text in at least one of kk, ru, en")
        return self

    def as_dict(self) -> dict[str, str]:
        return _clean_translations(self)


class LongText(BaseModel):
    """A description or biography in up to three languages."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    en: str | None = Field(None, max_length=5000)
    ru: str | None = Field(None, max_length=5000)
    kk: str | None = Field(None, max_length=5000)

    def as_dict(self) -> dict[str, str]:
        return _clean_translations(self)


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(gt=0, lt=MAX_PRICE, description="Minor units (tiyn, cents).")
    currency: str = Field(description=f"One of {', '.join(LISTING_CURRENCIES)}.")

    @field_validator("currency")
    @classmethod
    def _listing_currency(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in LISTING_CURRENCIES:
            raise ValueError(f"list prices in one of {', '.join(LISTING_CURRENCIES)}")
        return value


class DimensionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    l: Dimension  # noqa: E741 - the contract's field name
    w: Dimension
    h: Dimension


def _tags(values: list[str]) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        tag = " ".join(value.split()).lower()
        if not tag:
            raise ValueError("empty entries are not allowed")
        if len(tag) > 60:
            raise ValueError("each entry is at most 60 characters")
        if "|" in tag:
            raise ValueError("'|' is not allowed")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _hs_code(value: str | None) -> str | None:
    if value is None:
        return None
    value = hs.normalise(value)
    problem = hs.problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _tariff_codes(value: dict[str, str] | None) -> dict[str, str] | None:
    """Each code well-formed for its tariff (digits, one of its lengths, an HS 2022
    subheading); that it begins with the product's HS6 is checked with the product."""
    if value is None:
        return None
    cleaned: dict[str, str] = {}
    for tariff, code in value.items():
        tariff_id = (tariff or "").strip().upper()
        problem = hs.tariff_problem(tariff_id, code)
        if problem:
            raise ValueError(f"{tariff}: {problem}")
        cleaned[tariff_id] = hs.normalise(code)
    return cleaned


TARIFF_CODES_DESCRIPTION = (
    "National tariff codes by tariff (EU: CN 8 / TARIC 10 digits for all 27 members; US: HTS "
    "8/10; GB 10; JP 9; CA 8/10; AU 8; NZ 8; CH 8; NO 8; KR 10; CN 8/10; SG 8: "
    "GET /api/v1/tariffs): each begins with the product's HS 2022 subheading. Customs "
    "papers and duty estimates for a destination use its tariff's code, else the HS code. "
    "Given on update, the map replaces the stored one ({} clears it).")


class _ProductFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: LongText | None = None
    materials: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    techniques: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    hs_code: str | None = Field(None, description="Overrides the craft's default HS code: an HS "
                                "2022 subheading (6 digits), up to 10 digits for a tariff.")
    tariff_codes: dict[Annotated[str, StringConstraints(min_length=2, max_length=8)],
                       Annotated[str, StringConstraints(max_length=20)]] | None = Field(
        None, max_length=20, description=TARIFF_CODES_DESCRIPTION)

    @field_validator("materials", "techniques")
    @classmethod
    def _tag_list(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _tags(value)

    @field_validator("hs_code")
    @classmethod
    def _hs(cls, value: str | None) -> str | None:
        return _hs_code(value)

    @field_validator("tariff_codes")
    @classmethod
    def _tariffs(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _tariff_codes(value)


# Validated by the provenance service, a layer above the catalogue, so documented by reference.
ProvenanceRecord = Annotated[dict, WithJsonSchema({"$ref": "#/components/schemas/RecordIn"})]


class ProductIn(_ProductFields):
    """A new listing starts as a draft; what it still lacks for sale may be added later."""

    title: TitleText
    craft: Craft
    price: MoneyIn
    stock: StrictInt = Field(0, ge=0, le=MAX_STOCK)
    weight_g: StrictInt | None = Field(None, ge=1, le=MAX_WEIGHT_G)
    dimensions_mm: DimensionsIn | None = None
    provenance: ProvenanceRecord | None = Field(
        None, description="Optional provenance declaration (see PUT /products/{id}/provenance).")


class ProductPatch(_ProductFields):
    """Only the fields given change; ``hs_code: null`` returns to the craft's default."""

    title: TitleText | None = None
    craft: Craft | None = None
    price: MoneyIn | None = None
    stock: StrictInt | None = Field(None, ge=0, le=MAX_STOCK)
    weight_g: StrictInt | None = Field(None, ge=1, le=MAX_WEIGHT_G)
    dimensions_mm: DimensionsIn | None = None
    materials: list[str] | None = Field(None, max_length=MAX_TAGS)
    techniques: list[str] | None = Field(None, max_length=MAX_TAGS)

    # Defaults are not validated, so this only rejects an explicit null.
    @field_validator("title", "craft", "price", "stock", "weight_g", "dimensions_mm",
                     "materials", "techniques")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("cannot be null")
        return value


class ReadQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    currency: str | None = Field(None, description="Presentment currency for display_price.")
    lang: Annotated[str, StringConstraints(max_length=35)] | None = Field(
        None, description="kk, ru or en (else Accept-Language); falls back to en, ru, kk.")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return presentment_currency(value)


SORTS = ("newest", "price_asc", "price_desc", "relevance")
_FACET = "craft|material|technique|price"


class ListQuery(ReadQuery):
    q: str | None = Field(None, max_length=200, description="Words to find in kk, ru or en.")
    craft: Craft | None = None
    material: str | None = Field(None, max_length=60)
    technique: str | None = Field(None, max_length=60)
    artisan: str | None = Field(None, max_length=26, description="An artisan's user id.")
    verified: bool | None = Field(None, description="true: provenance L1/L2 only; false: L0.")
    min_price: int | None = Field(None, ge=0, le=MAX_AMOUNT,
                                  description="Minor units of `currency` (default KZT).")
    max_price: int | None = Field(None, ge=0, le=MAX_AMOUNT,
                                  description="Minor units of `currency` (default KZT).")
    ships_to: str | None = Field(None, description="ISO 3166-1 alpha-2 destination.")
    sort: Literal["newest", "price_asc", "price_desc", "relevance"] | None = Field(
        None, description="Default: relevance when q is given, else newest.")
    limit: int = Field(24, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    facets: str | None = Field(
        None, max_length=100, pattern=rf"^({_FACET})(,({_FACET}))*$",
        description="Comma-separated: craft, material, technique, price. Adds counts per "
                    "value under the same filters.")

    @property
    def facet_names(self) -> list[str]:
        return list(dict.fromkeys((self.facets or "").split(","))) if self.facets else []

    @field_validator("material", "technique")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        return None if value is None else (" ".join(value.split()).lower() or None)

    @field_validator("ships_to")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return country_code(value)

    @model_validator(mode="after")
    def _range(self):
        if (self.min_price is not None and self.max_price is not None
                and self.min_price > self.max_price):
            raise ValueError("min_price is above max_price")
        return self


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    workshop_name: str = Field(min_length=1, max_length=200)
    bio: LongText = Field(default_factory=LongText)
    city: str = Field("Almaty", min_length=1, max_length=100)
    country: str = Field("KZ", min_length=2, max_length=2)
    crafts: list[Craft] = Field(default_factory=list, max_length=len(Craft))
    since_year: StrictInt | None = Field(None, ge=1900)
    lineage: str | None = Field(None, max_length=2000,
                                description="Master → apprentice line, in the artisan's words.")
    processing_days: StrictInt = Field(5, ge=1, le=90,
                                       description="Days to make ready and pack an order.")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return country_code(value)

    @field_validator("since_year")
    @classmethod
    def _not_future(cls, value: int | None) -> int | None:
        if value is not None and value > date.today().year:
            raise ValueError("cannot be in the future")
        return value

    @field_validator("crafts")
    @classmethod
    def _unique(cls, value: list[Craft]) -> list[Craft]:
        return list(dict.fromkeys(value))


# --- responses: views serialise through these (marketplace.http.responds) ---

class VariantOut(OutModel):
    width: int
    height: int
    format: Literal["jpeg", "webp"]
    url: str = Field(description="Content-addressed: cache it forever.")
    size_bytes: int


class ImageOut(OutModel):
    id: str
    url: str | None = Field(description="A JPEG of at most 1280 px; null while processing.")
    content_type: str
    width: int = Field(description="Of the full-size picture, upright.")
    height: int
    size_bytes: int = Field(description="Of the file as uploaded.")
    position: int = Field(description="0 is the cover.")
    alt: TextOut
    state: Literal["processing", "ready", "failed"] = Field(
        description="processing: a worker is making the variants; failed: upload it again.")
    illustration: bool = Field(description="A drawing standing in for a photo (demo pieces).")
    variants: list[VariantOut] = Field(
        description="Metadata-free WebP and JPEG files: full size and 320/640/1280/2048 px on "
                    "the long side (never enlarged).")


class ImageList(OutModel):
    items: list[ImageOut]


class ImageOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: list[Annotated[str, StringConstraints(max_length=26)]] = Field(
        max_length=20, description="Every image of the product once; the first is the cover.")


class ProvenanceSummary(OutModel):
    level: Literal["L0", "L1", "L2"]
    label_code: str | None = Field(description="Shown once a label was issued (valid or "
                                               "revoked).")
    status: Literal["none", "draft", "pending", "valid", "rejected", "revoked"] = Field(
        description="Where the provenance record stands; none: no record yet.")
    url: str | None


class ArtisanRef(OutModel):
    id: str
    workshop_name: str
    city: str


class Translations(OutModel):
    title: TextOut
    description: TextOut


class ProductDimensionsOut(OutModel):
    l: int | None = Field(description="millimetres")  # noqa: E741 - the contract's field name
    w: int | None = Field(description="millimetres")
    h: int | None = Field(description="millimetres")


class ReviewSummary(OutModel):
    count: int = Field(description="Visible reviews of people who received the piece.")
    average: float | None = Field(strict=False, description="Stars, one decimal; null if none.")


class ProductOut(OutModel):
    id: str
    artisan_id: str
    artisan: ArtisanRef
    title: str = Field(description="Resolved: requested language, else en, ru, kk.")
    description: str
    lang: str | None = Field(description="The language of the resolved title.")
    translations: Translations
    craft: Craft = Field(strict=False)
    materials: list[str]
    techniques: list[str]
    price: MoneyOut = Field(description="The listing price, in the artisan's currency.")
    display_price: MoneyOut = Field(description="The price in the presentment currency.")
    fx_rate: str = Field(description="Presentment units per listing unit, a decimal string.")
    stock: int
    available: int
    weight_g: int | None
    dimensions_mm: ProductDimensionsOut
    hs_code: str
    hs_code_override: str | None
    tariff_codes: dict[str, str] = Field(description=(
        "National tariff codes by tariff id (data/tax/tariffs.json); empty when none."))
    status: ProductStatus = Field(strict=False, description=(
        "draft: seen only by its artisan and operators until nothing is missing; active; "
        "archived."))
    missing: list[Literal["photo", "title", "description", "price", "stock", "weight",
                          "size"]] = Field(
        description="What a draft lacks before it goes on sale; empty when nothing is.")
    images: list[ImageOut]
    provenance: ProvenanceSummary
    reviews: ReviewSummary = Field(None)
    saved: bool = Field(None, description="Signed in: whether the caller saved the piece.")
    created_at: Timestamp
    updated_at: Timestamp


class FacetValue(OutModel):
    value: str
    count: int


class PriceBand(OutModel):
    min: int = Field(description="Minor units of `currency`, inclusive.")
    max: int | None = Field(description="Minor units of `currency`, inclusive; null: no limit.")
    count: int


class Facets(OutModel):
    """Counts of the products the same filters select (only the facets asked for)."""

    craft: list[FacetValue] = Field(None)
    material: list[FacetValue] = Field(None, description="The 20 most frequent.")
    technique: list[FacetValue] = Field(None, description="The 20 most frequent.")
    price: list[PriceBand] = Field(None, description="Bands with at least one product.")
    currency: str = Field(None, description="The currency of the price bands.")


class ProductPage(OutModel):
    items: list[ProductOut]
    next_cursor: str | None
    facets: Facets = Field(None, description="Present when `facets` is asked for.")


class ProfileCounts(OutModel):
    active_products: int
    verified_products: int


class ProfileTranslations(OutModel):
    bio: TextOut


class ProfileOut(OutModel):
    id: str
    workshop_name: str
    bio: str = Field(description="Resolved: requested language, else en, ru, kk.")
    lang: str | None = Field(description="The language of the resolved bio.")
    translations: ProfileTranslations
    city: str
    country: str
    crafts: list[Annotated[Craft, Strict(False)]]
    since_year: int | None
    lineage: str | None
    processing_days: int
    counts: ProfileCounts
    member_since: Timestamp


class CraftOut(OutModel):
    code: Craft = Field(strict=False)
    hs_code: str
    name: str
    names: TextOut


class CraftList(OutModel):
    items: list[CraftOut]


class TariffOut(OutModel):
    id: str = Field(description="The key of `tariff_codes` (EU, US, GB, ...).")
    name: str
    lengths: list[int] = Field(description="The numbers of digits a code of it may have.")
    countries: list[str] = Field(description="Destinations whose customs use it.")
    source: str
    legal_reference: str
    confirmed: bool
    note: str | None


class TariffList(OutModel):
    items: list[TariffOut]
