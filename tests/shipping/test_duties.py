"""estimate_duties: destination rules by hand (rates in conftest: 1 USD = 500 KZT = ...)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.errors import ValidationFailed
from marketplace.money import Money
from marketplace.shipping import service
from marketplace.shipping.duties import countries_with_rules, country_rules
from marketplace.shipping.rates import duties_file

REQUIRED = {"US", "GB", "CA", "AU", "JP", "KR", "CN", "TR", "AE", "RU", "DE", "FR", "IT", "ES",
            "NL", "PL", "SE", "BE", "AT", "CH"}


def kzt(major: int) -> Money:
    return Money(major * 100, "KZT")


def test_duty_rules_cover_the_twenty_required_destinations_with_sources_and_dates():
    assert countries_with_rules() >= REQUIRED
    data = duties_file()
    assert data["as_of"] and data["accuracy"]
    for country in REQUIRED:
        rules = country_rules(country)
        assert rules.get("source") or rules.get("note"), country
        if rules.get("regime", "customs") == "customs":
            assert rules["source"], country
            assert Decimal(rules["vat_rate"]) >= 0
            assert "default" in rules["duty_rates"]
    assert data["customs_forms"]["usd_per_sdr"] and data["customs_forms"]["usd_per_sdr_as_of"]


def test_every_country_in_a_shipping_zone_has_duty_rules_and_is_served():
    zone_countries = set(service.rate_table().zone_of_country)
    assert zone_countries <= countries_with_rules()
    assert service.served_countries() == zone_countries
    assert zone_countries >= REQUIRED


def test_gb_under_135_pounds_pays_vat_on_goods_and_shipping_but_no_duty():
    # goods 62,500 KZT x 0.0016 = 100.00 GBP <= 135: no duty; shipping 12,500 KZT = 20.00 GBP
    # VAT 20% x 120.00 = 24.00 GBP
    estimate = service.estimate_duties("GB", [("6304", kzt(62_500))], kzt(12_500))
    assert estimate.duty == Money(0, "GBP")
    assert estimate.vat == Money(2400, "GBP")
    assert estimate.duty_exempt and not estimate.vat_exempt


def test_gb_over_135_pounds_pays_duty_by_hs_chapter_on_cif():
    # goods 100,000 KZT = 160.00 GBP; + 20.00 shipping = 180.00; duty 12% (ch. 63) = 21.60
    # VAT 20% x 201.60 = 40.32
    estimate = service.estimate_duties("GB", [("6304", kzt(100_000))], kzt(12_500))
    assert (estimate.duty, estimate.vat) == (Money(2160, "GBP"), Money(4032, "GBP"))


def test_canada_takes_hst_from_the_postal_code_province():
    # goods 50,000 KZT x 0.0028 = 140.00 CAD > 20; FOB; duty 18% (ch. 63) = 25.20
    # Ontario (M...) HST 13% x 165.20 = 21.476 -> 21.48; Alberta (T...) GST 5% = 8.26
    ontario = service.estimate_duties("CA", [("6304", kzt(50_000))], kzt(20_000),
                                      postal_code="m5v 2t6")
    assert (ontario.duty, ontario.vat) == (Money(2520, "CAD"), Money(2148, "CAD"))
    alberta = service.estimate_duties("CA", [("6304", kzt(50_000))], kzt(20_000),
                                      postal_code="T2P 1J9")
    assert alberta.vat == Money(826, "CAD")


def test_switzerland_waives_import_vat_of_five_francs_or_less():
    # goods 10,000 KZT x 0.0016 = 16.00 CHF, shipping 12,500 KZT = 20.00 CHF, no duty;
    # VAT 8.1% x 36.00 = 2.916 -> 2.92 <= 5.00: waived
    small = service.estimate_duties("CH", [("4420", kzt(10_000))], kzt(12_500))
    assert small.total == Money(0, "CHF") and small.vat_exempt
    # goods 100,000 KZT = 160.00 CHF: VAT 8.1% x 180.00 = 14.58
    large = service.estimate_duties("CH", [("4420", kzt(100_000))], kzt(12_500))
    assert (large.duty, large.vat) == (Money(0, "CHF"), Money(1458, "CHF"))


def test_eaeu_neighbours_pay_nothing_at_the_border():
    for country in ("RU", "KG", "BY", "AM"):
        estimate = service.estimate_duties(country, [("7113", kzt(900_000))], kzt(10_000),
                                           currency="USD")
        assert estimate.total == Money(0, "USD")
        assert estimate.regime == "customs_union"


def test_china_postal_tax_waived_up_to_50_yuan_and_50_percent_on_jewellery():
    # 5,000 KZT x 0.0144 = 72.00 CNY; 50% = 36.00 <= 50: waived
    assert service.estimate_duties("CN", [("7113", kzt(5_000))], kzt(9_500)).total == Money(
        0, "CNY")
    # 45,000 KZT = 648.00 CNY; 50% = 324.00 CNY (FOB, no separate VAT)
    estimate = service.estimate_duties("CN", [("7113", kzt(45_000))], kzt(9_500))
    assert (estimate.duty, estimate.vat) == (Money(32400, "CNY"), Money(0, "CNY"))


def test_japan_de_minimis_does_not_cover_leather_bags():
    # 20,000 KZT = 6,000 JPY, under 10,000 but chapter 42 is excluded: CIF 6,000 + 3,000 =
    # 9,000; duty 10% = 900; tax 10% x 9,900 = 990
    estimate = service.estimate_duties("JP", [("4202", kzt(20_000))], kzt(10_000))
    assert (estimate.duty, estimate.vat) == (Money(900, "JPY"), Money(990, "JPY"))


def test_eu_flat_duty_counts_each_hs_code_once_and_converts_to_the_buyer_currency():
    # 2 lines of 7113 + 1 of 6912, goods 30,000 KZT = 54.00 EUR: flat 3.00 x 2 codes = 6.00
    # VAT FR 20% x (54.00 + 9.00 shipping + 6.00) = 13.80; total 19.80 EUR = 22.00 USD
    lines = [("7113", kzt(10_000)), ("7113", kzt(10_000)), ("6912", kzt(10_000))]
    estimate = service.estimate_duties("FR", lines, kzt(5_000), currency="USD")
    assert (estimate.duty_local, estimate.vat_local) == (Money(600, "EUR"), Money(1380, "EUR"))
    assert estimate.total == Money(2200, "USD")


def test_unknown_or_unserved_destination_is_422():
    with pytest.raises(ValidationFailed):
        service.estimate_duties("XX", [("7113", kzt(1))], kzt(1))
    with pytest.raises(ValidationFailed):
        service.estimate_duties("BR", [("7113", kzt(1))], kzt(1))
