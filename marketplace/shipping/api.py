from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from marketplace.catalog.models import Product
from marketplace.checkout.service import cart_items_for_quote
from marketplace.edge import load_json
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.http import (
    MalformedRequest,
    attachment,
    auth_required,
    current_user,
    json_body,
    parse_model,
    query_args,
    raw_body,
    responds,
)
from marketplace.orders.schemas import FulfilmentOut, fulfilment_out
from marketplace.schemas import build
from marketplace.shipping import packing, parcels, returns, service, tracking
from marketplace.shipping.schemas import (
    CarrierEventIn,
    CarrierEventOut,
    CustomsDeclarationOut,
    DestinationOut,
    DutiesOut,
    EtaDaysOut,
    ExportPermitIn,
    OptionOut,
    PackedIn,
    ParcelOut,
    QuoteIn,
    QuoteOut,
    ShipmentAcceptedOut,
    ShipmentOut,
    ShipmentRequestIn,
    TaxReturnOut,
    TaxReturnQuery,
    UnavailableOut,
    shipment_out,
)

bp = Blueprint("shipping", __name__, url_prefix="/api/v1")


def _cart_items(user) -> list[tuple[Product, int]]:
    if user is None:
        raise ValidationFailed("Give the items to quote.", errors={"items": ["required"]})
    items = cart_items_for_quote(user.id)
    if not items:
        raise ValidationFailed("The cart is empty.", errors={"items": ["the cart is empty"]})
    return items


def _requested_items(body: QuoteIn) -> list[tuple[Product, int]]:
    ids = {item.product_id for item in body.items}
    products = {p.id: p for p in db.session.execute(
        select(Product).where(Product.id.in_(ids))).scalars()}
    missing = {f"items.{i}.product_id": ["unknown product"]
               for i, item in enumerate(body.items) if item.product_id not in products}
    if missing:
        raise ValidationFailed("Some products do not exist.", errors=missing)
    return [(products[item.product_id], item.quantity) for item in body.items]


def option_out(option: service.QuoteOption) -> dict:
    return build(
        OptionOut, id=option.id, service=option.service, service_name=option.service_name,
        carrier=option.carrier, amount=option.amount.to_dict(),
        eta_days=EtaDaysOut(min=option.eta_min_days, max=option.eta_max_days),
        chargeable_weight_g=option.chargeable_weight_g,
        duties=DutiesOut(mode="DDP", modes=list(option.duties.modes_allowed),
                         regime=option.duties.regime,
                         modes_allowed=list(option.duties.modes_allowed),
                         estimate=option.duties.total.to_dict(),
                         breakdown=option.duties.to_dict()),
    )


@bp.post("/shipping/quotes")
@json_body(QuoteIn)
@responds(QuoteOut)
def create_quote(body: QuoteIn):
    """Shipping options with delivery days and import duties for one parcel (or the cart)."""
    user = current_user()
    items = _requested_items(body) if body.items else _cart_items(user)
    currency = body.currency or (user.currency if user is not None else "USD")
    result = service.quote(body.destination.country, body.destination.postal_code, items,
                           currency)
    parcel = result.parcel
    return build(
        QuoteOut,
        destination=DestinationOut(country=result.destination.country,
                                   postal_code=result.destination.postal_code),
        currency=result.currency,
        parcel=ParcelOut(items_weight_g=parcel.items_weight_g, packaging_g=parcel.packaging_g,
                         volumetric_weight_g=parcel.volumetric_weight_g,
                         chargeable_weight_g=parcel.chargeable_weight_g),
        options=[option_out(option) for option in result.options],
        unavailable=[UnavailableOut(service=u.service, carrier=u.carrier, reason=u.reason)
                     for u in result.unavailable],
        expires_in_seconds=service.option_ttl(),
    )


@bp.post("/fulfilments/<fulfilment_id>/packed")
@auth_required()
@json_body(PackedIn)
@responds(FulfilmentOut)
def mark_packed(fulfilment_id: str, body: PackedIn):
    """The artisan's box is packed: its weight (packaging included) and outer size."""
    size = body.dimensions_mm
    fulfilment = packing.pack_fulfilment(fulfilment_id, current_user(), weight_g=body.weight_g,
                                           length_mm=size.l, width_mm=size.w, height_mm=size.h)
    return fulfilment_out(fulfilment)


@bp.post("/operator/shipments")
@auth_required("operator")
@json_body(ShipmentRequestIn)
@responds(ShipmentAcceptedOut, 202)
def request_shipment(body: ShipmentRequestIn):
    """Make the order's parcel; a worker buys the label and makes the customs papers."""
    shipment = parcels.request_shipment(body.order_id, current_user())
    return build(ShipmentAcceptedOut, id=shipment.id, status=shipment.status), 202


@bp.post("/operator/shipments/<shipment_id>/export-permit")
@auth_required("operator")
@json_body(ExportPermitIn)
@responds(ShipmentAcceptedOut, 202)
def record_export_permit(shipment_id: str, body: ExportPermitIn):
    """Record the export permit of a parcel held for a cultural-value piece; releases it."""
    shipment = parcels.record_export_permit(
        shipment_id, current_user(), permit_number=body.permit_number,
        issued_by=body.issued_by, issued_at=body.issued_at)
    return build(ShipmentAcceptedOut, id=shipment.id, status=shipment.status), 202


@bp.get("/shipments/<shipment_id>")
@auth_required()
@responds(ShipmentOut)
def get_shipment(shipment_id: str):
    """The parcel: status, carrier, tracking number and its tracking events."""
    user = current_user()
    return shipment_out(parcels.visible_shipment(shipment_id, user), user)


def _pdf(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/shipments/<shipment_id>/label.pdf")
@auth_required()
@responds(media_types=("application/pdf",))
def get_label(shipment_id: str):
    """The shipping label with its Code 128 tracking barcode (operators)."""
    pdf = parcels.shipment_paper(shipment_id, current_user(), "label")
    return _pdf(pdf, f"label-{shipment_id}.pdf")


@bp.get("/shipments/<shipment_id>/customs.pdf")
@auth_required()
@responds(media_types=("application/pdf",))
def get_customs(shipment_id: str):
    """The customs declaration (CN 22, or CN 23 with the commercial invoice) (operators)."""
    pdf = parcels.shipment_paper(shipment_id, current_user(), "customs")
    return _pdf(pdf, f"customs-{shipment_id}.pdf")


@bp.get("/shipments/<shipment_id>/customs.json")
@auth_required()
@responds(CustomsDeclarationOut)
def get_customs_data(shipment_id: str):
    """The customs declaration as data: item-level HS6, description, quantity, weight, value,
    origin, sender, addressee, importer reference (the ITMATT / EU ICS2 postal data set);
    valid against data/schemas/customs-declaration.schema.json (operators)."""
    return build(CustomsDeclarationOut,
                 **parcels.customs_declaration(shipment_id, current_user()))


def _tax_return(query: TaxReturnQuery) -> dict:
    registration = current_app.config.get(returns.SCHEME_SETTING[query.scheme])
    return returns.tax_return(query.scheme, query.period, registration)


def _tax_return_csv(report: dict) -> Response:
    return attachment(returns.to_csv(report), f'{report["scheme"]}-{report["period"]}.csv',
                      "text/csv; charset=utf-8")


@bp.get("/operator/tax/returns")
@auth_required("operator")
@query_args(TaxReturnQuery)
@responds(TaxReturnOut, alternatives=("text/csv",))
def get_tax_return(query: TaxReturnQuery):
    """The figures of a point-of-sale scheme's return (scheme IOSS, UK, AU, NZ, NO, CH or SG;
    period 2026-11 or 2026-Q4): per destination and rate, taxable amount and tax collected,
    net of refunds in the period, in the scheme's currency. ``format=csv`` (or returns.csv):
    the same as CSV."""
    report = _tax_return(query)
    if query.format == "csv":
        return _tax_return_csv(report)
    return build(TaxReturnOut, **report)


@bp.get("/operator/tax/returns.csv")
@auth_required("operator")
@query_args(TaxReturnQuery)
@responds(media_types=("text/csv",))
def get_tax_return_csv(query: TaxReturnQuery):
    """The tax return as CSV (one row per destination and rate; amounts in major units)."""
    return _tax_return_csv(_tax_return(query))


@bp.post("/carriers/<carrier>/events")
@raw_body(CarrierEventIn, validated=True)
@responds(CarrierEventOut)
def carrier_event(carrier: str):
    """A carrier's tracking event, signed with X-Carrier-Signature (401 when it does not hold)."""
    raw = request.get_data(cache=False)
    tracking.verify_carrier_signature(carrier, raw,
                                       request.headers.get("X-Carrier-Signature"))
    data = load_json(raw)
    if not isinstance(data, dict):
        raise MalformedRequest("The body must be a JSON object.")
    event = parse_model(CarrierEventIn, data)
    shipment, duplicate = tracking.record_carrier_event(
        carrier, event_id=event.id, tracking_number=event.tracking_number, status=event.status,
        occurred_at=event.occurred_at, location=event.location, description=event.description)
    return build(CarrierEventOut, received=True, duplicate=duplicate, shipment_id=shipment.id,
                 status=shipment.status)
