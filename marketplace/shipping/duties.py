"""Import duty and VAT/GST per destination, from the rules table ``data/tax/destinations.json``.

Every rule is a row with its source, legal reference and effective dates; the estimate takes
the rows in force on the day it is made (``on``), so an operator changes a rule by editing the
table, and a quote explains itself (``rules`` lists what it applied, ``notes`` says why).

Who collects:
- a point-of-sale scheme (EU IOSS, UK, AU, NZ, NO VOEC, CH, SG) the marketplace is registered
  for (its setting is set) and whose limit the parcel is within: the marketplace charges the
  destination's VAT/GST at checkout; the parcel can only be sold **DDP**;
- otherwise the destination's customs collect at the border: the buyer chooses DDP (we prepay
  through the carrier) or DAP (the carrier asks the buyer for duty, VAT and its handling fee).

customs value = goods (x the valuation factor) + shipping where the country values CIF; duty by
the longest key of the destination's ``duty_rates`` that is a prefix of the line's code (10, 8,
6, 4 or 2 digits; the line's code is the product's national tariff code for the destination
where it has one, e.g. an EU CN8, else its HS code) unless a de minimis relieves it (or a flat
duty replaces it); VAT = (customs value + duty) x rate at the border, or (goods + shipping)
x rate at the point of sale. Every total is computed exactly in ``Decimal`` and rounded half-up
once; the per-line breakdown is the totals split by largest remainder, so lines add up exactly,
in the destination's currency and in the quote's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from marketplace.money import Money, round_half_up

Converter = Callable[[Money, str], Money]
RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "tax" / "destinations.json"
BOTH_MODES = ("DDP", "DAP")
# What a rule row carries besides its own fields
_ROW_FIELDS = ("rule", "source", "legal_reference", "valid_from", "valid_to", "confirmed", "note")


@functools.cache
def rules_file() -> dict:
    return json.loads(RULES_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Rule:
    kind: str
    data: dict
    source: str
    legal_reference: str
    valid_from: date
    valid_to: date | None
    confirmed: bool
    note: str | None

    def active(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)

    def reference(self) -> dict:
        return {"rule": self.kind, "source": self.source, "legal_reference": self.legal_reference,
                "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat() if self.valid_to else None,
                "confirmed": self.confirmed, **({"note": self.note} if self.note else {})}


def _rule(row: dict) -> Rule:
    return Rule(
        kind=row["rule"], data={k: v for k, v in row.items() if k not in _ROW_FIELDS},
        source=row["source"], legal_reference=row["legal_reference"],
        valid_from=date.fromisoformat(row["valid_from"]),
        valid_to=date.fromisoformat(row["valid_to"]) if row.get("valid_to") else None,
        confirmed=bool(row.get("confirmed", True)), note=row.get("note"))


def destinations() -> dict[str, dict]:
    return rules_file()["destinations"]


def countries_with_rules() -> set[str]:
    return set(destinations())


def country_name(country: str, language: str = "en") -> str:
    entry = destinations().get(country)
    return entry["name"][language] if entry else country


def rules_in_force(country: str, on: date) -> dict[str, Rule]:
    """The rows in force on ``on`` by kind: the union's, replaced kind by kind by the
    country's own (several rows of a kind in force: the last one in the table)."""
    entry = destinations().get(country)
    if entry is None:
        raise KeyError(country)
    rows = []
    union = entry.get("union")
    if union in rules_file().get("unions", {}):
        rows += [("union", r) for r in rules_file()["unions"][union]["rules"]]
    rows += [("own", r) for r in entry["rules"]]
    found: dict[str, Rule] = {}
    own_kinds = {r["rule"] for r in entry["rules"] if _rule(r).active(on)}
    for origin, row in rows:
        rule = _rule(row)
        if not rule.active(on):
            continue
        if origin == "union" and rule.kind in own_kinds:
            continue
        found[rule.kind] = rule
    return found


def destination_currency(country: str, on: date) -> str:
    rules = rules_in_force(country, on)
    if "currency" in rules:
        return rules["currency"].data["currency"]
    return destinations()[country]["currency"]


def _digits(hs_code: str) -> str:
    return "".join(ch for ch in hs_code if ch.isdigit())


def duty_rate(rates: dict, hs_code: str) -> Decimal:
    """The rate of the longest key of ``rates`` that begins ``hs_code`` (a national code of up
    to 10 digits or an HS code): a CN8 row beats its HS6 row, which beats its heading's."""
    digits = _digits(hs_code)
    for size in (10, 8, 6, 4, 2):
        key = digits[:size]
        if len(key) == size and key in rates:
            return Decimal(rates[key])
    return Decimal(rates["default"])


def _vat_rate(rule: Rule | None, hs_code: str, postal_code: str | None) -> Decimal:
    if rule is None:
        return Decimal(0)
    data = rule.data
    digits = _digits(hs_code)
    for size in (6, 4):
        if digits[:size] in data.get("by_heading", {}):
            return Decimal(data["by_heading"][digits[:size]])
    if postal_code and postal_code.strip()[:1].upper() in data.get("by_postal_prefix", {}):
        return Decimal(data["by_postal_prefix"][postal_code.strip()[:1].upper()])
    return Decimal(data["rate"])


def _money(spec: dict | None) -> Money | None:
    return None if spec is None else Money(spec["amount"], spec["currency"])


def _within(value: Money, threshold: Money, comparison: str) -> bool:
    return value < threshold if comparison == "lt" else value <= threshold


@dataclass(frozen=True)
class DutyLine:
    hs_code: str
    quantity: int
    value: Money  # goods, in the destination's currency
    customs_value: Money  # what duty is charged on (with the line's share of freight if CIF)
    rate: Decimal  # duty rate (0 where relieved or flat)
    vat_rate: Decimal
    duty_local: Money
    vat_local: Money
    duty: Money  # the same in the quote's currency
    vat: Money
    taxable_local: Money | None = None  # what the VAT/GST of the line was charged on
    taxable: Money | None = None  # the same in the quote's currency


@dataclass(frozen=True)
class DutyEstimate:
    country: str
    regime: str  # scheme (IOSS, UK, AU, NZ, NO, CH, SG), "customs", "customs_union", "domestic"
    modes_allowed: tuple[str, ...]
    collector: str  # "marketplace" (point of sale), "carrier" (border), "none"
    scheme_number: str | None
    currency: str  # the destination's currency
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
    carrier_fee_local: Money | None = None  # what the carrier charges the buyer on DAP
    carrier_fee: Money | None = None
    carrier: str | None = None
    rules: tuple[Rule, ...] = ()
    on: date | None = None

    @property
    def total_local(self) -> Money:
        return self.duty_local + self.vat_local

    @property
    def total(self) -> Money:
        return self.duty + self.vat

    def payable_on_delivery(self) -> Money:
        """What the buyer hands the carrier under DAP: duty, VAT and the carrier's fee."""
        fee = self.carrier_fee or Money.zero(self.total.currency)
        return self.total + fee if self.total.amount else Money.zero(self.total.currency)

    def to_dict(self) -> dict:
        return {
            "country": self.country, "regime": self.regime,
            "modes_allowed": list(self.modes_allowed), "collector": self.collector,
            "scheme_number": self.scheme_number, "currency": self.currency,
            "goods_value": self.goods_value.to_dict(),
            "customs_value": self.customs_value.to_dict(),
            "duty": self.duty.to_dict(), "vat": self.vat.to_dict(),
            "duty_local": self.duty_local.to_dict(), "vat_local": self.vat_local.to_dict(),
            "vat_rate": str(self.vat_rate),
            "duty_exempt": self.duty_exempt, "vat_exempt": self.vat_exempt,
            "carrier_fee": self.carrier_fee.to_dict() if self.carrier_fee else None,
            "carrier_fee_local": (self.carrier_fee_local.to_dict()
                                  if self.carrier_fee_local else None),
            "carrier": self.carrier,
            "payable_on_delivery": self.payable_on_delivery().to_dict(),
            "lines": [{
                "hs_code": line.hs_code, "quantity": line.quantity,
                "value": line.value.to_dict(), "customs_value": line.customs_value.to_dict(),
                "rate": str(line.rate), "vat_rate": str(line.vat_rate),
                "duty": line.duty.to_dict(), "vat": line.vat.to_dict(),
                "duty_local": line.duty_local.to_dict(), "vat_local": line.vat_local.to_dict(),
                "taxable_local": (line.taxable_local.to_dict()
                                  if line.taxable_local is not None else None),
                "taxable": line.taxable.to_dict() if line.taxable is not None else None,
            } for line in self.lines],
            "notes": list(self.notes),
            "rules": [rule.reference() for rule in self.rules],
            "on": self.on.isoformat() if self.on else None,
        }


def _split(total: Money, weights: list[int]) -> list[Money]:
    if not weights:
        return []
    if total.amount == 0 or sum(weights) <= 0:
        if total.amount == 0:
            return [Money.zero(total.currency)] * len(weights)
        weights = [1] * len(weights)
    return total.allocate(weights)


def _scaled(values: list[Decimal]) -> list[int]:
    return [max(0, int(v * 1_000_000)) for v in values]


@dataclass(frozen=True)
class _Line:
    hs: str
    quantity: int
    value: Money  # local


def _normal_lines(lines) -> list[tuple[str, Money, int]]:
    out = []
    for line in lines:
        hs, value, *rest = line
        out.append((hs, value, int(rest[0]) if rest else 1))
    return out


def estimate(country: str, lines, shipping: Money, *, convert: Converter,
             postal_code: str | None = None, currency: str | None = None,
             registrations: dict[str, str] | None = None, on: date | None = None) -> DutyEstimate:
    """Estimate duty and VAT for ``lines`` ((HS code, value[, quantity]) with value the line
    total) and ``shipping`` on the day ``on``; ``registrations`` maps a collection scheme
    (IOSS, UK, AU, ...) to the marketplace's number; ``convert(money, currency)`` does FX."""
    on = on or date.today()
    rules = rules_in_force(country, on)
    registrations = registrations or {}
    target = currency
    used: list[Rule] = []

    def take(kind: str) -> Rule | None:
        rule = rules.get(kind)
        if rule is not None and rule not in used:
            used.append(rule)
        return rule

    regime_rule = take("regime")
    if regime_rule is not None:
        local = destination_currency(country, on)
        zero_local, zero = Money.zero(local), Money.zero(target or local)
        return DutyEstimate(
            country=country, regime=regime_rule.data["regime"], modes_allowed=BOTH_MODES,
            collector="none", scheme_number=None, currency=local, goods_value=zero_local,
            customs_value=zero_local, duty_local=zero_local, vat_local=zero_local,
            vat_rate=Decimal(0), duty_exempt=True, vat_exempt=True, lines=(),
            notes=(regime_rule.note or regime_rule.source,), duty=zero, vat=zero,
            rules=tuple(used), on=on)

    local = destination_currency(country, on)
    target = target or local
    notes: list[str] = []
    items = [_Line(hs, qty, convert(value, local)) for hs, value, qty in _normal_lines(lines)]
    goods = sum((line.value for line in items), Money.zero(local))
    valuation = take("valuation")
    basis = valuation.data.get("basis", "CIF") if valuation else "CIF"
    factor = Decimal(valuation.data.get("factor", "1")) if valuation else Decimal(1)
    freight_all = convert(shipping, local)
    freight = freight_all if basis == "CIF" else Money.zero(local)
    line_weights = [line.value.amount for line in items]
    freight_shares = (_split(freight, line_weights) if sum(line_weights) > 0
                      else [Money.zero(local)] * len(items))
    shipping_shares = (_split(freight_all, line_weights) if sum(line_weights) > 0
                       else [Money.zero(local)] * len(items))
    taxable_goods = [Decimal(line.value.amount) * factor for line in items]
    customs_values = [Money(round_half_up(g), local) + share
                      for g, share in zip(taxable_goods, freight_shares, strict=True)]
    customs_value = Money(round_half_up(sum(taxable_goods, Decimal(0))), local) + freight

    def in_threshold_currency(value: Money, threshold: Money) -> Money:
        return value if value.currency == threshold.currency else convert(value,
                                                                          threshold.currency)

    def basis_value(kind_basis: str) -> Money:
        if kind_basis == "goods_and_shipping":
            return goods + freight_all
        if kind_basis == "taxable_value":
            return Money(round_half_up(sum(taxable_goods, Decimal(0))), local)
        return goods

    def relieved(rule: Rule | None) -> bool | None:
        """True when the de minimis relieves the parcel; None when the rule has no limit."""
        if rule is None or rule.data.get("threshold") is None:
            return None
        excludes = tuple(rule.data.get("excludes", ()))
        if excludes and any(_digits(line.hs).startswith(excludes) for line in items):
            notes.append("The goods' heading is excluded from the de minimis relief.")
            return False
        threshold = _money(rule.data["threshold"])
        value = in_threshold_currency(basis_value(rule.data.get("basis", "goods")), threshold)
        return _within(value, threshold, rule.data.get("comparison", "le"))

    # --- who collects ------------------------------------------------------------------------
    collection = rules.get("collection")
    scheme = None
    if collection is not None:
        data = collection.data
        threshold = _money(data.get("threshold"))
        if threshold is None:
            within = True
        elif data.get("per") == "item":
            within = all(_within(in_threshold_currency(
                Money(line.value.amount // max(line.quantity, 1), local), threshold),
                threshold, data.get("comparison", "le")) for line in items)
        else:
            within = _within(in_threshold_currency(goods, threshold), threshold,
                             data.get("comparison", "le"))
        limit = f" up to {threshold.format()}" if threshold else ""
        if within and data["scheme"] in registrations:
            scheme = data["scheme"]
            used.append(collection)
            notes.append(f"The marketplace collects {country}'s VAT/GST at checkout under the "
                         f"{scheme} scheme ({registrations[scheme]}): DDP only.")
        elif within and data.get("mandatory"):
            used.append(collection)
            notes.append(f"{country} law makes the marketplace collect VAT/GST at the point of "
                         f"sale{limit}; it is not registered ({data['setting']} unset), so "
                         "the border collects instead.")
        elif not within and data["scheme"] in registrations:
            notes.append(f"Above the {data['scheme']} limit{limit}: taxes are due at the "
                         "border.")

    vat_rule = take("vat_rate")
    vat_rates = [_vat_rate(vat_rule, line.hs, postal_code) for line in items]
    headline_rate = _vat_rate(vat_rule, "", postal_code) if vat_rule else Decimal(0)

    duty_exact = [Decimal(0)] * len(items)
    duty_rates = [Decimal(0)] * len(items)
    flat_total: Money | None = None
    duty_exempt = False
    special_tax = False

    postal_tax = rules.get("postal_tax")
    flat_tax = rules.get("flat_tax")
    flat_duty = rules.get("flat_duty")
    if scheme is None and postal_tax is not None:
        used.append(postal_tax)
        special_tax = True
        for i, line in enumerate(items):
            duty_rates[i] = duty_rate(postal_tax.data["rates"], line.hs)
            duty_exact[i] = Decimal(line.value.amount) * duty_rates[i]
        notes.append("Postal articles tax replaces duty and VAT on personal parcels.")
    elif scheme is None and flat_tax is not None and _within(
            in_threshold_currency(goods, _money(flat_tax.data["max_consignment"])),
            _money(flat_tax.data["max_consignment"]), flat_tax.data.get("comparison", "le")):
        used.append(flat_tax)
        special_tax = True
        rate = Decimal(flat_tax.data["rate"])
        for i, line in enumerate(items):
            duty_rates[i] = rate
            duty_exact[i] = Decimal(line.value.amount) * rate
        notes.append(f"Low-value e-commerce parcel: one flat tax of {rate * 100:g}% instead of "
                     "duty and VAT.")
    else:
        applies_flat = (
            flat_duty is not None
            and flat_duty.data.get("requires_scheme") in (None, scheme)
            and _within(in_threshold_currency(goods, _money(flat_duty.data["max_consignment"])),
                        _money(flat_duty.data["max_consignment"]),
                        flat_duty.data.get("comparison", "le")))
        if applies_flat:
            used.append(flat_duty)
            amount = _money(flat_duty.data["amount"])
            categories = sorted({_digits(line.hs)[:6] for line in items})
            flat_total = convert(amount * len(categories), local)
            duty_exempt = True
            notes.append(f"Flat duty {amount.format()} per distinct 6-digit heading "
                         f"({len(categories)}: {', '.join(categories)}).")
        elif scheme is not None and collection.data.get("duty_free"):
            duty_exempt = True
            notes.append(f"Goods sold under {scheme} enter free of duty.")
        else:
            de_minimis = take("duty_de_minimis")
            relief = relieved(de_minimis)
            if relief:
                duty_exempt = True
                notes.append("Under the duty de minimis.")
            else:
                rates_rule = take("duty_rates")
                surcharge = take("surcharge")
                extra = Decimal(surcharge.data["rate"]) if surcharge else Decimal(0)
                if take("postal_rule") is not None:
                    notes.append("Postal item: the carrier collects duty from the addressee "
                                 "(DAP) unless prepaid (DDP).")
                for i, line in enumerate(items):
                    base = duty_rate(rates_rule.data["rates"], line.hs) if rates_rule else 0
                    duty_rates[i] = Decimal(base) + extra
                    duty_exact[i] = Decimal(customs_values[i].amount) * duty_rates[i]

    if flat_total is not None:
        # the flat amount of each heading goes to the lines of that heading by value
        groups: dict[str, list[int]] = {}
        for i, line in enumerate(items):
            groups.setdefault(_digits(line.hs)[:6], []).append(i)
        per_heading = _split(flat_total, [1] * len(groups))
        duty_lines = [Money.zero(local)] * len(items)
        for share, members in zip(per_heading, groups.values(), strict=True):
            parts = _split(share, [items[i].value.amount for i in members])
            for i, part in zip(members, parts, strict=True):
                duty_lines[i] = part
        duty_local = flat_total
    else:
        duty_local = Money(round_half_up(sum(duty_exact, Decimal(0))), local)
        duty_lines = _split(duty_local, _scaled(duty_exact))

    # --- VAT / GST -----------------------------------------------------------------------------
    vat_exempt = False
    taxable: list[Money] | None = None
    if special_tax:
        vat_exact = [Decimal(0)] * len(items)
        vat_exempt = True
        vat_rates = [Decimal(0)] * len(items)
        headline_rate = Decimal(0)
    elif scheme is not None:
        base = collection.data.get("vat_base", "goods_and_shipping")
        # a supply tax at the point of sale: on the price of the goods and their delivery
        taxable = [line.value + (ship if base == "goods_and_shipping" else Money.zero(local))
                   for line, ship in zip(items, shipping_shares, strict=True)]
        vat_exact = [
            Decimal(line.value.amount + (ship.amount if base == "goods_and_shipping" else 0))
            * rate for line, ship, rate in zip(items, shipping_shares, vat_rates, strict=True)]
    else:
        vat_de_minimis = take("vat_de_minimis")
        relief = relieved(vat_de_minimis)
        if relief:
            vat_exempt = True
            notes.append("Under the VAT de minimis." if not vat_de_minimis.data.get(
                "applies_without_collection") else
                "Not registered for point-of-sale GST: parcels within the limit are not "
                "charged GST at the border.")
            vat_exact = [Decimal(0)] * len(items)
        else:
            adds_shipping = (valuation is not None
                             and valuation.data.get("vat_base") == "goods_and_shipping"
                             and basis != "CIF")
            vat_exact = [
                Decimal(cv.amount + duty.amount + (ship.amount if adds_shipping else 0)) * rate
                for cv, duty, ship, rate in zip(customs_values, duty_lines, shipping_shares,
                                                vat_rates, strict=True)]
    vat_local = Money(round_half_up(sum(vat_exact, Decimal(0))), local)
    vat_lines = _split(vat_local, _scaled(vat_exact))

    waived = take("tax_waived_up_to") if scheme is None else None
    if waived is not None and (duty_local + vat_local).amount > 0:
        threshold = _money(waived.data["threshold"])
        if _within(in_threshold_currency(duty_local + vat_local, threshold), threshold,
                   waived.data.get("comparison", "le")):
            duty_local, vat_local = Money.zero(local), Money.zero(local)
            duty_lines = [Money.zero(local)] * len(items)
            vat_lines = [Money.zero(local)] * len(items)
            duty_exempt = vat_exempt = True
            notes.append(f"Taxes of {threshold.format()} or less are not collected.")
    if duty_local.amount == 0 and not special_tax and flat_total is None:
        duty_exempt = True

    # --- carrier's fee on DAP ------------------------------------------------------------------
    fee_local = fee = None
    carrier = None
    fee_rule = rules.get("handling_fee")
    if scheme is None and fee_rule is not None and (duty_local + vat_local).amount > 0:
        used.append(fee_rule)
        carrier = fee_rule.data.get("carrier")
        amount = _money(fee_rule.data.get("amount"))
        above = _money(fee_rule.data.get("above_threshold"))
        if amount is None:
            notes.append(f"On DAP the carrier ({carrier}) may add a clearance fee we do not "
                         "know.")
        elif above is None or not _within(in_threshold_currency(goods, above), above, "le"):
            fee_local = convert(amount, local)
            fee = convert(amount, target)
            notes.append(f"On DAP {carrier} adds its fee of {amount.format()}.")

    duty_total = convert(duty_local, target)
    vat_total = convert(vat_local, target)
    duty_target = _split(duty_total, [m.amount for m in duty_lines])
    vat_target = _split(vat_total, [m.amount for m in vat_lines])
    taxable_target: list[Money | None] = [None] * len(items)
    if taxable:
        taxable_target = _split(convert(sum(taxable, Money.zero(local)), target),
                                [m.amount for m in taxable])
    taxable = taxable or [None] * len(items)
    out_lines = tuple(
        DutyLine(hs_code=line.hs, quantity=line.quantity, value=line.value,
                 customs_value=cv, rate=rate, vat_rate=vrate, duty_local=dl, vat_local=vl,
                 duty=dt, vat=vt, taxable_local=base, taxable=base_target)
        for line, cv, rate, vrate, dl, vl, dt, vt, base, base_target in zip(
            items, customs_values, duty_rates, vat_rates, duty_lines, vat_lines, duty_target,
            vat_target, taxable, taxable_target, strict=True))
    for rule in used:
        if not rule.confirmed:
            notes.append(f"Unconfirmed rule ({rule.kind}): {rule.note or rule.source}")
    return DutyEstimate(
        country=country, regime=scheme or "customs",
        modes_allowed=("DDP",) if scheme else BOTH_MODES,
        collector="marketplace" if scheme else "carrier",
        scheme_number=registrations.get(scheme) if scheme else None,
        currency=local, goods_value=goods, customs_value=customs_value,
        duty_local=duty_local, vat_local=vat_local, vat_rate=headline_rate,
        duty_exempt=duty_exempt, vat_exempt=vat_exempt, lines=out_lines, notes=tuple(notes),
        duty=duty_total, vat=vat_total, carrier_fee_local=fee_local, carrier_fee=fee,
        carrier=carrier, rules=tuple(used), on=on)
