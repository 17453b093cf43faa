"""Request and response models of favourites, reviews, conversations and commissions."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from marketplace.catalog.models import Craft
from marketplace.catalog.schemas import DimensionsIn, LongText, MoneyIn, TitleText, VariantOut
from marketplace.community.models import CommissionStatus
from marketplace.money import MAX_AMOUNT, PRESENTMENT_CURRENCIES
from marketplace.schemas import Day, MoneyOut, OutModel, Timestamp

LANGUAGES = ("en", "ru", "kk", "de", "fr", "es", "it", "tr", "ja", "zh", "ko", "ar", "he")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- reviews ---

class ReviewIn(_In):
    rating: StrictInt = Field(ge=1, le=5, description="Stars, 1 to 5.")
    text: str = Field("", max_length=4000)
    language: str = Field("en", description=f"The language written in: {', '.join(LANGUAGES)}.")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.lower()
        if value not in LANGUAGES:
            raise ValueError(f"one of {', '.join(LANGUAGES)}")
        return value


class ReplyIn(_In):
    text: str = Field(min_length=1, max_length=4000)


class HideIn(_In):
    reason: str = Field(min_length=3, max_length=1000, description="Why it is hidden.")


class ReviewReplyOut(OutModel):
    text: str
    replied_at: Timestamp


class ReviewPhotoOut(OutModel):
    url: str | None = Field(description="The JPEG every browser shows (about 1280 px).")
    width: int | None
    height: int | None
    variants: list[VariantOut] = Field(description="Every stored size, WebP and JPEG, "
                                                  "metadata-free.")


class ReviewOut(OutModel):
    id: str
    product_id: str
    order_line_id: str = Field(None, description="Shown to the author, the workshop, operators.")
    author_name: str = Field(description="The reviewer's first name.")
    rating: int
    text: str
    language: str
    photos: list[str] = Field(description="URLs of the review's photos.")
    images: list[ReviewPhotoOut] = Field(None, description="The photos with their sizes.")
    reply: ReviewReplyOut | None
    hidden: bool = Field(None, description="Operators only: hidden from pages.")
    hidden_reason: str | None = Field(None)
    created_at: Timestamp


class ReviewSummaryOut(OutModel):
    count: int
    average: float | None = Field(strict=False, description="One decimal; null without reviews.")


class ReviewListOut(OutModel):
    summary: ReviewSummaryOut
    items: list[ReviewOut]


class ReviewListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lang: str | None = Field(None, description="Reviews in this language first.")


# --- favourites ---

class FavouriteOut(OutModel):
    product_id: str
    saved: bool
    saved_by: int = Field(description="How many buyers saved the piece.")


# --- conversations ---

class ConversationIn(_In):
    body: str = Field(min_length=1, max_length=4000)
    product_id: str | None = Field(None, max_length=26)
    order_id: str | None = Field(None, max_length=26)
    artisan_id: str | None = Field(None, max_length=26)
    subject: str | None = Field(None, max_length=200)


class MessageIn(_In):
    body: str = Field(min_length=1, max_length=4000)


class ReportIn(_In):
    reason: str = Field(min_length=3, max_length=1000)


class MessageOut(OutModel):
    id: str
    sender_id: str
    sender: str = Field(description="buyer or workshop")
    body: str
    created_at: Timestamp


class CommissionOut(OutModel):
    id: str
    conversation_id: str
    buyer_id: str
    artisan_id: str
    description: str
    budget: MoneyOut | None
    wanted_by: Day | None
    status: CommissionStatus = Field(strict=False)
    offer_price: MoneyOut | None
    offer_making_days: int | None
    offer_note: str | None
    ready_by: Day | None = Field(description="Accepted offer: the date the making time ends.")
    product_id: str | None = Field(description="The one-off listing, once the offer is accepted.")
    created_at: Timestamp
    updated_at: Timestamp


class ConversationSummaryOut(OutModel):
    id: str
    buyer_id: str
    artisan_id: str
    workshop_name: str
    buyer_name: str
    product_id: str | None
    order_id: str | None
    subject: str
    reported: bool
    last_message_at: Timestamp


class ConversationOut(ConversationSummaryOut):
    messages: list[MessageOut]
    commissions: list[CommissionOut]
    report_reason: str | None = Field(None)


class ConversationListOut(OutModel):
    items: list[ConversationSummaryOut]


# --- commissions ---

class BudgetIn(_In):
    amount: StrictInt = Field(gt=0, lt=MAX_AMOUNT, description="Minor units.")
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.upper()
        if value not in PRESENTMENT_CURRENCIES:
            raise ValueError(f"one of {', '.join(PRESENTMENT_CURRENCIES)}")
        return value


class CommissionIn(_In):
    artisan_id: str = Field(max_length=26)
    description: str = Field(min_length=10, max_length=4000,
                             description="What to make: size, colours, materials, purpose.")
    budget: BudgetIn | None = None
    wanted_by: date | None = None
    conversation_id: str | None = Field(None, max_length=26)

    @field_validator("wanted_by")
    @classmethod
    def _future(cls, value: date | None) -> date | None:
        if value is not None and value <= date.today():
            raise ValueError("must be a date after today")
        return value


class OfferIn(_In):
    title: TitleText
    description: LongText | None = None
    craft: Craft
    price: MoneyIn = Field(description="In the workshop's listing currency.")
    making_days: StrictInt = Field(ge=1, le=365)
    weight_g: StrictInt = Field(ge=1, le=100_000)
    dimensions_mm: DimensionsIn
    materials: list[str] = Field(default_factory=list, max_length=20)
    techniques: list[str] = Field(default_factory=list, max_length=20)
    note: str = Field("", max_length=2000)
