from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketplace.checkout.service import MAX_CART_QUANTITY
from marketplace.orders.models import OrderStatus
from marketplace.orders.schemas import OrderOut
from marketplace.schemas import JsonValue, MoneyOut, OutModel, TextOut, Timestamp
from marketplace.validation import (
    PostalAddress,
    PresentmentCurrency,
    email_address,
    presentment_currency,
)

_PAYMENT_METHOD = re.compile(r"pm_[A-Za-z0-9_]{1,200}")


class CartItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_id: str = Field(min_length=1, max_length=26)
    quantity: int = Field(strict=True, ge=1, le=MAX_CART_QUANTITY)


class CartItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(strict=True, ge=1, le=MAX_CART_QUANTITY)


class CartQuery(BaseModel):
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        return presentment_currency(value) if value else None


class CartItemOut(OutModel):
    id: str
    product_id: str
    title: TextOut
    quantity: int
    available: int
    unit_price: MoneyOut
    display_unit_price: MoneyOut
    display_line_total: MoneyOut


class CartOut(OutModel):
    id: str | None = Field(description="null until the first piece is added.")
    currency: str
    items: list[CartItemOut]
    subtotal: MoneyOut


class AddressIn(PostalAddress):
    """The delivery address of an order (``marketplace.validation.PostalAddress``)."""


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    shipping_address: AddressIn | None = None
    shipping_option: str = Field(min_length=1, max_length=2000)
    currency: PresentmentCurrency = Field(min_length=3, max_length=3)
    duties_mode: Literal["DDP", "DAP"]
    email: str | None = Field(default=None, max_length=254, description=(
        "A guest's address (required when checking out with a guest token): the receipt and "
        "the order's link go there."))
    address_id: str | None = Field(default=None, max_length=26, description=(
        "Not used with shipping_address: one of the buyer's saved addresses."))

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return email_address(value) if value else None


class PaymentOut(OutModel):
    provider: Literal["stripe"]
    payment_intent_id: str
    client_secret: str
    publishable_key: str


class CheckoutOut(OutModel):
    order: OrderOut
    payment: PaymentOut
    reservation_expires_at: Timestamp = Field(description="The stock is held until then.")


class PayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payment_method: str = Field(min_length=4, max_length=203)

    @field_validator("payment_method")
    @classmethod
    def _payment_method(cls, value: str) -> str:
        if not _PAYMENT_METHOD.fullmatch(value):
            raise ValueError("must be a Stripe PaymentMethod id (pm_...)")
        return value


class NextActionOut(OutModel):
    """What Stripe.js must do to finish the payment (3-D Secure), as Stripe gives it."""

    # the details are Stripe.js's own data: Stripe documents their shape as for Stripe.js only
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JsonValue]

    type: str = Field(description="use_stripe_sdk or redirect_to_url; the object of that name "
                                  "holds the details.")


class PaymentErrorOut(OutModel):
    code: str | None
    decline_code: str | None
    message: str | None


class OrderRefOut(OutModel):
    id: str
    status: OrderStatus = Field(strict=False)


class PayOut(OutModel):
    status: Literal["succeeded", "requires_action", "processing", "failed"]
    payment_intent_id: str
    client_secret: str
    next_action: NextActionOut | None = Field(None)
    error: PaymentErrorOut | None = Field(None)
    order: OrderRefOut


class StripeEventDataIn(BaseModel):
    object: dict[str, JsonValue] = Field(description="The API object the event is about (a "
                                                     "PaymentIntent, a Charge, a Dispute...).")
    previous_attributes: dict[str, JsonValue] | None = Field(
        None, description="On *.updated events: the changed fields' former values.")


class StripeEventIn(BaseModel):
    """A Stripe Event as Stripe posts it, signed in the Stripe-Signature header; the receiver
    needs its id and type (its other fields depend on the account's API version)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JsonValue]

    id: str = Field(description="evt_...")
    type: str = Field(description="payment_intent.succeeded, charge.refunded, ...")
    object: Literal["event"] | None = None
    api_version: str | None = None
    created: int | None = Field(None, description="Unix time")
    livemode: bool | None = None
    data: StripeEventDataIn | None = None


class WebhookOut(OutModel):
    received: bool
    event_id: str
    duplicate: bool
    outcome: str = Field(description="What the event did; queued until a worker applied it.")
