"""Carrier adapters: quote a parcel, buy a label, track it.

Every carrier implements the ``Carrier`` protocol and is registered by name. The built-in
``sheber-post`` carrier works offline from the operator's rate tables (data/shipping/rates.json
plus overrides), issues UPU S10 tracking numbers (e.g. ``EE123456785KZ``) and reports a
tracking timeline derived from the label's date and the service's delivery-day range.

Adding a real carrier (EasyPost, Shippo, DHL Express MyDHL API, ...):

1. Write a class with ``name``, ``quote(parcel, destination)``, ``create_label(shipment)`` and
   ``track(tracking_number)``. ``quote`` returns ``CarrierQuote`` rows (grams in, ``Money`` out,
   ``rate_version`` = the carrier's rate id so a re-quote can tell that the price moved);
   ``create_label`` receives ``papers.ShipmentData`` (addresses, customs lines with HS codes,
   duties mode) and returns ``LabelResult(tracking_number, label_pdf)``: EasyPost's
   ``Shipment.create`` + ``buy``, Shippo's ``Transaction``, or DHL's ``/shipments`` give the
   PDF label (and customs invoice) directly. ``track`` maps the carrier's statuses onto
   ``TrackingStatus``. Raise ``errors.ExternalServiceError`` on timeouts and 5xx so callers
   retry; never let a carrier's exception text reach a buyer.
2. Read credentials from the app config (``EASYPOST_API_KEY``, ``SHIPPO_TOKEN``,
   ``DHL_API_KEY``/``DHL_ACCOUNT``) inside the adapter, never from requests.
3. ``register_carrier(MyCarrier())`` from ``create_app`` (or a plugin module) and name the
   carrier in a service of data/shipping/rates.json, or quote it directly.
"""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable
from urllib.parse import quote

from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.money import Money
from marketplace.shipping import papers
from marketplace.shipping.models import CarrierLabel
from marketplace.shipping.rates import DATA_DIR, Destination, Parcel, effective_rates


class TrackingStatus(StrEnum):
    LABEL_CREATED = "label_created"
    HANDED_OVER = "handed_over"  # accepted by the carrier: the parcel has left the sender
    IN_TRANSIT = "in_transit"
    CUSTOMS = "customs"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CUSTOMS_HOLD = "customs_hold"
    RETURNED = "returned"


@dataclass(frozen=True)
class CarrierQuote:
    carrier: str
    service: str
    service_name: str
    chargeable_weight_g: int
    rate_version: str
    amount: Money | None = None  # None when the service cannot take the parcel
    eta_min_days: int = 0
    eta_max_days: int = 0
    unavailable_reason: str | None = None

    @property
    def available(self) -> bool:
        return self.amount is not None


@dataclass(frozen=True)
class LabelResult:
    tracking_number: str
    label_pdf: bytes


@dataclass(frozen=True)
class TrackingEvent:
    status: TrackingStatus
    occurred_at: datetime  # naive UTC
    location: str
    description: str


@runtime_checkable
class Carrier(Protocol):
    name: str

    def quote(self, parcel: Parcel, destination: Destination) -> list[CarrierQuote]: ...

    def create_label(self, shipment: papers.ShipmentData) -> LabelResult: ...

    def track(self, tracking_number: str) -> list[TrackingEvent]: ...


_REGISTRY: dict[str, Carrier] = {}


def register_carrier(carrier: Carrier) -> Carrier:
    _REGISTRY[carrier.name] = carrier
    return carrier


def get_carrier(name: str) -> Carrier:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NotFound(f"No carrier named {name!r}.") from None


def carrier_names() -> list[str]:
    return sorted(_REGISTRY)


# UPU S10 check digit (S10-12 standard): weights over the 8 serial digits, modulo 11.
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("an S10 serial is 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def s10_number(prefix: str, serial: str, country: str = "KZ") -> str:
    return f"{prefix}{serial}{s10_check_digit(serial)}{country}"


def is_valid_s10(code: str) -> bool:
    if len(code) != 13 or not (code[:2].isalpha() and code[:2].isupper()):
        return False
    if not (code[2:11].isdigit() and code[11:].isalpha() and code[11:].isupper()):
        return False
    return s10_check_digit(code[2:10]) == int(code[10])


class TableRateCarrier:
    """The built-in carrier: prices from the rate tables, labels and tracking offline."""

    name = "sheber-post"

    def quote(self, parcel: Parcel, destination: Destination) -> list[CarrierQuote]:
        table = effective_rates()
        zone = table.zone_for(destination.country)
        quotes = []
        for service in table.services.values():
            if service.carrier != self.name:
                continue
            base = dict(carrier=self.name, service=service.code, service_name=service.name,
                        chargeable_weight_g=parcel.chargeable_weight_g,
                        rate_version=table.version)
            reason = None
            zone_rates = service.zones.get(zone) if zone else None
            if destination.country in service.excluded_countries:
                reason = (f"{service.name} does not serve {destination.country}: "
                          f"{service.excluded_countries[destination.country]}")
            elif zone_rates is None:
                reason = f"{service.name} does not serve {destination.country}"
            elif parcel.chargeable_weight_g > service.max_weight_g:
                reason = (f"the parcel's chargeable weight {parcel.chargeable_weight_g} g is over "
                          f"the {service.name} limit of {service.max_weight_g} g")
            elif parcel.longest_side_mm > service.max_length_mm:
                reason = (f"the longest side {parcel.longest_side_mm} mm is over the "
                          f"{service.name} limit of {service.max_length_mm} mm")
            bracket = None if reason else zone_rates.price_for(parcel.chargeable_weight_g)
            if reason is None and bracket is None:
                reason = (f"no {service.name} rate for {parcel.chargeable_weight_g} g "
                          f"to {destination.country}")
            if reason:
                quotes.append(CarrierQuote(**base, unavailable_reason=reason))
            else:
                quotes.append(CarrierQuote(**base, amount=bracket.amount,
                                           eta_min_days=zone_rates.eta_min_days,
                                           eta_max_days=zone_rates.eta_max_days))
        return quotes

    def create_label(self, shipment: papers.ShipmentData) -> LabelResult:
        """Record the label in the caller's transaction (the caller commits)."""
        table = effective_rates()
        service = table.services.get(shipment.service)
        if service is None or service.carrier != self.name:
            raise ValidationFailed(f"{self.name} has no service {shipment.service!r}.",
                                   errors={"service": ["unknown service for this carrier"]})
        zone = service.zones.get(table.zone_for(shipment.recipient.country) or "")
        if zone is None or shipment.recipient.country in service.excluded_countries:
            raise ValidationFailed(
                f"{service.name} does not serve {shipment.recipient.country}.",
                errors={"recipient.country": ["not served by this service"]})
        while True:
            tracking = s10_number(service.tracking_prefix, f"{secrets.randbelow(10**8):08d}")
            if db.session.get(CarrierLabel, tracking) is None:
                break
        db.session.add(CarrierLabel(
            tracking_number=tracking, carrier=self.name, service=service.code,
            reference=shipment.reference, destination_country=shipment.recipient.country,
            eta_min_days=zone.eta_min_days, eta_max_days=zone.eta_max_days,
        ))
        db.session.flush()
        labelled = replace(shipment, tracking_number=tracking, service_name=service.name,
                           service_kind=service.kind,
                           carrier=self.name)
        return LabelResult(tracking_number=tracking, label_pdf=papers.label_pdf(labelled))

    def track(self, tracking_number: str, *, now: datetime | None = None) -> list[TrackingEvent]:
        """A timeline derived from the label's date and the service's delivery days: the
        offline carrier has no scans of its own. Events after ``now`` are not returned."""
        label = db.session.get(CarrierLabel, tracking_number)
        if label is None or label.carrier != self.name:
            raise NotFound(f"No {self.name} parcel {tracking_number}.")
        now = now or utcnow()
        start = label.created_at
        middle = (label.eta_min_days + label.eta_max_days) / 2
        international = label.destination_country != "KZ"
        steps = [
            (timedelta(0), TrackingStatus.LABEL_CREATED, "Almaty",
             "Label created; parcel awaited at the Almaty office"),
            (timedelta(hours=6), TrackingStatus.HANDED_OVER, "Almaty",
             "Accepted at the Almaty office"),
            (timedelta(days=1), TrackingStatus.IN_TRANSIT, "Almaty",
             "Departed the Almaty office of exchange" if international else "In transit"),
        ]
        if international:
            steps.append((timedelta(days=max(2.0, middle / 2)), TrackingStatus.CUSTOMS,
                          label.destination_country, "Arrived in the destination country; "
                          "presented to customs"))
        steps += [
            (timedelta(days=middle), TrackingStatus.OUT_FOR_DELIVERY, label.destination_country,
             "Out for delivery"),
            (timedelta(days=middle, hours=6), TrackingStatus.DELIVERED,
             label.destination_country, "Delivered"),
        ]
        return [
            TrackingEvent(status=status, occurred_at=start + offset, location=where,
                          description=text)
            for offset, status, where, text in steps if start + offset <= now
        ]


register_carrier(TableRateCarrier())


# --- what buyers see of a carrier ------------------------------------------------------------

@dataclass(frozen=True)
class CarrierInfo:
    code: str
    name: str  # the carrier's public name, never the adapter's code
    tracking_url_template: str | None


@functools.lru_cache(maxsize=1)
def _carrier_file() -> dict:
    return json.loads((DATA_DIR / "carriers.json").read_text(encoding="utf-8"))["carriers"]


def carrier_info(code: str) -> CarrierInfo:
    entry = _carrier_file().get(code) or {}
    return CarrierInfo(code=code, name=entry.get("name") or code,
                       tracking_url_template=entry.get("tracking_url"))


def tracking_url(code: str, tracking_number: str | None, public_url: str) -> str | None:
    """The carrier's tracking page for ``tracking_number`` (data/shipping/carriers.json)."""
    template = carrier_info(code).tracking_url_template
    if not template or not tracking_number:
        return None
    return (template.replace("{public_url}", public_url.rstrip("/"))
            .replace("{tracking_number}", quote(tracking_number, safe="")))
