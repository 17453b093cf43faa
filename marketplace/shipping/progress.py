"""A parcel as its buyer reads it: the carrier's public name and tracking page, the delivery
window as dates, and every scan with its place and the local time there.

The window at checkout runs from today plus the slowest workshop's processing days plus the
service's delivery days; once the carrier has the parcel, from that day plus the delivery days.
A scan's local time is written in the zone of its place: Almaty for the scans before the parcel
leaves, else the zone the carrier names, else that of the country (data/shipping/timezones.json).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale

from marketplace.orders.models import Order, Shipment, ShipmentEvent, ShipmentStatus
from marketplace.shipping import carriers
from marketplace.shipping.rates import DATA_DIR

S = ShipmentStatus
ORIGIN_ZONE = "Asia/Almaty"
ORIGIN_CITY = "Almaty"
# Scans made before the parcel leaves Kazakhstan; after these, the destination's clock.
AT_ORIGIN = frozenset({S.REQUESTED, S.HELD_EXPORT, S.LABEL_CREATED, S.HANDED_OVER})
AT_DESTINATION = frozenset({S.CUSTOMS, S.CUSTOMS_HOLD, S.OUT_FOR_DELIVERY, S.DELIVERED})


@functools.lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return json.loads((DATA_DIR / "timezones.json").read_text(encoding="utf-8"))["zones"]


def zone_for_country(country: str | None) -> str:
    return _zones().get((country or "").upper(), ORIGIN_ZONE)


def delivery_window(start: date, eta_min_days: int, eta_max_days: int) -> tuple[date, date]:
    """The dates between which a parcel handed over on ``start`` is expected."""
    return start + timedelta(days=eta_min_days), start + timedelta(days=eta_max_days)


def checkout_window(today: date, processing_days: int, eta_min_days: int,
                    eta_max_days: int) -> tuple[date, date]:
    """At checkout: the pieces are made or packed first, then travel."""
    return delivery_window(today + timedelta(days=processing_days), eta_min_days, eta_max_days)


@dataclass(frozen=True)
class Scan:
    status: str
    place: str
    local_time: datetime  # aware, in ``zone``
    zone: str
    description: str


def scan_zone(event: ShipmentEvent, destination: str | None) -> str:
    location = (event.location or "").strip()
    if S(event.status) in AT_ORIGIN or location in (ORIGIN_CITY, "KZ"):
        return ORIGIN_ZONE
    if len(location) == 2 and location.isalpha() and location.upper() in _zones():
        return zone_for_country(location)
    if S(event.status) in AT_DESTINATION or S(event.status) is S.RETURNED:
        return zone_for_country(destination)
    return ORIGIN_ZONE


def place_name(location: str, language: str) -> str:
    """A country code the carrier sent becomes the country's name in ``language``."""
    location = (location or "").strip()
    if len(location) == 2 and location.isalpha():
        return Locale.parse(language).territories.get(location.upper(), location)
    return location


def scan_view(event: ShipmentEvent, destination: str | None, language: str) -> Scan:
    zone = scan_zone(event, destination)
    moment = event.occurred_at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return Scan(status=event.status, place=place_name(event.location, language),
                local_time=moment, zone=zone, description=event.description)


def handed_over_at(shipment: Shipment) -> datetime | None:
    """When the carrier first had the parcel: its first scan after the label."""
    moments = [event.occurred_at for event in shipment.events
               if S(event.status) not in AT_ORIGIN - {S.HANDED_OVER}]
    return min(moments) if moments else None


def expected_window(order: Order, shipment: Shipment | None) -> tuple[date | None, date | None]:
    """After handover: from that day; before: the window promised at checkout."""
    option = order.shipping_option or {}
    eta = option.get("eta_days") or {}
    started = handed_over_at(shipment) if shipment is not None else None
    if started is not None and eta.get("max") is not None:
        return delivery_window(started.date(), int(eta.get("min") or 0), int(eta["max"]))
    dates = option.get("eta_dates") or {}
    try:
        return date.fromisoformat(dates["from"]), date.fromisoformat(dates["to"])
    except (KeyError, TypeError, ValueError):
        return None, None


def parcel_facts(order: Order, shipment: Shipment, public_url: str, order_url: str,
                 short_number: str) -> dict:
    """What every parcel mail and page shows of the parcel."""
    info = carriers.carrier_info(shipment.carrier)
    eta_from, eta_to = expected_window(order, shipment)
    return {
        "number": short_number, "carrier_name": info.name,
        "tracking_number": shipment.tracking_number,
        "tracking_url": carriers.tracking_url(shipment.carrier, shipment.tracking_number,
                                              public_url),
        "eta_from": eta_from, "eta_to": eta_to, "order_url": order_url,
    }
