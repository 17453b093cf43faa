"""Rate tables: the data file, chargeable weight, and operators' edits (CLI)."""

from __future__ import annotations

from marketplace.money import Money
from marketplace.shipping import service
from marketplace.shipping.rates import Parcel, rates_file
from tests.shipping.conftest import silver_earrings


def test_rates_file_names_its_source_date_and_two_services_from_almaty():
    data = rates_file()
    assert data["source"] and data["as_of"] and data["origin"]["city"] == "Almaty"
    assert {"ems", "express"} <= set(data["services"])
    for spec in data["services"].values():
        assert spec["max_weight_g"] > 0
        for zone, rates in spec["zones"].items():
            assert zone in data["zones"]
            weights = [up_to for up_to, _ in rates["brackets"]]
            assert weights == sorted(weights) and weights[-1] == spec["max_weight_g"]
            assert 0 < rates["eta_days"]["min"] <= rates["eta_days"]["max"]


def test_chargeable_weight_is_the_larger_of_gross_and_volumetric():
    light_but_big = Parcel(items_weight_g=1000, packaging_g=250, volume_mm3=500 * 400 * 300,
                           longest_side_mm=500)
    # 60,000,000 mm3 / 5000 = 12,000 g > 1,250 g
    assert light_but_big.chargeable_weight_g == 12_000
    heavy_but_small = Parcel(items_weight_g=5000, packaging_g=250, volume_mm3=200 * 200 * 100,
                             longest_side_mm=200)
    # 4,000,000 / 5000 = 800 g < 5,250 g
    assert heavy_but_small.chargeable_weight_g == 5_250
    # partial grams round up: 5,001 mm3 / 5000 = 1.0002 -> 2 g
    assert Parcel(0, 0, 5_001, 1).volumetric_weight_g == 2


def test_bracket_boundaries_are_inclusive():
    ems_z4 = service.rate_table().services["ems"].zones["Z4"]
    assert ems_z4.price_for(500).up_to_g == 500
    assert ems_z4.price_for(501).up_to_g == 1000
    assert ems_z4.price_for(30_001) is None


def test_operator_sets_a_rate_with_the_cli_and_the_next_quote_uses_it(runner):
    earrings = silver_earrings()
    before = service.quote("DE", None, [(earrings, 1)], "KZT")
    assert {o.service: o.amount for o in before.options}["ems"] == Money(1_250_000, "KZT")

    result = runner.invoke(args=["shipping", "set-rate", "ems", "Z4", "500", "11990.50"])
    assert result.exit_code == 0, result.output
    assert "11,990.50 KZT" in result.output

    after = service.quote("DE", None, [(earrings, 1)], "KZT")
    assert {o.service: o.amount for o in after.options}["ems"] == Money(1_199_050, "KZT")
    assert after.options[0].rate_version != before.options[0].rate_version
    listing = runner.invoke(args=["shipping", "rates", "--service", "ems", "--zone", "Z4"])
    assert "11,990.50 KZT  (override)" in listing.output

    cleared = runner.invoke(args=["shipping", "set-rate", "ems", "Z4", "500", "--clear"])
    assert cleared.exit_code == 0 and "override removed" in cleared.output
    again = service.quote("DE", None, [(earrings, 1)], "KZT")
    assert {o.service: o.amount for o in again.options}["ems"] == Money(1_250_000, "KZT")
    assert again.options[0].rate_version == before.options[0].rate_version


def test_operator_can_add_a_bracket_inside_the_weight_limit(runner):
    result = runner.invoke(args=["shipping", "set-rate", "ems", "Z4", "250", "9000"])
    assert result.exit_code == 0, result.output
    ems_z4 = service.rate_table().services["ems"].zones["Z4"]
    assert ems_z4.price_for(200).amount == Money(900_000, "KZT")
    assert ems_z4.price_for(300).amount == Money(1_250_000, "KZT")


def test_set_rate_refuses_bad_input(runner):
    for args, message in (
        (["ems", "Z9", "500", "100"], "unknown zone"),
        (["post", "Z4", "500", "100"], "unknown service"),
        (["ems", "Z4", "40000", "100"], "up_to_g"),
        (["ems", "Z4", "0", "100"], "up_to_g"),
        (["ems", "Z4", "500", "0"], "positive"),
        (["ems", "Z4", "500", "--", "-5"], "positive"),
        (["ems", "Z4", "500", "12.345"], "not an amount"),
        (["ems", "Z4", "500", "lots"], "not an amount"),
    ):
        result = runner.invoke(args=["shipping", "set-rate", *args])
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert not any(b.overridden for s in service.rate_table().services.values()
                   for z in s.zones.values() for b in z.brackets)
