"""The rules table, rule by rule: exactly at, just below and just above every limit, goods vs
goods + shipping, the threshold's currency vs the order's, and who collects (DDP only under a
point-of-sale scheme). The engine is called directly with fixed dates and exchange rates
(1 USD = 500 KZT = 0.9 EUR = 0.8 GBP = ...), so every figure can be worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.money import PRESENTMENT_CURRENCIES, Money
from marketplace.shipping import duties
from marketplace.shipping.duties import destinations, estimate, rules_file, rules_in_force

RATES = {
    "USD": "1", "KZT": "500", "EUR": "0.9", "GBP": "0.8", "JPY": "150", "CAD": "1.4",
    "CHF": "0.8", "CNY": "7.2", "AUD": "1.5", "KRW": "1400", "TRY": "40", "AED": "3.6725",
    "RUB": "80", "NZD": "1.6", "NOK": "10", "SEK": "10", "DKK": "6.5", "PLN": "4", "CZK": "20",
    "HUF": "350", "RON": "4.5", "SGD": "1.25", "ILS": "3.5", "BYN": "3", "AMD": "400",
    "KGS": "87.5",
}
DAY = date(2026, 12, 1)
EU27 = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
OTHERS = {"GB", "NO", "CH", "US", "CA", "AU", "NZ", "JP", "KR", "CN", "SG", "AE", "TR", "IL",
          "RU", "BY", "AM", "KG"}
ALL_REGISTERED = {"IOSS": "IM3721234567", "UK": "GB980780684", "AU": "300000000000",
                  "NZ": "49091850", "NO": "VOEC2012345", "CH": "CHE116281710MWST",
                  "SG": "M90312345A"}


def convert(money: Money, currency: str) -> Money:
    if money.currency == currency:
        return money
    return money.convert(currency, Decimal(RATES[currency]) / Decimal(RATES[money.currency]))


def run(country, lines, shipping, *, registered=(), on=DAY, currency=None, postal_code=None):
    regs = {k: v for k, v in ALL_REGISTERED.items() if k in registered}
    return estimate(country, lines, shipping, convert=convert, registrations=regs, on=on,
                    currency=currency, postal_code=postal_code)


def m(major: str, currency: str) -> Money:
    return Money.from_major(major, currency)


# --- the table itself ---------------------------------------------------------------------

def test_every_destination_of_the_issue_has_rules():
    assert set(destinations()) >= EU27 | OTHERS
    for country in EU27:
        assert destinations()[country]["union"] == "EU"


def test_every_row_names_its_source_legal_reference_and_dates():
    rows = [r for d in destinations().values() for r in d["rules"]]
    rows += [r for u in rules_file()["unions"].values() for r in u["rules"]]
    for row in rows:
        assert row["source"] and row["legal_reference"], row
        assert "valid_from" in row and "valid_to" in row and "confirmed" in row, row
        date.fromisoformat(row["valid_from"])
        if row["valid_to"]:
            assert date.fromisoformat(row["valid_to"]) > date.fromisoformat(row["valid_from"])
        if not row["confirmed"]:
            assert row.get("note") or "not" in row["source"].lower() or row["source"], row


def test_every_destination_currency_is_a_presentment_currency():
    for country, entry in destinations().items():
        assert entry["currency"] in PRESENTMENT_CURRENCIES, country
        assert duties.destination_currency(country, DAY) in PRESENTMENT_CURRENCIES
        assert entry["name"]["en"] and entry["name"]["fr"]


def test_every_customs_destination_has_a_vat_rate_and_valuation_in_force():
    for country in destinations():
        rules = rules_in_force(country, DAY)
        if "regime" in rules:
            continue
        assert "valuation" in rules and "vat_rate" in rules or "postal_tax" in rules, country


def test_rows_change_on_their_dates():
    assert rules_in_force("EE", date(2025, 6, 30))["vat_rate"].data["rate"] == "0.22"
    assert rules_in_force("EE", date(2025, 7, 1))["vat_rate"].data["rate"] == "0.24"
    assert "flat_duty" not in rules_in_force("DE", date(2026, 6, 30))
    assert "flat_duty" in rules_in_force("DE", date(2026, 7, 1))
    assert "flat_duty" not in rules_in_force("DE", date(2028, 7, 1))


# --- EU: IOSS and the interim flat duty ---------------------------------------------------

@pytest.mark.parametrize(("goods", "scheme"), [("149.99", "IOSS"), ("150.00", "IOSS"),
                                               ("150.01", "customs")])
def test_eu_ioss_limit_is_150_euros_of_goods(goods, scheme):
    result = run("DE", [("570490", m(goods, "EUR"))], m("20", "EUR"), registered={"IOSS"})
    assert result.regime == scheme
    assert result.modes_allowed == (("DDP",) if scheme == "IOSS" else ("DDP", "DAP"))


def test_eu_ioss_parcel_pays_flat_duty_per_distinct_six_digit_heading_and_vat_on_the_price():
    lines = [("5704900010", m("40", "EUR")), ("570490", m("30", "EUR")),
             ("630790", m("10", "EUR"))]
    result = run("DE", lines, m("20", "EUR"), registered={"IOSS"})
    assert result.regime == "IOSS" and result.collector == "marketplace"
    assert result.scheme_number == "IM3721234567"
    assert result.duty_local == m("6", "EUR")  # 5704.90 and 6307.90: two headings
    assert result.vat_local == m("19.00", "EUR")  # 19% x (80 goods + 20 shipping)


def test_the_flat_duty_applies_only_from_2026_07_01_and_only_with_ioss():
    lines = [("570490", m("100", "EUR"))]
    before = run("DE", lines, m("10", "EUR"), registered={"IOSS"}, on=date(2026, 6, 30))
    assert before.duty_local == m("0", "EUR") and before.regime == "IOSS"
    relieved = run("DE", lines, m("10", "EUR"), on=date(2026, 6, 30))
    assert relieved.regime == "customs" and relieved.duty_local == m("0", "EUR")
    assert relieved.vat_local == m("20.90", "EUR")  # 19% x (100 + 10) CIF, under the relief
    # from 2026-07-01 the EUR 150 relief is gone for every consignment; without IOSS no flat
    # duty either: 5704 at 6.7% x 110 CIF = 7.37, VAT 19% x (110 + 7.37) = 22.30
    without_ioss = run("DE", lines, m("10", "EUR"), on=date(2026, 7, 1))
    assert without_ioss.regime == "customs" and without_ioss.duty_local == m("7.37", "EUR")
    assert without_ioss.vat_local == m("22.30", "EUR")
    # after the interim (2028-07-01) the tariff's rates apply to IOSS consignments as well
    ended = run("DE", lines, m("10", "EUR"), registered={"IOSS"}, on=date(2028, 7, 1))
    assert ended.duty_local == m("7.37", "EUR")


def test_eu_above_150_pays_duty_by_heading_on_cif_and_vat_at_the_border():
    # 200 EUR felt rug 5704 (6.7%) + 20 shipping: duty 6.7% x 220 = 14.74; VAT 19% x 234.74
    result = run("DE", [("570490", m("200", "EUR"))], m("20", "EUR"), registered={"IOSS"})
    assert result.duty_local == m("14.74", "EUR")
    assert result.vat_local == m("44.60", "EUR")
    assert result.regime == "customs" and "DAP" in result.modes_allowed


def test_eu_limit_in_euros_applies_to_a_member_outside_the_euro():
    # 150 EUR = 583.33 PLN; the order is in USD: 150 EUR = 166.67 USD
    at = run("PL", [("570490", m("166.66", "USD"))], m("5", "USD"), registered={"IOSS"})
    above = run("PL", [("570490", m("166.68", "USD"))], m("5", "USD"), registered={"IOSS"})
    assert at.currency == "PLN" and at.regime == "IOSS"
    assert above.regime == "customs"


def test_works_of_art_take_the_reduced_import_vat_where_the_table_has_one():
    result = run("DE", [("970191", m("500", "EUR"))], m("0", "EUR"))
    assert result.lines[0].vat_rate == Decimal("0.07")


# --- United Kingdom -----------------------------------------------------------------------

@pytest.mark.parametrize(("goods", "regime"), [("134.99", "UK"), ("135.00", "UK"),
                                               ("135.01", "customs")])
def test_uk_point_of_sale_vat_up_to_135_pounds_of_goods(goods, regime):
    result = run("GB", [("630790", m(goods, "GBP"))], m("30", "GBP"), registered={"UK"})
    assert result.regime == regime


def test_uk_under_135_vat_on_goods_and_shipping_no_duty():
    result = run("GB", [("630790", m("100", "GBP"))], m("20", "GBP"), registered={"UK"})
    assert result.duty_local == m("0", "GBP") and result.vat_local == m("24", "GBP")
    assert result.modes_allowed == ("DDP",)


def test_uk_limit_excludes_shipping():
    # goods 135 + shipping 50 = 185: still within, the limit is on the goods
    assert run("GB", [("630790", m("135", "GBP"))], m("50", "GBP"),
               registered={"UK"}).regime == "UK"


def test_uk_without_registration_the_border_collects_and_says_the_law_wants_us_to():
    result = run("GB", [("630790", m("100", "GBP"))], m("20", "GBP"))
    assert result.regime == "customs" and result.modes_allowed == ("DDP", "DAP")
    assert result.vat_local == m("24", "GBP")
    assert any("UK_VAT_NUMBER unset" in note for note in result.notes)
    assert result.carrier_fee_local == m("8", "GBP")


def test_uk_above_135_duty_by_heading_on_cif():
    # 200 + 20 shipping; 6307 6% -> 13.20; VAT 20% x 233.20 = 46.64
    result = run("GB", [("630790", m("200", "GBP"))], m("20", "GBP"), registered={"UK"})
    assert (result.duty_local, result.vat_local) == (m("13.20", "GBP"), m("46.64", "GBP"))


# --- Australia and New Zealand ------------------------------------------------------------

@pytest.mark.parametrize(("country", "currency", "scheme"), [("AU", "AUD", "AU"),
                                                            ("NZ", "NZD", "NZ")])
@pytest.mark.parametrize(("goods", "within"), [("999.99", True), ("1000.00", True),
                                                ("1000.01", False)])
def test_au_nz_low_value_goods_limit_is_1000(country, currency, scheme, goods, within):
    result = run(country, [("630790", m(goods, currency))], m("100", currency),
                 registered={scheme})
    assert result.regime == (scheme if within else "customs")
    if within:
        rate = Decimal("0.10") if country == "AU" else Decimal("0.15")
        expected = (Money.from_major(goods, currency) + m("100", currency)).apply_rate(rate)
        assert result.vat_local == expected and result.duty_local == m("0", currency)


def test_au_unregistered_low_value_parcel_pays_no_gst_at_the_border():
    result = run("AU", [("630790", m("500", "AUD"))], m("50", "AUD"))
    assert result.regime == "customs" and result.vat_local == m("0", "AUD")
    assert any("AU_ARN unset" in note for note in result.notes)


def test_au_above_1000_gst_includes_international_transport():
    # FOB customs value 1,200; duty 5% = 60; GST 10% x (1,200 + 60 + 100 transport) = 136
    result = run("AU", [("630790", m("1200", "AUD"))], m("100", "AUD"), registered={"AU"})
    assert (result.duty_local, result.vat_local) == (m("60", "AUD"), m("136", "AUD"))


# --- Norway: VOEC per item, strictly below NOK 3,000 --------------------------------------

@pytest.mark.parametrize(("unit", "scheme"), [("2999.99", "NO"), ("3000.00", "customs"),
                                              ("3000.01", "customs")])
def test_voec_limit_is_per_item_below_3000(unit, scheme):
    result = run("NO", [("630790", m(unit, "NOK"), 1)], m("100", "NOK"), registered={"NO"})
    assert result.regime == scheme


def test_voec_counts_items_not_the_parcel_and_goods_enter_duty_free():
    # two slippers at 2,000 each: the parcel is 4,000 but each item is below 3,000
    result = run("NO", [("640420", m("4000", "NOK"), 2)], m("200", "NOK"), registered={"NO"})
    assert result.regime == "NO" and result.duty_local == m("0", "NOK")
    assert result.vat_local == m("1050", "NOK")  # 25% x (4,000 + 200)


# --- Switzerland ---------------------------------------------------------------------------

def test_switzerland_registered_is_ddp_for_every_value():
    result = run("CH", [("570490", m("5000", "CHF"))], m("50", "CHF"), registered={"CH"})
    assert result.regime == "CH" and result.modes_allowed == ("DDP",)


@pytest.mark.parametrize(("goods", "waived"), [("61.72", True), ("61.79", True),
                                               ("61.80", False)])
def test_switzerland_waives_import_vat_of_5_francs_or_less(goods, waived):
    # 8.1% x 61.79 = 5.0050 -> 5.00 (waived); 8.1% x 61.80 = 5.0058 -> 5.01 (collected)
    result = run("CH", [("570490", m(goods, "CHF"))], m("0", "CHF"))
    assert (result.vat_local.amount == 0) == waived


# --- Canada --------------------------------------------------------------------------------

@pytest.mark.parametrize(("goods", "exempt"), [("19.99", True), ("20.00", True), ("20.01", False)])
def test_canada_postal_de_minimis_is_20_dollars(goods, exempt):
    result = run("CA", [("630790", m(goods, "CAD"))], m("30", "CAD"))
    assert (result.total_local.amount == 0) == exempt


def test_canada_hst_from_the_postal_code_and_the_canada_post_fee_on_dap():
    # FOB 100; duty 18% = 18; HST Ontario 13% x 118 = 15.34; fee 9.95
    result = run("CA", [("630790", m("100", "CAD"))], m("30", "CAD"), postal_code="M5V 2T6")
    assert (result.duty_local, result.vat_local) == (m("18", "CAD"), m("15.34", "CAD"))
    assert result.carrier_fee_local == m("9.95", "CAD")
    assert result.payable_on_delivery() == m("43.29", "CAD")


# --- United States -------------------------------------------------------------------------

def test_us_de_minimis_ended_on_2025_08_29():
    lines = [("630790", m("800", "USD"))]
    assert run("US", lines, m("0", "USD"), on=date(2025, 8, 28)).total_local.amount == 0
    assert run("US", lines, m("0", "USD"), on=date(2025, 8, 29)).duty_local.amount > 0


def test_us_surcharge_of_its_period_is_added_to_the_duty_rate():
    lines = [("630790", m("100", "USD"))]
    during = run("US", lines, m("30", "USD"), on=date(2026, 3, 1))
    after = run("US", lines, m("30", "USD"), on=date(2026, 7, 24))
    assert during.lines[0].rate == Decimal("0.17") and after.lines[0].rate == Decimal("0.07")
    assert after.duty_local == m("7", "USD")  # FOB: shipping is not dutiable


# --- Japan, Korea, China, Singapore, UAE, Türkiye, Israel ----------------------------------

@pytest.mark.parametrize(("goods", "exempt"), [("16666", True), ("16667", True), ("16668", False)])
def test_japan_exempts_taxable_value_of_10000_yen_at_60_percent(goods, exempt):
    # taxable value = 60% of the price: 16,667 x 0.6 = 10,000.2 -> 10,000 (within)
    result = run("JP", [("630790", m(goods, "JPY"))], m("0", "JPY"))
    assert (result.total_local.amount == 0) == exempt


def test_japan_exemption_does_not_cover_leather_bags():
    result = run("JP", [("420221", m("5000", "JPY"))], m("0", "JPY"))
    assert result.duty_local.amount > 0


@pytest.mark.parametrize(("usd", "exempt"), [("149.99", True), ("150.00", True),
                                             ("150.01", False)])
def test_korea_list_clearance_limit_is_150_dollars_in_the_order_currency(usd, exempt):
    result = run("KR", [("630790", m(usd, "USD"))], m("10", "USD"), currency="USD")
    assert result.currency == "KRW"
    assert (result.total_local.amount == 0) == exempt


@pytest.mark.parametrize(("goods", "waived"), [("249.95", True), ("250.00", True),
                                               ("250.05", False)])
def test_china_postal_tax_of_50_yuan_or_less_is_waived(goods, waived):
    result = run("CN", [("630790", m(goods, "CNY"))], m("40", "CNY"))
    assert (result.total_local.amount == 0) == waived
    if not waived:
        assert result.duty_local == Money.from_major(goods, "CNY").apply_rate(Decimal("0.20"))


@pytest.mark.parametrize(("goods", "taxed"), [("350.00", False), ("360.00", True)])
def test_singapore_import_relief_is_400_dollars_cif_without_ovr(goods, taxed):
    # relief on goods + shipping: 350 + 50 = 400 (relieved), 360 + 50 = 410 (9% GST)
    result = run("SG", [("630790", m(goods, "SGD"))], m("50", "SGD"))
    assert (result.vat_local.amount > 0) == taxed


def test_singapore_ovr_collects_9_percent_per_item_up_to_400():
    result = run("SG", [("630790", m("800", "SGD"), 2)], m("50", "SGD"), registered={"SG"})
    assert result.regime == "SG" and result.vat_local == m("76.50", "SGD")


@pytest.mark.parametrize(("aed", "duty_free"), [("1000.00", True), ("1000.01", False)])
def test_uae_duty_relief_up_to_1000_dirham_vat_always(aed, duty_free):
    result = run("AE", [("630790", m(aed, "AED"))], m("0", "AED"))
    assert (result.duty_local.amount == 0) == duty_free and result.vat_local.amount > 0


@pytest.mark.parametrize(("eur", "flat"), [("30.00", True), ("30.01", False)])
def test_turkiye_flat_tax_up_to_30_euros(eur, flat):
    result = run("TR", [("630790", m(eur, "EUR"))], m("0", "EUR"), currency="EUR")
    assert result.currency == "TRY"
    # 60%: goods that do not come directly from the EU (the decision of 2024-08-06)
    assert (result.lines[0].rate == Decimal("0.60")) == flat
    assert (result.vat_local.amount == 0) == flat


@pytest.mark.parametrize(("usd", "vat", "duty"), [("75.00", False, False), ("75.01", True, False),
                                                  ("500.00", True, False),
                                                  ("500.01", True, True)])
def test_israel_75_dollar_vat_and_500_dollar_duty_limits(usd, vat, duty):
    result = run("IL", [("630790", m(usd, "USD"))], m("20", "USD"))
    assert (result.vat_local.amount > 0) == vat
    assert (result.duty_local.amount > 0) == duty


@pytest.mark.parametrize("country", ["RU", "BY", "AM", "KG"])
def test_eaeu_has_no_customs_border_with_kazakhstan(country):
    result = run(country, [("630790", m("100000", "KZT"))], m("5000", "KZT"))
    assert result.regime == "customs_union" and result.total.amount == 0


# --- the breakdown always adds up ---------------------------------------------------------

HS = ["570490", "630790", "640420", "950300", "940490", "711311", "420221", "970191", "442090"]
money_amounts = st.integers(min_value=0, max_value=5_000_000)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(country=st.sampled_from(sorted(EU27 | OTHERS)),
       lines=st.lists(st.tuples(st.sampled_from(HS), money_amounts,
                                st.integers(min_value=1, max_value=5)), min_size=1, max_size=6),
       shipping=money_amounts, currency=st.sampled_from(["USD", "EUR", "KZT", "JPY", "GBP"]),
       registered=st.sets(st.sampled_from(sorted(ALL_REGISTERED))),
       day=st.dates(min_value=date(2025, 1, 1), max_value=date(2029, 1, 1)))
def test_the_per_line_breakdown_sums_to_the_estimate(country, lines, shipping, currency,
                                                     registered, day):
    result = run(country, [(hs, Money(amount, "KZT"), qty) for hs, amount, qty in lines],
                 Money(shipping, "KZT"), registered=registered, on=day, currency=currency)
    if result.regime in ("customs_union", "domestic"):
        assert result.total.amount == 0
        return
    assert len(result.lines) == len(lines)
    assert sum(line.duty.amount for line in result.lines) == result.duty.amount
    assert sum(line.vat.amount for line in result.lines) == result.vat.amount
    assert sum(line.duty_local.amount for line in result.lines) == result.duty_local.amount
    assert sum(line.vat_local.amount for line in result.lines) == result.vat_local.amount
    assert result.duty.currency == result.vat.currency == currency
    assert result.modes_allowed in (("DDP",), ("DDP", "DAP"))
    assert (result.modes_allowed == ("DDP",)) == (result.regime in ALL_REGISTERED)
