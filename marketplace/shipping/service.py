"""Shipping rules: parcels, quotes with duties, signed options that checkout re-prices.

Quoting and re-pricing only read: they never commit, so checkout may call them inside its own
transaction.

Public functions for other domains: ``quote``, ``resolve_option``, ``served_countries``,
``estimate_duties``, ``customs_form_for``, ``rate_table``, ``set_rate``, ``clear_rate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from marketplace.catalog.models import Product, ProductStatus
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.fx import service as fx
from marketplace.geo import is_country
from marketplace.ids import utcnow
from marketplace.money import MAX_AMOUNT, PRESENTMENT_CURRENCIES, Money
from marketplace.shipping import carriers, papers
from marketplace.shipping.duties import DutyEstimate, destinations
from marketplace.shipping.duties import estimate as _estimate
from marketplace.shipping.models import ShippingRateOverride
from marketplace.shipping.rates import (
    Destination,
    Parcel,
    RateTable,
    duties_file,
    effective_rates,
    rate_table_of,
    rates_file,
)
from marketplace.transaction import use_case

DUTIES_MODES = ("DDP", "DAP")
MAX_QUANTITY = 100  # pieces of one product in one parcel
MAX_LINES = 50
MAX_PIECE_WEIGHT_G = 200_000
MAX_PIECE_SIDE_MM = 5_000
DEFAULT_OPTION_TTL_SECONDS = 3600
_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,11}")


class ShippingOptionStale(Conflict):
    type = "shipping-option-stale"
    title = "The shipping option is out of date"


class ShippingOptionMismatch(Conflict):
    type = "shipping-option-mismatch"
    title = "The shipping option does not match this order"


@dataclass(frozen=True)
class HsLine:
    product_id: str
    hs_code: str
    quantity: int
    value: Money  # listing price x quantity, in the listing currency
    tariff_code: str | None = None  # the destination's national code, when the product has one

    @property
    def customs_code(self) -> str:
        """What the destination's customs classify the line by (and duty is looked up by)."""
        return self.tariff_code or self.hs_code


@dataclass(frozen=True)
class QuoteOption:
    id: str
    service: str
    service_name: str
    carrier: str
    amount: Money
    eta_min_days: int
    eta_max_days: int
    chargeable_weight_g: int
    duties: DutyEstimate
    rate_version: str


@dataclass(frozen=True)
class Unavailable:
    service: str
    carrier: str
    reason: str


@dataclass(frozen=True)
class QuoteResult:
    destination: Destination
    currency: str
    parcel: Parcel
    options: list[QuoteOption]
    unavailable: list[Unavailable]


@dataclass(frozen=True)
class PricedOption:
    """An option re-priced for checkout; ``duties`` is what the buyer pays now (0 for DAP)."""

    service: str
    service_name: str
    carrier: str
    service_kind: str
    shipping: Money
    duties: Money
    duties_estimate: Money
    duties_mode: str
    eta_days: tuple[int, int]
    chargeable_weight_g: int
    hs_lines: list[HsLine]
    duty_breakdown: DutyEstimate
    rate_version: str
    destination: Destination

    def to_dict(self) -> dict:
        """JSON for an order row: what was quoted and charged."""
        return {
            "service": self.service, "service_name": self.service_name,
            "carrier": self.carrier, "service_kind": self.service_kind,
            "shipping": self.shipping.to_dict(), "duties": self.duties.to_dict(),
            "duties_estimate": self.duties_estimate.to_dict(), "duties_mode": self.duties_mode,
            "eta_days": {"min": self.eta_days[0], "max": self.eta_days[1]},
            "chargeable_weight_g": self.chargeable_weight_g,
            "hs_lines": [{"product_id": line.product_id, "hs_code": line.hs_code,
                          "tariff_code": line.tariff_code,
                          "quantity": line.quantity, "value": line.value.to_dict()}
                         for line in self.hs_lines],
            "duty_breakdown": self.duty_breakdown.to_dict(),
            "rate_version": self.rate_version,
            "destination": {"country": self.destination.country,
                            "postal_code": self.destination.postal_code},
        }


def rate_table() -> RateTable:
    return effective_rates()


_served: list = [None, None, frozenset()]  # (rates file, destinations, served countries)


def served_countries() -> set[str]:
    """Countries at least one service delivers to (and whose import rules we know). Read from
    the files alone, once per loaded file: an operator's override changes a bracket's amount,
    never where a service delivers (every list filtered by ``ships_to`` asks)."""
    data, rules = rates_file(), destinations()
    if _served[0] is not data or _served[1] is not rules:
        table = rate_table_of(data)
        served = {country for service in table.services.values()
                  for country, zone in table.zone_of_country.items()
                  if zone in service.zones and country not in service.excluded_countries}
        _served[:] = [data, rules, frozenset(served & set(rules))]
    return set(_served[2])


def _fail(field: str, message: str, detail: str | None = None):
    raise ValidationFailed(detail or message, errors={field: [message]})


def _normal_country(country: str, field: str = "destination.country") -> str:
    code = (country or "").strip().upper()
    if not is_country(code):
        _fail(field, "unknown ISO 3166-1 country code", f"Unknown country {country!r}.")
    return code


def _normal_postal_code(postal_code: str | None) -> str | None:
    if postal_code is None or not postal_code.strip():
        return None
    value = " ".join(postal_code.upper().split())
    if not _POSTAL_CODE.fullmatch(value):
        _fail("destination.postal_code", "not a valid postal code")
    return value


def _normal_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if code not in PRESENTMENT_CURRENCIES:
        _fail("currency", f"unsupported currency; use one of {', '.join(PRESENTMENT_CURRENCIES)}")
    return code


def _check_items(items: list[tuple[Product, int]]) -> None:
    if not items:
        _fail("items", "at least one item is required", "Nothing to ship.")
    if len(items) > MAX_LINES:
        _fail("items", f"at most {MAX_LINES} lines")
    for i, (product, quantity) in enumerate(items):
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not (
                1 <= quantity <= MAX_QUANTITY):
            _fail(f"items.{i}.quantity", f"must be a whole number from 1 to {MAX_QUANTITY}")
        name = (product.title or {}).get("en") or next(iter((product.title or {}).values()), "")
        label = f"product {product.id} ({name})" if name else f"product {product.id}"
        if product.status != ProductStatus.ACTIVE:
            _fail(f"items.{i}.product_id", f"{label} is not for sale",
                  f"The {label} is not for sale.")
        weight = product.weight_g
        if weight is None or weight <= 0 or weight > MAX_PIECE_WEIGHT_G:
            _fail(f"items.{i}.product_id", f"{label} has no usable weight",
                  f"The {label} has no usable weight; the artisan must add it before it ships.")
        sides = (product.length_mm, product.width_mm, product.height_mm)
        if any(s is None or s <= 0 or s > MAX_PIECE_SIDE_MM for s in sides):
            _fail(f"items.{i}.product_id", f"{label} has no usable size",
                  f"The {label} has no usable size; the artisan must add it before it ships.")


def build_parcel(items: list[tuple[Product, int]], table: RateTable | None = None) -> Parcel:
    """One parcel for all the pieces (consolidated in Almaty)."""
    _check_items(items)
    table = table or effective_rates()
    return Parcel(
        items_weight_g=sum(p.weight_g * q for p, q in items),
        packaging_g=table.packaging_g,
        volume_mm3=sum(p.length_mm * p.width_mm * p.height_mm * q for p, q in items),
        longest_side_mm=max(max(p.length_mm, p.width_mm, p.height_mm) for p, _ in items),
        volumetric_divisor=table.volumetric_divisor,
    )


def registrations() -> dict[str, str]:
    """The collection schemes the marketplace is registered for (settings), scheme -> number."""
    return dict(current_app.config.get("COLLECTION_REGISTRATIONS") or {})


def _hs_lines(items: list[tuple[Product, int]], country: str) -> list[HsLine]:
    return [HsLine(product.id, product.effective_hs_code, quantity, product.price * quantity,
                   product.tariff_code_for(country))
            for product, quantity in items]


def _converter(rates: fx.RateTable):
    def convert(money: Money, currency: str) -> Money:
        return money if money.currency == currency else rates.convert(money, currency)[0]

    return convert


def estimate_duties(destination_country: str, lines: list[tuple[str, Money]], shipping: Money,
                    *, postal_code: str | None = None,
                    currency: str | None = None) -> DutyEstimate:
    """Duty and import VAT for goods ``lines`` (HS code, value) plus ``shipping``; amounts in
    the destination's customs currency and in ``currency`` (default: the same)."""
    country = _normal_country(destination_country)
    if currency is not None:
        currency = _normal_currency(currency)
    try:
        return _estimate(country, lines, shipping, convert=_converter(fx.current_rates()),
                         postal_code=_normal_postal_code(postal_code), currency=currency,
                         registrations=registrations(), on=utcnow().date())
    except KeyError:
        raise ValidationFailed(f"No import rules for {country}.",
                               errors={"destination.country": ["not served"]}) from None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                  salt="sheber.shipping-option")


def option_ttl() -> int:
    return int(current_app.config.get("SHIPPING_OPTION_TTL_SECONDS",
                                      DEFAULT_OPTION_TTL_SECONDS))


def _item_key(items: list[tuple[Product, int]]) -> list[list]:
    merged: dict[str, int] = {}
    for product, quantity in items:
        merged[product.id] = merged.get(product.id, 0) + quantity
    return [[pid, qty] for pid, qty in sorted(merged.items())]


def _price(carrier_quote: carriers.CarrierQuote, items, destination: Destination,
           currency: str, convert) -> tuple[Money, DutyEstimate]:
    shipping = convert(carrier_quote.amount, currency)
    lines = [(line.customs_code, line.value, line.quantity)
             for line in _hs_lines(items, destination.country)]
    duties = _estimate(destination.country, lines, carrier_quote.amount, convert=convert,
                       postal_code=destination.postal_code, currency=currency,
                       registrations=registrations(), on=utcnow().date())
    return shipping, duties


def quote(destination_country: str, postal_code: str | None,
          items: list[tuple[Product, int]], currency: str) -> QuoteResult:
    """Every service's price for one parcel of ``items`` to the destination, in ``currency``,
    with duties; services that cannot take the parcel are listed with a reason."""
    destination = Destination(_normal_country(destination_country),
                              _normal_postal_code(postal_code))
    currency = _normal_currency(currency)
    table = effective_rates()
    parcel = build_parcel(items, table)
    served = served_countries()
    convert = _converter(fx.current_rates())
    options, unavailable = [], []
    for name in carriers.carrier_names():
        for cq in carriers.get_carrier(name).quote(parcel, destination):
            if cq.available and destination.country not in served:
                cq = replace(cq, amount=None,
                             unavailable_reason=f"no import rules for {destination.country}")
            if not cq.available:
                unavailable.append(Unavailable(cq.service, cq.carrier, cq.unavailable_reason))
                continue
            shipping, duties = _price(cq, items, destination, currency, convert)
            token = _serializer().dumps({
                "car": cq.carrier, "svc": cq.service, "c": destination.country,
                "pc": destination.postal_code, "it": _item_key(items), "cur": currency,
                "amt": shipping.amount, "dut": duties.total.amount, "rv": cq.rate_version,
            })
            options.append(QuoteOption(
                id=token, service=cq.service, service_name=cq.service_name, carrier=cq.carrier,
                amount=shipping, eta_min_days=cq.eta_min_days, eta_max_days=cq.eta_max_days,
                chargeable_weight_g=cq.chargeable_weight_g, duties=duties,
                rate_version=cq.rate_version,
            ))
    options.sort(key=lambda o: (o.amount.amount, o.service))
    return QuoteResult(destination, currency, parcel, options, unavailable)


def resolve_option(option_id: str, destination_country: str, postal_code: str | None,
                   items: list[tuple[Product, int]], currency: str,
                   duties_mode: str) -> PricedOption:
    """Re-price a quoted option now. 409 when it is stale (expired, rates or price changed)
    or foreign (another destination, items or currency; tampered)."""
    if duties_mode not in DUTIES_MODES:
        _fail("duties_mode", "must be DDP or DAP")
    try:
        claims = _serializer().loads(option_id or "", max_age=option_ttl())
    except SignatureExpired:
        raise ShippingOptionStale("The shipping quote has expired; ask for a new quote.",
                                  ) from None
    except BadSignature:
        raise ShippingOptionMismatch("The shipping option is not one we issued.") from None
    destination = Destination(_normal_country(destination_country),
                              _normal_postal_code(postal_code))
    currency = _normal_currency(currency)
    # A quote without a postal code stays valid for any postal code in the country: the
    # re-pricing below still refuses it if the postal code changes the price (CA provinces).
    if not isinstance(claims, dict) or (
            claims.get("c"), claims.get("it"), claims.get("cur")
    ) != (destination.country, _item_key(items), currency) or (
            claims.get("pc") is not None and claims["pc"] != destination.postal_code):
        raise ShippingOptionMismatch(
            "The shipping option was quoted for another destination, items or currency.")

    table = effective_rates()
    parcel = build_parcel(items, table)
    try:
        carrier = carriers.get_carrier(claims["car"])
    except NotFound:
        raise ShippingOptionStale("That carrier is no longer offered.") from None
    found = [cq for cq in carrier.quote(parcel, destination) if cq.service == claims["svc"]]
    if not found or not found[0].available:
        raise ShippingOptionStale("That shipping service can no longer take this parcel.")
    cq = found[0]
    if destination.country not in served_countries():
        raise ShippingOptionStale("That destination is no longer served.")
    if cq.rate_version != claims["rv"]:
        raise ShippingOptionStale("Shipping rates changed since the quote; ask for a new one.")
    convert = _converter(fx.current_rates())
    shipping, duties = _price(cq, items, destination, currency, convert)
    if (shipping.amount, duties.total.amount) != (claims["amt"], claims["dut"]):
        raise ShippingOptionStale("The price changed since the quote (exchange rates moved); "
                                  "ask for a new quote.")
    if duties_mode not in duties.modes_allowed:
        _fail("duties_mode", f"must be {' or '.join(duties.modes_allowed)} for this parcel",
              f"{destination.country} law makes the marketplace collect import VAT/GST at the "
              f"point of sale for this parcel ({duties.regime} scheme): it can only be sent "
              f"DDP.")
    service = table.services[cq.service]
    return PricedOption(
        service=cq.service, service_name=cq.service_name, carrier=cq.carrier,
        service_kind=service.kind, shipping=shipping,
        duties=duties.total if duties_mode == "DDP" else Money.zero(currency),
        duties_estimate=duties.total, duties_mode=duties_mode,
        eta_days=(cq.eta_min_days, cq.eta_max_days),
        chargeable_weight_g=cq.chargeable_weight_g, hs_lines=_hs_lines(items, destination.country),
        duty_breakdown=duties, rate_version=cq.rate_version, destination=destination,
    )


def value_in_sdr(value: Money) -> Decimal:
    """``value`` in IMF Special Drawing Rights (via USD and the SDR rate in duties.json),
    unrounded: the CN 22 limit is compared exactly."""
    usd = value.major * fx.rate(value.currency, "USD")
    return usd / Decimal(duties_file()["customs_forms"]["usd_per_sdr"])


def customs_form_for(value: Money, service: str) -> str:
    """``"CN22"`` or ``"CN23"`` (then with a commercial invoice) for goods worth ``value``."""
    spec = effective_rates().services.get(service)
    if spec is None:
        _fail("service", "unknown shipping service")
    return papers.customs_form(value_in_sdr(value), spec.kind)


def _rate_target(service: str, zone: str, up_to_g: int):
    table = effective_rates()
    spec = table.services.get(service)
    if spec is None:
        _fail("service", f"unknown service; use one of {', '.join(sorted(table.services))}")
    if zone not in spec.zones:
        _fail("zone", f"unknown zone for {service}; use one of {', '.join(sorted(spec.zones))}")
    if isinstance(up_to_g, bool) or not isinstance(up_to_g, int) or not (
            0 < up_to_g <= spec.max_weight_g):
        _fail("up_to_g", f"must be a whole number of grams from 1 to {spec.max_weight_g}")
    return table


@use_case
def set_rate(service: str, zone: str, up_to_g: int, amount: Money,
             operator_id: str | None = None) -> RateTable:
    """Set the price of one weight bracket (adds the bracket if new); returns the new table."""
    table = _rate_target(service, zone, up_to_g)
    if amount.currency != table.currency:
        _fail("amount", f"rates are in {table.currency}")
    if not (0 < amount.amount <= MAX_AMOUNT):
        _fail("amount", "must be positive")
    row = db.session.execute(select(ShippingRateOverride).filter_by(
        service=service, zone=zone, up_to_g=up_to_g)).scalar_one_or_none()
    if row is None:
        row = ShippingRateOverride(service=service, zone=zone, up_to_g=up_to_g)
        db.session.add(row)
    row.amount, row.updated_by = amount.amount, operator_id
    db.session.flush()
    return effective_rates()


@use_case
def clear_rate(service: str, zone: str, up_to_g: int) -> bool:
    """Drop an operator's override: the file's price (or no bracket) applies again."""
    _rate_target(service, zone, up_to_g)
    row = db.session.execute(select(ShippingRateOverride).filter_by(
        service=service, zone=zone, up_to_g=up_to_g)).scalar_one_or_none()
    if row is None:
        return False
    db.session.delete(row)
    return True
