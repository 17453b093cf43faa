"""The carrier interface and the built-in offline carrier ``sheber-post``."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.money import Money
from marketplace.shipping import carriers, papers
from marketplace.shipping.carriers import TrackingStatus
from marketplace.shipping.models import CarrierLabel
from marketplace.shipping.rates import Destination, Parcel

SENDER = papers.Address("Sheber LLP", "Abay avenue 10", "Almaty", "KZ", "050000")


def shipment_to(country: str, service: str = "ems") -> papers.ShipmentData:
    recipient = papers.Address("Buyer", "1 Main St", "Springfield", country, "12345")
    line = papers.CustomsLine("Felt rug", "570490", 1, Money(25_000_000, "KZT"), 8000, ("wool",))
    return papers.ShipmentData(
        reference="SHIP-1", service=service, sender=SENDER, recipient=recipient, lines=(line,),
        gross_weight_g=8250, shipping=Money(19_090_000, "KZT"), duties_mode="DAP",
        duties_estimate=Money(1_500_000, "KZT"),
    )


def test_s10_check_digit_matches_the_upu_example():
    # 1x8 + 2x6 + 3x4 + 4x2 + 5x3 + 6x5 + 7x9 + 8x7 = 204; 204 mod 11 = 6; 11 - 6 = 5
    assert carriers.s10_check_digit("12345678") == 5
    assert carriers.s10_number("EA", "12345678") == "EA123456785KZ"
    assert carriers.is_valid_s10("EA123456785KZ")
    assert not carriers.is_valid_s10("EA123456784KZ")  # wrong check digit
    assert not carriers.is_valid_s10("EA12345678KZ")
    assert not carriers.is_valid_s10("ea123456785kz")


def test_s10_check_digit_special_cases():
    # remainder 1 -> 11 - 1 = 10 -> 0; remainder 0 -> 11 -> 5
    assert carriers.s10_check_digit("00000000") == 5
    assert carriers.s10_check_digit("00000008") == 0  # 8 x 7 = 56; 56 mod 11 = 1


def test_the_registry_knows_the_built_in_carrier_and_refuses_unknown_names():
    carrier = carriers.get_carrier("sheber-post")
    assert isinstance(carrier, carriers.Carrier)
    assert "sheber-post" in carriers.carrier_names()
    with pytest.raises(NotFound):
        carriers.get_carrier("pigeon")


def test_quote_prices_each_service_from_the_tables():
    parcel = Parcel(items_weight_g=900, packaging_g=250, volume_mm3=7_500_000,
                    longest_side_mm=250)
    quotes = {q.service: q for q in carriers.get_carrier("sheber-post").quote(
        parcel, Destination("JP"))}
    assert quotes["ems"].amount == Money(1_620_000, "KZT")
    assert (quotes["ems"].eta_min_days, quotes["ems"].eta_max_days) == (7, 12)
    assert quotes["express"].amount == Money(3_600_000, "KZT")


def test_an_overlong_parcel_is_refused_with_its_length():
    parcel = Parcel(items_weight_g=2000, packaging_g=250, volume_mm3=1_300 * 100 * 100,
                    longest_side_mm=1_300)
    quotes = {q.service: q for q in carriers.get_carrier("sheber-post").quote(
        parcel, Destination("DE"))}
    assert quotes["ems"].available
    assert not quotes["express"].available
    assert "1300 mm" in quotes["express"].unavailable_reason


def test_create_label_issues_a_valid_s10_number_and_a_label_pdf():
    result = carriers.get_carrier("sheber-post").create_label(shipment_to("US"))
    db.session.commit()
    assert carriers.is_valid_s10(result.tracking_number)
    assert result.tracking_number.startswith("EE") and result.tracking_number.endswith("KZ")
    text = PdfReader(io.BytesIO(result.label_pdf)).pages[0].extract_text()
    assert result.tracking_number in text and "EMS (Kazpost)" in text
    row = db.session.get(CarrierLabel, result.tracking_number)
    assert (row.reference, row.service, row.destination_country) == ("SHIP-1", "ems", "US")
    assert (row.eta_min_days, row.eta_max_days) == (10, 20)


def test_express_labels_use_the_courier_prefix():
    result = carriers.get_carrier("sheber-post").create_label(shipment_to("DE", "express"))
    assert result.tracking_number.startswith("CX")


def test_no_label_for_a_destination_the_service_does_not_serve():
    with pytest.raises(ValidationFailed):
        carriers.get_carrier("sheber-post").create_label(shipment_to("RU", "express"))
    with pytest.raises(ValidationFailed):
        carriers.get_carrier("sheber-post").create_label(shipment_to("BR"))


def test_tracking_follows_the_delivery_days_of_the_service():
    carrier = carriers.get_carrier("sheber-post")
    tracking = carrier.create_label(shipment_to("US")).tracking_number
    db.session.commit()
    created = db.session.get(CarrierLabel, tracking).created_at
    assert [e.status for e in carrier.track(tracking, now=created)] == [
        TrackingStatus.LABEL_CREATED]
    # EMS to the US: 10-20 days; customs at day 7.5, delivery out at day 15 and done 6 h later
    on_day_8 = carrier.track(tracking, now=created + timedelta(days=8))
    assert [e.status for e in on_day_8] == [TrackingStatus.LABEL_CREATED,
                                            TrackingStatus.HANDED_OVER,
                                            TrackingStatus.IN_TRANSIT, TrackingStatus.CUSTOMS]
    done = carrier.track(tracking, now=created + timedelta(days=30))
    assert [e.status for e in done] == [
        TrackingStatus.LABEL_CREATED, TrackingStatus.HANDED_OVER, TrackingStatus.IN_TRANSIT,
        TrackingStatus.CUSTOMS, TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERED]
    assert done[-1].occurred_at == created + timedelta(days=15, hours=6)


def test_domestic_parcels_skip_customs():
    carrier = carriers.get_carrier("sheber-post")
    tracking = carrier.create_label(shipment_to("KZ")).tracking_number
    db.session.commit()
    created = db.session.get(CarrierLabel, tracking).created_at
    statuses = [e.status for e in carrier.track(tracking, now=created + timedelta(days=30))]
    assert TrackingStatus.CUSTOMS not in statuses
    assert statuses[-1] == TrackingStatus.DELIVERED


def test_tracking_an_unknown_number_is_not_found():
    with pytest.raises(NotFound):
        carriers.get_carrier("sheber-post").track("EA123456785KZ")
