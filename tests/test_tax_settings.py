"""Registration numbers of the collection schemes and the exporter's ids: read in their compact
form, refused (naming the setting) when malformed or when their check digit is wrong."""

from __future__ import annotations

import pytest

from marketplace.config import ConfigError, Settings, load_config, tax_number

NAMES = ("EXPORTER_BIN", "IOSS_NUMBER", "UK_VAT_NUMBER", "AU_ARN", "NZ_GST_NUMBER",
         "NO_VOEC_NUMBER", "CH_VAT_NUMBER", "SG_GST_NUMBER", "EORI_NUMBER")


@pytest.fixture
def clean(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("name", "value", "compact"), [
    # published BINs of Kazakh banks (Kaspi Bank, Halyk Bank) pass the check digit
    ("EXPORTER_BIN", "971240001315", "971240001315"),
    ("EXPORTER_BIN", "9401 4000 0385", "940140000385"),
    ("IOSS_NUMBER", "IM 372 1234567", "IM3721234567"),
    # HMRC's example VAT number (VAT Notice 700/1), and one of the "9755" series
    ("UK_VAT_NUMBER", "GB 980 7806 84", "GB980780684"),
    ("UK_VAT_NUMBER", "gb000000097", "GB000000097"),
    ("AU_ARN", "3000 0000 0000", "300000000000"),
    # Inland Revenue's worked examples of the IRD check digit (primary and secondary weights)
    ("NZ_GST_NUMBER", "49-091-850", "49091850"),
    ("NZ_GST_NUMBER", "35-901-981", "35901981"),
    ("NZ_GST_NUMBER", "136-410-132", "136410132"),
    ("NO_VOEC_NUMBER", "VOEC 2012345", "VOEC2012345"),
    ("CH_VAT_NUMBER", "CHE-116.281.710 MWST", "CHE116281710MWST"),
    ("SG_GST_NUMBER", "M90312345A", "M90312345A"),
    ("EORI_NUMBER", "DE 1234567890123", "DE1234567890123"),
])
def test_a_valid_number_is_kept_compact(name, value, compact):
    assert tax_number(name, value) == compact


@pytest.mark.parametrize(("name", "value"), [
    ("EXPORTER_BIN", "971240001316"),  # check digit off by one
    ("EXPORTER_BIN", "97124000131"),  # 11 digits
    ("IOSS_NUMBER", "IM372123456"),  # 9 digits after IM
    ("IOSS_NUMBER", "EU3721234567"),
    ("UK_VAT_NUMBER", "GB980780685"),
    ("UK_VAT_NUMBER", "GB98078068"),
    ("AU_ARN", "30000000000"),
    ("NZ_GST_NUMBER", "49091851"),
    ("NZ_GST_NUMBER", "9999999"),  # below the range of issued IRD numbers
    ("NO_VOEC_NUMBER", "VOEC201234"),
    ("CH_VAT_NUMBER", "CHE-116.281.711 MWST"),
    ("EORI_NUMBER", "1234567"),
])
def test_a_malformed_number_is_refused(name, value):
    with pytest.raises(ValueError):
        tax_number(name, value)


def test_settings_name_the_refused_variable(clean, tmp_path):
    clean.setenv("UK_VAT_NUMBER", "GB980780685")
    clean.setenv("EXPORTER_BIN", "123")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    problems = refused.value.problems
    assert any(p.startswith("UK_VAT_NUMBER ") for p in problems)
    assert any(p.startswith("EXPORTER_BIN ") for p in problems)


def test_registrations_reach_the_app_config(clean, tmp_path):
    clean.setenv("IOSS_NUMBER", "IM3721234567")
    clean.setenv("UK_VAT_NUMBER", "GB 980 7806 84")
    config = load_config(tmp_path)
    assert config["IOSS_NUMBER"] == "IM3721234567"
    assert config["COLLECTION_REGISTRATIONS"] == {"IOSS": "IM3721234567", "UK": "GB980780684"}
    assert config["AU_ARN"] is None
    assert config["EXPORTER_NAME"] == "Sheber Marketplace LLP"


def test_nothing_registered_by_default(clean, tmp_path):
    config = load_config(tmp_path)
    assert config["COLLECTION_REGISTRATIONS"] == {}
    for name in NAMES:
        assert config[name] is None
