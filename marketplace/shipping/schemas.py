from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.ids import isoformat
from marketplace.orders.models import Order, Shipment, ShipmentStatus
from marketplace.orders.schemas import DateWindowOut, ShipmentSummaryOut, shipment_summary_out
from marketplace.schemas import DimensionsOut, EtaDaysOut, MoneyOut, OutModel, Timestamp, build
from marketplace.shipping import carriers, progress
from marketplace.shipping.carriers import TrackingStatus
from marketplace.shipping.packing import (
    MAX_PACKED_SIDE_MM,
    MAX_PACKED_WEIGHT_G,
)
from marketplace.shipping.service import MAX_LINES, MAX_QUANTITY
from marketplace.validation import CountryCode, PresentmentCurrency

QuoteMoneyOut = MoneyOut


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    country: CountryCode = Field(description="ISO 3166-1 alpha-2")
    postal_code: str | None = Field(default=None, max_length=12)


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
    currency: PresentmentCurrency | None = Field(
        default=None, description="Presentment currency; default: the signed-in user's "
        "currency, else USD.")


class DutyLineOut(OutModel):
    hs_code: str = Field(description=(
        "What the destination's customs classify the line by and duty was looked up by: the "
        "product's national tariff code there (e.g. an EU CN 8 / TARIC 10) where it has one, "
        "else its HS code."))
    quantity: int
    value: QuoteMoneyOut = Field(description="Goods, in the destination's currency.")
    customs_value: QuoteMoneyOut = Field(description="What duty is charged on (with freight "
                                         "where the destination values CIF).")
    rate: str = Field(description="Duty rate applied (0 where relieved or flat).")
    vat_rate: str
    duty: QuoteMoneyOut = Field(description="In the quote's currency; lines add up to duty.")
    vat: QuoteMoneyOut = Field(description="In the quote's currency; lines add up to vat.")
    duty_local: QuoteMoneyOut
    vat_local: QuoteMoneyOut
    taxable_local: QuoteMoneyOut | None = Field(
        description="What the point-of-sale VAT/GST was charged on (goods + delivery).")
    taxable: QuoteMoneyOut | None = Field(
        None, description="The same in the quote's currency (lines add up).")


class RuleRefOut(OutModel):
    rule: str
    source: str
    legal_reference: str
    valid_from: str
    valid_to: str | None
    confirmed: bool
    note: str | None = None


class DutyBreakdownOut(OutModel):
    country: str
    regime: str = Field(description="Who collects: a point-of-sale scheme (IOSS, UK, AU, NZ, "
                        "NO, CH, SG), 'customs' (the border), 'customs_union' or 'domestic'.")
    modes_allowed: list[Literal["DDP", "DAP"]]
    collector: Literal["marketplace", "carrier", "none"]
    scheme_number: str | None
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
    carrier_fee: QuoteMoneyOut | None = Field(description="The carrier's handling fee on DAP.")
    carrier_fee_local: QuoteMoneyOut | None
    carrier: str | None
    payable_on_delivery: QuoteMoneyOut = Field(description="What the buyer pays the carrier "
                                               "under DAP (duty + VAT + fee).")
    lines: list[DutyLineOut]
    notes: list[str]
    rules: list[RuleRefOut] = Field(description="The rules applied, with source and dates.")
    on: str | None


class DutiesOut(OutModel):
    mode: Literal["DDP", "DAP"] = Field(
        description="Suggested mode; the buyer picks one of modes at checkout.")
    modes: list[Literal["DDP", "DAP"]] = Field(description="Modes the law allows for this "
                                               "parcel (DDP only under a point-of-sale scheme).")
    regime: str
    modes_allowed: list[Literal["DDP", "DAP"]]
    estimate: QuoteMoneyOut
    breakdown: DutyBreakdownOut


class OptionOut(OutModel):
    id: str = Field(description="Opaque signed token; pass it to checkout as shipping_option.")
    service: str
    service_name: str
    carrier: str
    amount: QuoteMoneyOut
    eta_days: EtaDaysOut
    chargeable_weight_g: int
    duties: DutiesOut


class UnavailableOut(OutModel):
    service: str
    carrier: str
    reason: str


class ParcelOut(OutModel):
    items_weight_g: int
    packaging_g: int
    volumetric_weight_g: int
    chargeable_weight_g: int


class DestinationOut(OutModel):
    country: str
    postal_code: str | None


class QuoteOut(OutModel):
    destination: DestinationOut
    currency: str
    parcel: ParcelOut
    options: list[OptionOut]
    unavailable: list[UnavailableOut]
    expires_in_seconds: int


# --- customs declaration as data ------------------------------------------------------------

class CustomsPartyOut(OutModel):
    name: str
    business: str | None
    street: str
    street2: str | None
    postcode: str | None
    city: str
    region: str | None
    country: str
    phone: str | None
    email: str | None


class CustomsItemOut(OutModel):
    sequence: int
    description: str
    quantity: int
    net_weight_g: int
    value: MoneyOut
    hs_code: str = Field(description="HS 2022 subheading, 6 digits")
    tariff_code: str = Field(description=(
        "6 to 10 digits: the destination's national tariff code where the product has one "
        "(`tariff` names the tariff), else its HS code"))
    tariff: str | None = Field(description=(
        "The national tariff `tariff_code` belongs to (EU, US, GB, ...; GET /api/v1/tariffs); "
        "null when it is the HS code"))
    origin_country: str
    materials: list[str]


class CustomsDeclarationOut(OutModel):
    form: Literal["CN22", "CN23"]
    item_id: str | None
    reference: str
    service: str
    service_kind: Literal["postal", "courier"]
    carrier: str | None
    category: Literal["gift", "documents", "commercial_sample", "returned_goods",
                      "sale_of_goods", "other"]
    category_explanation: str | None
    incoterm: Literal["DDP", "DAP"]
    currency: str
    total_value: MoneyOut
    postage: MoneyOut
    gross_weight_g: int
    net_weight_g: int
    date_of_posting: str
    office_of_origin: str
    non_delivery: Literal["return", "abandon"]
    invoice_number: str
    licence_numbers: list[str]
    certificate_numbers: list[str]
    export_permit: str | None
    importer_reference: str | None
    sender_customs_reference: str | None
    exporter_bin: str | None
    sender: CustomsPartyOut
    addressee: CustomsPartyOut
    items: list[CustomsItemOut]


# --- tax returns -----------------------------------------------------------------------------

# A month or a quarter of a year from 2000 (no return before the marketplace) to 9998 (the
# period's end stays within datetime's years); groups: the year, the month, the quarter.
PERIOD_PATTERN = r"^([2-8]\d{3}|9[0-8]\d{2}|99[0-8]\d|999[0-8])-(?:(0[1-9]|1[0-2])|Q([1-4]))$"


class TaxReturnQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scheme: Literal["IOSS", "UK", "AU", "NZ", "NO", "CH", "SG"]
    period: str = Field(pattern=PERIOD_PATTERN,
                        description="A month (2026-11) or a quarter (2026-Q4), from 2000 to 9998.")
    format: Literal["json", "csv"] = Field("json", description=(
        "json, or csv: the same return as CSV (as /operator/tax/returns.csv)."))

    @field_validator("scheme", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value


class TaxReturnRowOut(OutModel):
    country: str
    vat_rate: str
    orders: int
    taxable_amount: MoneyOut
    tax_collected: MoneyOut
    refunded_taxable_amount: MoneyOut
    refunded_tax: MoneyOut
    net_taxable_amount: MoneyOut
    net_tax: MoneyOut
    fx_rates: list[str] = Field(description=(
        "Conversions made into the scheme's currency: rate, the day it was published for "
        "(and the day the rule named, if another), source."))


class TaxReturnRateRuleOut(OutModel):
    rate_date: Literal["period_end", "supply_date"] = Field(description=(
        "The day whose exchange rate converts: the period's last day, or the day of supply "
        "(the order's payment)."))
    if_unpublished: Literal["next", "previous"] = Field(description=(
        "On a day without a published rate: the next day of publication, or the latest "
        "before it."))
    publisher: str
    source: str
    legal_reference: str
    valid_from: str
    valid_to: str | None
    confirmed: bool
    note: str | None


class TaxReturnOut(OutModel):
    scheme: Literal["IOSS", "UK", "AU", "NZ", "NO", "CH", "SG"]
    period: str
    registration_number: str | None
    start: str
    end: str = Field(description="First day after the period.")
    currency: str
    rows: list[TaxReturnRowOut]
    total_net_taxable_amount: MoneyOut
    total_net_tax: MoneyOut
    fx_rule: TaxReturnRateRuleOut = Field(description=(
        "Which exchange rate the scheme's return converts at (data/tax/return_rates.json)."))


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


class ShipmentAcceptedOut(OutModel):
    id: str
    status: ShipmentStatus = Field(strict=False)


class ShipmentEventOut(OutModel):
    status: ShipmentStatus = Field(strict=False)
    occurred_at: Timestamp
    location: str
    description: str
    source: str = Field(description="label, webhook or poll.")
    place: str = Field("", description="The location as a reader names it (a country code "
                                       "becomes the country's name in the viewer's language).")
    local_time: str = Field("", description="When it happened, in the place's local time "
                                            "(ISO 8601 with its UTC offset).")
    time_zone: str = Field("", description="The IANA zone of local_time.")


class ShipmentParcelOut(OutModel):
    weight_g: int
    dimensions_mm: DimensionsOut


class ExportPermitOut(OutModel):
    permit_number: str
    issued_by: str | None
    issued_at: Timestamp | None


class ShipmentOut(ShipmentSummaryOut):
    order_id: str
    duties_mode: Literal["DDP", "DAP"]
    customs_form: str | None = Field(description="CN22 or CN23 once the papers exist.")
    parcel: ShipmentParcelOut
    label_created_at: Timestamp | None
    events: list[ShipmentEventOut]
    carrier_name: str = Field("", description="The carrier's public name.")
    tracking_url: str | None = Field(None, description="The carrier's own tracking page.")
    expected_delivery: DateWindowOut | None = Field(
        None, description="From the day the carrier had the parcel plus the service's days; "
                          "before that, the window promised at checkout.")
    export_permit: ExportPermitOut | None = Field(None, description="Operators only.")
    last_error: str | None = Field(None, description="Operators only.")
    label_url: str = Field(None, description="Operators only, once there is a label.")
    customs_url: str = Field(None, description="Operators only, once there is a label.")


class CarrierEventOut(OutModel):
    received: bool
    duplicate: bool
    shipment_id: str
    status: ShipmentStatus = Field(strict=False)


def shipment_out(shipment: Shipment, viewer: User, language: str | None = None) -> dict:
    order = db.session.get(Order, shipment.order_id)
    destination = (order.shipping_address or {}).get("country") if order else None
    language = language or viewer.locale or "en"
    scans = [(e, progress.scan_view(e, destination, language)) for e in shipment.events]
    eta_from, eta_to = progress.expected_window(order, shipment) if order else (None, None)
    body = {
        **shipment_summary_out(shipment),
        "order_id": shipment.order_id,
        "duties_mode": shipment.duties_mode,
        "customs_form": shipment.customs_form,
        "parcel": ShipmentParcelOut(
            weight_g=shipment.weight_g,
            dimensions_mm=DimensionsOut(l=shipment.length_mm, w=shipment.width_mm,
                                        h=shipment.height_mm)),
        "label_created_at": isoformat(shipment.label_created_at),
        "events": [ShipmentEventOut(status=e.status, occurred_at=isoformat(e.occurred_at),
                                    location=e.location, description=e.description,
                                    source=e.source, place=scan.place,
                                    local_time=scan.local_time.isoformat(timespec="seconds"),
                                    time_zone=scan.zone)
                   for e, scan in scans],
        "carrier_name": carriers.carrier_info(shipment.carrier).name,
        "tracking_url": carriers.tracking_url(shipment.carrier, shipment.tracking_number,
                                              current_app.config["PUBLIC_URL"]),
        "expected_delivery": DateWindowOut(**{"from": eta_from.isoformat(),
                                              "to": eta_to.isoformat()}) if eta_from else None,
    }
    if viewer.role == Role.OPERATOR:
        body["export_permit"] = None if shipment.permit_number is None else ExportPermitOut(
            permit_number=shipment.permit_number, issued_by=shipment.permit_issued_by,
            issued_at=isoformat(shipment.permit_issued_at))
        body["last_error"] = shipment.last_error
        if shipment.tracking_number:
            body["label_url"] = f"/api/v1/shipments/{shipment.id}/label.pdf"
            body["customs_url"] = f"/api/v1/shipments/{shipment.id}/customs.pdf"
    return build(ShipmentOut, **body)
