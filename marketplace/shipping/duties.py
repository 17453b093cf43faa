"""Import duty and VAT/GST estimates per destination, from data/shipping/duties.json.

customs value = goods (+ shipping where the country values CIF); duty = value x rate by HS
heading/chapter unless the goods are under the duty de minimis (the EU then charges a flat
duty per HS code); VAT = (customs value + duty) x VAT rate unless under the VAT de minimis.
Every component is computed exactly in ``Decimal`` and rounded half-up once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from marketplace.money import Money, round_half_up
from marketplace.shipping.rates import duties_file

Converter = Callable[[Money, str], Money]


def country_rules(country: str) -> dict | None:
    """The rules for ``country`` (EU members get the union's rules with their VAT rate)."""
    data = duties_file()
    rules = data["countries"].get(country)
    if rules is not None:
        return rules
    eu = data["eu"]
    if country in eu["members"]:
        merged = {k: v for k, v in eu.items() if k not in ("members", "vat_rates")}
        merged["vat_rate"] = eu["vat_rates"][country]
        merged["note"] = f"EU member ({country}): VAT {eu['vat_rates'][country]}."
        return merged
    return None


def countries_with_rules() -> set[str]:
    data = duties_file()
    return set(data["countries"]) | set(data["eu"]["members"])


def duty_rate(rules: dict, hs_code: str) -> Decimal:
    rates = rules["duty_rates"]
    digits = "".join(ch for ch in hs_code if ch.isdigit())
    for key in (digits[:4], digits[:2]):
        if key in rates:
            return Decimal(rates[key])
    return Decimal(rates["default"])


def vat_rate(rules: dict, postal_code: str | None) -> Decimal:
    by_prefix = rules.get("vat_rate_by_postal_prefix", {})
    if postal_code:
        first = postal_code.strip()[:1].upper()
        if first in by_prefix:
            return Decimal(by_prefix[first])
    return Decimal(rules.get("vat_rate", "0"))


@dataclass(frozen=True)
class DutyLine:
    hs_code: str
    value: Money  # in the destination's customs currency
    rate: Decimal


@dataclass(frozen=True)
class DutyEstimate:
    country: str
    regime: str  # "customs", "customs_union" (EAEU) or "domestic"
    currency: str  # the destination's customs currency
    goods_value: Money
    customs_value: Money
    duty_local: Money
    vat_local: Money
    vat_rate: Decimal
    duty_exempt: bool
    vat_exempt: bool
    lines: tuple[DutyLine, ...]
    notes: tuple[str, ...]
    duty: Money  # the same amounts in the requested currency
    vat: Money

    @property
    def total_local(self) -> Money:
        return self.duty_local + self.vat_local

    @property
    def total(self) -> Money:
        return self.duty + self.vat

    def to_dict(self) -> dict:
        return {
            "country": self.country, "regime": self.regime, "currency": self.currency,
            "goods_value": self.goods_value.to_dict(),
            "customs_value": self.customs_value.to_dict(),
            "duty": self.duty.to_dict(), "vat": self.vat.to_dict(),
            "duty_local": self.duty_local.to_dict(), "vat_local": self.vat_local.to_dict(),
            "vat_rate": str(self.vat_rate),
            "duty_exempt": self.duty_exempt, "vat_exempt": self.vat_exempt,
            "lines": [{"hs_code": line.hs_code, "value": line.value.to_dict(),
                       "rate": str(line.rate)} for line in self.lines],
            "notes": list(self.notes),
        }


def _money(spec: dict | None) -> Money | None:
    return None if spec is None else Money(spec["amount"], spec["currency"])


def estimate(country: str, lines: list[tuple[str, Money]], shipping: Money, *,
             convert: Converter, postal_code: str | None = None,
             currency: str | None = None) -> DutyEstimate:
    """Estimate duty and VAT; ``convert(money, to_currency)`` does FX (rounding once)."""
    rules = country_rules(country)
    if rules is None:
        raise KeyError(country)
    regime = rules.get("regime", "customs")
    target = currency
    if regime != "customs":
        local = rules.get("currency", target or "KZT")
        zero_local, zero = Money.zero(local), Money.zero(target or local)
        return DutyEstimate(
            country=country, regime=regime, currency=local, goods_value=zero_local,
            customs_value=zero_local, duty_local=zero_local, vat_local=zero_local,
            vat_rate=Decimal(0), duty_exempt=True, vat_exempt=True, lines=(),
            notes=(rules["note"],), duty=zero, vat=zero,
        )

    local = rules["currency"]
    target = target or local
    notes = [rules["note"]] if rules.get("note") else []
    local_lines = [(hs, convert(value, local)) for hs, value in lines]
    goods = Money.zero(local)
    for _, value in local_lines:
        goods += value
    freight = convert(shipping, local) if rules["valuation"] == "CIF" else Money.zero(local)
    customs_value = goods + freight

    excluded = tuple(rules.get("de_minimis_excludes", ()))
    any_excluded = any(hs.startswith(excluded) for hs, _ in lines) if excluded else False

    def under(key: str) -> bool:
        threshold = _money(rules.get(key))
        if threshold is None or any_excluded:
            return False
        value = goods if threshold.currency == local else convert(goods, threshold.currency)
        return value <= threshold

    additional = Decimal(rules.get("additional_duty_rate", "0"))
    duty_lines = tuple(
        DutyLine(hs, value, duty_rate(rules, hs) + additional) for hs, value in local_lines
    )
    duty_exempt = under("duty_de_minimis")
    if duty_exempt:
        flat = _money(rules.get("low_value_flat_duty_per_line"))
        if flat is not None:
            categories = len({hs for hs, _ in lines})
            duty = convert(flat * categories, local)
            notes.append(f"Low-value consignment: flat duty {flat.format()} per HS code.")
        else:
            duty = Money.zero(local)
            notes.append("Under the duty de minimis.")
    else:
        weights = [value.amount for _, value in local_lines]
        if freight.amount and sum(weights) > 0:
            freight_shares = freight.allocate(weights)
        else:
            freight_shares = [Money.zero(local)] * len(local_lines)
        exact = sum(
            (Decimal(line.value.amount + share.amount) * line.rate
             for line, share in zip(duty_lines, freight_shares, strict=True)),
            Decimal(0),
        )
        duty = Money(round_half_up(exact), local)

    rate = vat_rate(rules, postal_code)
    vat_exempt = under("vat_de_minimis")
    if vat_exempt:
        vat = Money.zero(local)
        notes.append("Under the VAT de minimis.")
    else:
        vat = (customs_value + duty).apply_rate(rate)

    tax_free = _money(rules.get("tax_free_if_total_at_most"))
    if tax_free is not None and (duty + vat).amount > 0:
        total = duty + vat if tax_free.currency == local else convert(duty + vat, tax_free.currency)
        if total <= tax_free:
            duty, vat = Money.zero(local), Money.zero(local)
            duty_exempt = vat_exempt = True
            notes.append(f"Taxes of {tax_free.format()} or less are waived.")

    return DutyEstimate(
        country=country, regime=regime, currency=local, goods_value=goods,
        customs_value=customs_value, duty_local=duty, vat_local=vat, vat_rate=rate,
        duty_exempt=duty_exempt, vat_exempt=vat_exempt, lines=duty_lines, notes=tuple(notes),
        duty=convert(duty, target), vat=convert(vat, target),
    )
