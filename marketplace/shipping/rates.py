"""Rate tables: the files in data/shipping/ plus operators' overrides kept in the database.

``rates.json`` holds zones, services, weight brackets and delivery-day ranges; ``duties.json``
the import rules per destination. Both note their sources and dates.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.money import Money
from marketplace.shipping.models import ShippingRateOverride

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "shipping"


@functools.cache
def _load(name: str) -> dict:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def rates_file() -> dict:
    return _load("rates.json")


def duties_file() -> dict:
    return _load("duties.json")


@dataclass(frozen=True)
class Bracket:
    up_to_g: int
    amount: Money
    overridden: bool = False


@dataclass(frozen=True)
class ZoneRates:
    zone: str
    eta_min_days: int
    eta_max_days: int
    brackets: tuple[Bracket, ...]

    def price_for(self, weight_g: int) -> Bracket | None:
        for bracket in self.brackets:
            if weight_g <= bracket.up_to_g:
                return bracket
        return None


@dataclass(frozen=True)
class ServiceRates:
    code: str
    name: str
    carrier: str
    kind: str  # "postal" or "courier"
    tracking_prefix: str
    max_weight_g: int
    max_length_mm: int
    excluded_countries: dict[str, str]
    zones: dict[str, ZoneRates]


@dataclass(frozen=True)
class RateTable:
    """The effective rates at one moment; ``version`` changes whenever any price changes."""

    version: str
    currency: str
    packaging_g: int
    volumetric_divisor: int
    zone_of_country: dict[str, str]
    services: dict[str, ServiceRates]

    def zone_for(self, country: str) -> str | None:
        return self.zone_of_country.get(country)


def _overrides() -> list[ShippingRateOverride]:
    return list(db.session.execute(
        select(ShippingRateOverride).order_by(ShippingRateOverride.service,
                                              ShippingRateOverride.zone,
                                              ShippingRateOverride.up_to_g)
    ).scalars())


def effective_rates() -> RateTable:
    """The rates file with every operator override applied (one small query)."""
    data = copy.deepcopy(rates_file())
    overrides = _overrides()
    overridden: set[tuple[str, str, int]] = set()
    for row in overrides:
        zone = data["services"].get(row.service, {}).get("zones", {}).get(row.zone)
        if zone is None:
            continue  # a service or zone removed from the file since: nothing to override
        brackets = {up_to: amount for up_to, amount in zone["brackets"]}
        brackets[row.up_to_g] = row.amount
        zone["brackets"] = sorted([up_to, amount] for up_to, amount in brackets.items())
        overridden.add((row.service, row.zone, row.up_to_g))
    return rate_table_of(data, overridden)


def rate_table_of(data: dict, overridden: frozenset | set = frozenset()) -> RateTable:
    """The table of a rates file's contents (``overridden``: the brackets an operator set)."""
    currency = data["currency"]
    services = {}
    for code, spec in data["services"].items():
        zones = {
            zone: ZoneRates(
                zone=zone, eta_min_days=z["eta_days"]["min"], eta_max_days=z["eta_days"]["max"],
                brackets=tuple(
                    Bracket(up_to, Money(amount, currency), (code, zone, up_to) in overridden)
                    for up_to, amount in z["brackets"]
                ),
            )
            for zone, z in spec["zones"].items()
        }
        services[code] = ServiceRates(
            code=code, name=spec["name"], carrier=spec["carrier"], kind=spec["kind"],
            tracking_prefix=spec["tracking_prefix"], max_weight_g=spec["max_weight_g"],
            max_length_mm=spec["max_length_mm"],
            excluded_countries=dict(spec.get("excluded_countries", {})), zones=zones,
        )
    zone_of_country = {
        country: zone for zone, z in data["zones"].items() for country in z["countries"]
    }
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return RateTable(
        version=hashlib.sha256(canonical).hexdigest()[:16],
        currency=currency, packaging_g=data["packaging_g"],
        volumetric_divisor=data["volumetric_divisor_cm3_per_kg"],
        zone_of_country=zone_of_country, services=services,
    )


@dataclass(frozen=True)
class Parcel:
    """One parcel per order: every piece consolidated by the operator in Almaty."""

    items_weight_g: int
    packaging_g: int
    volume_mm3: int  # sum of the pieces' boxes: a lower bound of the parcel's size
    longest_side_mm: int
    volumetric_divisor: int = 5000

    @property
    def gross_weight_g(self) -> int:
        return self.items_weight_g + self.packaging_g

    @property
    def volumetric_weight_g(self) -> int:
        # L x W x H in cm3 / divisor = kg, so mm3 / divisor = g.
        return math.ceil(self.volume_mm3 / self.volumetric_divisor)

    @property
    def chargeable_weight_g(self) -> int:
        return max(self.gross_weight_g, self.volumetric_weight_g)


@dataclass(frozen=True)
class Destination:
    country: str
    postal_code: str | None = None
