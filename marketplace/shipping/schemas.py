from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from marketplace.accounts.models import Role, User
from marketplace.ids import isoformat
from marketplace.orders.models import Shipment
from marketplace.orders.schemas import shipment_summary_out
from marketplace.shipping.carriers import TrackingStatus
from marketplace.shipping.service import MAX_LINES, MAX_QUANTITY
from marketplace.shipping.shipments import (
    MAX_PACKED_SIDE_MM,
    MAX_PACKED_WEIGHT_G,
)
from marketplace.validation import country_code, presentment_currency


class QuoteMoneyOut(BaseModel):
    amount: int
    currency: str


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    postal_code: str | None = Field(default=None, max_length=12)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return country_code(value)


class QuoteItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_id: str = Field(min_length=1, max_length=26)
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    destination: DestinationIn
    items: list[QuoteItemIn] | None = Field(
        default=None, max_length=MAX_LINES,
        description="Omit (as a signed-in buyer) to quote the cart.")
    currency: str | None = Field(default=None, description="Presentment currency; default: "
                                 "the signed-in user's currency, else USD.")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return presentment_currency(value)


class EtaDaysOut(BaseModel):
    min: int
    max: int


class DutyLineOut(BaseModel):
    hs_code: str
    value: QuoteMoneyOut
    rate: str


class DutyBreakdownOut(BaseModel):
    country: str
    regime: str
    currency: str
    goods_value: QuoteMoneyOut
    customs_value: QuoteMoneyOut
    duty: QuoteMoneyOut
    vat: QuoteMoneyOut
    duty_local: QuoteMoneyOut
    vat_local: QuoteMoneyOut
    vat_rate: str
    duty_exempt: bool
    vat_exempt: bool
    lines: list[DutyLineOut]
    notes: list[str]


class DutiesOut(BaseModel):
    mode: str = Field(description="Suggested mode; the buyer picks DDP or DAP at checkout.")
    modes: list[str]
    estimate: QuoteMoneyOut
    breakdown: DutyBreakdownOut


class OptionOut(BaseModel):
    id: str = Field(description="Opaque signed token; pass it to checkout as shipping_option.")
    service: str
    service_name: str
    carrier: str
    amount: QuoteMoneyOut
    eta_days: EtaDaysOut
    chargeable_weight_g: int
    duties: DutiesOut


class UnavailableOut(BaseModel):
    service: str
    carrier: str
    reason: str


class ParcelOut(BaseModel):
    items_weight_g: int
    packaging_g: int
    volumetric_weight_g: int
    chargeable_weight_g: int


class QuoteOut(BaseModel):
    destination: dict
    currency: str
    parcel: ParcelOut
    options: list[OptionOut]
    unavailable: list[UnavailableOut]
    expires_in_seconds: int


# --- packing, shipments, tracking ------------------------------------------------------------

class DimensionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    l: StrictInt = Field(ge=1, le=MAX_PACKED_SIDE_MM, description="millimetres")  # noqa: E741
    w: StrictInt = Field(ge=1, le=MAX_PACKED_SIDE_MM, description="millimetres")
    h: StrictInt = Field(ge=1, le=MAX_PACKED_SIDE_MM, description="millimetres")


class PackedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight_g: StrictInt = Field(ge=1, le=MAX_PACKED_WEIGHT_G,
                                description="The packed box, packaging included.")
    dimensions_mm: DimensionsIn


class FulfilmentOut(BaseModel):
    id: str
    artisan_id: str
    status: str
    ship_by: str | None
    packed: dict | None
    shipped_at: str | None
    delivered_at: str | None


class ShipmentRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: str = Field(min_length=1, max_length=26)


class ExportPermitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    permit_number: str = Field(min_length=1, max_length=64)
    issued_by: str = Field(min_length=1, max_length=200)
    issued_at: datetime = Field(description="ISO 8601 date or date-time (UTC if no offset).")


class CarrierEventIn(BaseModel):
    """A carrier's tracking event; fields we do not use are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=100, description="The carrier's event id.")
    tracking_number: str = Field(min_length=1, max_length=40)
    status: TrackingStatus
    occurred_at: datetime
    location: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=500)


class ShipmentAcceptedOut(BaseModel):
    id: str
    status: str


class ShipmentEventOut(BaseModel):
    status: str
    occurred_at: str
    location: str
    description: str
    source: str


class ShipmentOut(BaseModel):
    id: str
    order_id: str
    status: str
    carrier: str
    service: str
    tracking_number: str | None
    duties_mode: str
    customs_form: str | None
    parcel: dict
    events: list[ShipmentEventOut]


class CarrierEventOut(BaseModel):
    received: bool
    duplicate: bool
    shipment_id: str
    status: str


def shipment_out(shipment: Shipment, viewer: User) -> dict:
    body = {
        **shipment_summary_out(shipment),
        "order_id": shipment.order_id,
        "duties_mode": shipment.duties_mode,
        "customs_form": shipment.customs_form,
        "parcel": {"weight_g": shipment.weight_g,
                   "dimensions_mm": {"l": shipment.length_mm, "w": shipment.width_mm,
                                     "h": shipment.height_mm}},
        "label_created_at": isoformat(shipment.label_created_at),
        "events": [{"status": e.status, "occurred_at": isoformat(e.occurred_at),
                    "location": e.location, "description": e.description, "source": e.source}
                   for e in shipment.events],
    }
    if viewer.role == Role.OPERATOR:
        body["export_permit"] = None if shipment.permit_number is None else {
            "permit_number": shipment.permit_number, "issued_by": shipment.permit_issued_by,
            "issued_at": isoformat(shipment.permit_issued_at)}
        body["last_error"] = shipment.last_error
        if shipment.tracking_number:
            body["label_url"] = f"/api/v1/shipments/{shipment.id}/label.pdf"
            body["customs_url"] = f"/api/v1/shipments/{shipment.id}/customs.pdf"
    return body
