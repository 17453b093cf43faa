"""From packed boxes to a parcel: the operator's request, the label task (label, customs papers,
order shipped), export-permit holds, and who may see or print what."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pypdfium2
import pytest
import zxingcpp
from sqlalchemy import select

from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.ids import isoformat, utcnow
from marketplace.orders.models import Order, OrderEvent, Shipment
from marketplace.provenance.models import PieceEvent
from marketplace.shipping import carriers, parcels
from tests.checkout.helpers import buyer_with_cart, do_checkout, fresh
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product
from tests.shipping.flow import (
    carrier_event,
    fulfilments,
    mails_to,
    order_status,
    outbox,
    pack,
    pack_every_box,
    paid,
    pdf_text,
    request_shipment,
    run_label_tasks,
    shipment_of,
    verified_product,
)


@pytest.fixture
def operator():
    return make_operator()


@pytest.fixture
def operator_headers(operator):
    return auth_headers(operator)


CUSTOMS_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "data" / "schemas"
                             / "customs-declaration.schema.json").read_text())

def piece_events(serial: str) -> list[str]:
    db.session.rollback()
    return list(db.session.execute(select(PieceEvent.event_type).where(
        PieceEvent.serial == serial).order_by(PieceEvent.seq)).scalars())


def test_boxes_are_stacked_into_one_parcel():
    # each box lies on its largest face: (300, 250, 150) and (400, 100, 200 -> 400, 200, 100)
    weight, sides = parcels.consolidate([(1200, 300, 250, 150), (800, 100, 400, 200)])
    assert weight == 2000
    assert sides == (400, 250, 250)
    assert parcels.consolidate([(500, 80, 200, 120)]) == (500, (200, 120, 80))


def test_the_operator_makes_the_parcel_only_once_every_box_is_packed(client, stripe_webhooks,
                                                                      operator_headers):
    potter, felter = make_artisan(), make_artisan()
    bowl = make_product(potter, stock=3)
    slippers = make_product(felter, craft="felt", weight_g=600, length_mm=280, width_mm=120,
                            height_mm=100, stock=3)
    order_id, buyer, buyer_headers = paid(client, (bowl, 1), (slippers, 1))
    first, second = fulfilments(order_id)
    assert pack(client, first, weight_g=1200, l=300, w=250, h=150).status_code == 200

    waiting = request_shipment(client, operator_headers, order_id)
    assert waiting.status_code == 409
    assert waiting.get_json()["unpacked_fulfilments"] == [second.id]

    assert pack(client, second, weight_g=900, l=100, w=400, h=200).status_code == 200
    assert request_shipment(client, buyer_headers, order_id).status_code == 403
    assert request_shipment(client, auth_headers(potter), order_id).status_code == 403
    assert request_shipment(client, operator_headers, "nope").status_code == 404
    assert client.post("/api/v1/operator/shipments", headers=operator_headers,
                       json={"order": order_id}).status_code == 422

    accepted = request_shipment(client, operator_headers, order_id)
    assert accepted.status_code == 202, accepted.get_json()
    body = accepted.get_json()
    assert body["status"] == "requested"
    shipment = shipment_of(order_id)
    assert body["id"] == shipment.id
    assert (shipment.weight_g, shipment.length_mm, shipment.width_mm, shipment.height_mm) == (
        2100, 400, 250, 250)
    assert (shipment.carrier, shipment.duties_mode) == ("sheber-post", "DDP")
    [requested] = outbox(parcels.SHIPMENT_REQUESTED)
    # "_trace" is the request's log context, not part of the event
    assert {k: v for k, v in requested.payload.items() if k != "_trace"} == {
        "shipment_id": shipment.id}
    assert order_status(order_id) == "fulfilling"
    assert shipment.label_pdf is None and shipment.tracking_number is None

    again = request_shipment(client, operator_headers, order_id)
    assert again.status_code == 409 and again.get_json()["shipment_id"] == shipment.id
    assert len(outbox(parcels.SHIPMENT_REQUESTED)) == 1


def test_an_unpaid_order_cannot_be_shipped(client, stripe_webhooks, operator_headers):
    buyer, headers = buyer_with_cart((make_product(stock=2), 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    response = request_shipment(client, operator_headers, order_id)
    assert response.status_code == 409
    assert db.session.execute(select(Shipment)).first() is None


def test_the_label_task_buys_the_label_makes_the_papers_and_ships_the_order(
        client, stripe_webhooks, operator, operator_headers):
    silversmith, potter = make_artisan(), make_artisan()
    earrings = verified_product(client, silversmith, operator, craft="jewellery",
                                materials=["silver", "turquoise"], techniques=["filigree"],
                                title={"en": "Silver filigree earrings"}, price_amount=4_500_000,
                                weight_g=30, length_mm=80, width_mm=60, height_mm=30, stock=4)
    bowl = verified_product(client, potter, operator, hs_code="691200", materials=["clay"],
                            title={"en": "Kese bowl"}, price_amount=6_000_000, weight_g=900,
                            length_mm=250, width_mm=250, height_mm=120, stock=2)
    order_id, buyer, buyer_headers = paid(client, (earrings, 2), (bowl, 1))
    order = fresh(Order, order_id)
    serials = {line.product_id: line.serials for line in order.lines}
    assert len(serials[earrings.id]) == 2 and len(serials[bowl.id]) == 1
    pack_every_box(client, order_id)
    assert request_shipment(client, operator_headers, order_id).status_code == 202
    shipment_id = shipment_of(order_id).id
    assert client.get(f"/api/v1/shipments/{shipment_id}/label.pdf",
                      headers=operator_headers).status_code == 409

    assert run_label_tasks() == 1
    shipment = shipment_of(order_id)
    assert shipment.status == "label_created"
    assert carriers.is_valid_s10(shipment.tracking_number)
    assert shipment.tracking_number.startswith("EE")  # the cheapest option quoted: EMS
    # the label alone ships nothing: the carrier has not got the parcel yet
    assert order_status(order_id) == "fulfilling"
    assert {f.status for f in fulfilments(order_id)} == {"packed"}
    assert mails_to(buyer.email) == []
    handed = carrier_event(client, {
        "id": "accept-1", "tracking_number": shipment.tracking_number, "status": "handed_over",
        "occurred_at": isoformat(utcnow()), "location": "Almaty"})
    assert handed.status_code == 200, handed.get_json()
    assert order_status(order_id) == "shipped"
    assert {f.status for f in fulfilments(order_id)} == {"shipped"}
    for serial in serials[earrings.id] + serials[bowl.id]:
        assert piece_events(serial) == ["made", "verified", "sold", "packed", "shipped"]
    assert mails_to(buyer.email) == [f"Order {order_id[-8:]} has shipped"]
    shipped_text = outbox("mail.requested")[-1].payload["text"]
    assert shipment.tracking_number in shipped_text and "Sheber Post" in shipped_text
    assert f"/track/{shipment.tracking_number}" in shipped_text

    label = client.get(f"/api/v1/shipments/{shipment_id}/label.pdf", headers=operator_headers)
    assert label.status_code == 200 and label.mimetype == "application/pdf"
    assert shipment.tracking_number in pdf_text(label.data)
    image = pypdfium2.PdfDocument(label.data)[0].render(scale=200 / 72).to_pil()
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.Code128
    assert barcode.text == shipment.tracking_number

    customs = client.get(f"/api/v1/shipments/{shipment_id}/customs.pdf",
                         headers=operator_headers)
    assert customs.status_code == 200
    text = pdf_text(customs.data)
    # 2 x 45,000 KZT + 60,000 KZT = 150,000 KZT = 300 USD = 270 EUR: 219 SDR, a CN 22
    assert shipment.customs_form == "CN22" and "CN 22" in text
    assert "CN 23" not in text
    for expected in ("711311", "691200", "silver, turquoise", "clay", "Silver filigree earrings",
                     "Kese bowl", shipment.tracking_number, "PREPAID", "Berlin",
                     "Kazakhstan (KZ)", "Germany / Allemagne (DE)", "81.00 EUR", "162.00 EUR",
                     "108.00 EUR",
                     "270.00 EUR", *serials[earrings.id], *serials[bowl.id]):
        assert expected in text, expected

    # The same declaration as data, valid against the JSON Schema kept in the repository.
    declaration = client.get(f"/api/v1/shipments/{shipment_id}/customs.json",
                             headers=operator_headers)
    assert declaration.status_code == 200, declaration.json
    body = declaration.json
    jsonschema.validate(body, CUSTOMS_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert body["form"] == "CN22" and body["item_id"] == shipment.tracking_number
    assert [(i["hs_code"], i["quantity"]) for i in body["items"]] == [("711311", 2),
                                                                    ("691200", 1)]
    assert body["total_value"] == {"amount": 27000, "currency": "EUR"}
    assert body["addressee"]["country"] == "DE" and body["addressee"]["email"] == buyer.email
    assert body["incoterm"] == "DDP" and body["non_delivery"] == "return"
    buyer_view = client.get(f"/api/v1/shipments/{shipment_id}/customs.json",
                            headers=buyer_headers)
    assert buyer_view.status_code == 403

    # The same event delivered again, or a second event for the same shipment: nothing twice.
    assert run_label_tasks() == 1
    from workers.shipping import create_label_task

    create_label_task("another-event-id", {"shipment_id": shipment_id})
    again = shipment_of(order_id)
    assert again.tracking_number == shipment.tracking_number
    assert len(again.events) == 2  # the label and the carrier's acceptance, once each
    assert len(mails_to(buyer.email)) == 1
    assert piece_events(serials[bowl.id][0]).count("shipped") == 1
    shipped = db.session.execute(select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.to_status == "shipped")).scalars().all()
    assert len(shipped) == 1

    # The order's JSON lists its shipment.
    order_json = client.get(f"/api/v1/orders/{order_id}", headers=buyer_headers).get_json()
    assert order_json["shipments"] == [{
        "id": shipment_id, "status": "handed_over", "carrier": "sheber-post",
        "service": "ems", "tracking_number": shipment.tracking_number,
        "created_at": order_json["shipments"][0]["created_at"], "delivered_at": None}]


def test_a_courier_parcel_gets_a_cn23_with_the_commercial_invoice_for_dap(
        client, stripe_webhooks, operator_headers):
    rug = make_product(craft="felt", hs_code="570490", materials=["wool"], techniques=["felting"],
                       title={"en": "Syrmaq felt rug"}, price_amount=25_000_000, weight_g=8_000,
                       length_mm=1_100, width_mm=300, height_mm=300, stock=2)
    new_york = {"name": "John Doe", "line1": "1 Main St", "city": "New York",
                "region": "NY", "postal_code": "10001", "country": "US", "phone": "+12125550100"}
    order_id, _, _ = paid(client, (rug, 1), address=new_york, currency="USD", duties_mode="DAP",
                          service="express")
    [fulfilment] = fulfilments(order_id)
    assert pack(client, fulfilment, weight_g=8_400, l=1_150, w=320, h=320).status_code == 200
    assert request_shipment(client, auth_headers(make_operator()), order_id).status_code == 202
    run_label_tasks()
    shipment = shipment_of(order_id)
    assert shipment.customs_form == "CN23" and shipment.tracking_number.startswith("CX")
    text = pdf_text(shipment.customs_pdf)
    for expected in ("CN 23", "COMMERCIAL INVOICE", "570490", "wool", "DAP (Incoterms 2020)",
                     "payable by the addressee", "500.00 USD", "New York",
                     shipment.tracking_number):
        assert expected in text, expected


def test_a_cultural_value_piece_holds_the_parcel_until_the_export_permit(
        client, stripe_webhooks, operator, operator_headers):
    master = make_artisan()
    dombra = verified_product(client, master, operator, cultural_value=True,
                              craft="instruments", hs_code="920290", materials=["apricot wood"],
                              title={"en": "Antique dombra"}, price_amount=9_000_000,
                              weight_g=1_500, length_mm=1_000, width_mm=200, height_mm=120,
                              stock=1)
    order_id, buyer, buyer_headers = paid(client, (dombra, 1))
    pack_every_box(client, order_id)

    held = request_shipment(client, operator_headers, order_id)
    assert held.status_code == 202 and held.get_json()["status"] == "held_export"
    shipment_id = held.get_json()["id"]
    assert outbox(parcels.SHIPMENT_REQUESTED) == []
    # Even if a label task ran for it, a held parcel gets no label.
    parcels.buy_label(shipment_id)
    shipment = shipment_of(order_id)
    assert shipment.status == "held_export" and shipment.label_pdf is None
    assert shipment.tracking_number is None and order_status(order_id) == "fulfilling"
    assert client.get(f"/api/v1/shipments/{shipment_id}/label.pdf",
                      headers=operator_headers).status_code == 409
    as_buyer = client.get(f"/api/v1/shipments/{shipment_id}", headers=buyer_headers)
    assert as_buyer.get_json()["status"] == "held_export"

    url = f"/api/v1/operator/shipments/{shipment_id}/export-permit"
    permit = {"permit_number": "KZ-MCI-2026-0142", "issued_by": "Ministry of Culture and "
              "Information of Kazakhstan", "issued_at": "2026-11-20"}
    assert client.post(url, headers=buyer_headers, json=permit).status_code == 403
    assert client.post("/api/v1/operator/shipments/nope/export-permit", headers=operator_headers,
                       json=permit).status_code == 404
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    for bad, field in (({**permit, "issued_at": tomorrow}, "issued_at"),
                       ({**permit, "permit_number": "  "}, "permit_number"),
                       ({k: v for k, v in permit.items() if k != "issued_by"}, "issued_by"),
                       ({**permit, "issued_at": "last week"}, "issued_at")):
        response = client.post(url, headers=operator_headers, json=bad)
        assert response.status_code == 422, bad
        assert field in response.get_json()["errors"]
    assert shipment_of(order_id).status == "held_export"
    assert client.post(url, headers=operator_headers, data="{",
                       content_type="application/json").status_code == 400

    released = client.post(url, headers=operator_headers, json=permit)
    assert released.status_code == 202 and released.get_json()["status"] == "requested"
    assert client.post(url, headers=operator_headers, json=permit).status_code == 409
    assert run_label_tasks() == 1
    shipment = shipment_of(order_id)
    assert shipment.status == "label_created" and order_status(order_id) == "fulfilling"
    text = pdf_text(shipment.customs_pdf)
    assert "KZ-MCI-2026-0142" in text and "920290" in text
    shown = client.get(f"/api/v1/shipments/{shipment_id}", headers=operator_headers).get_json()
    assert shown["export_permit"]["permit_number"] == "KZ-MCI-2026-0142"
    assert shown["export_permit"]["issued_at"] == "2026-11-20T00:00:00Z"
    assert "export_permit" not in client.get(f"/api/v1/shipments/{shipment_id}",
                                             headers=buyer_headers).get_json()


def test_buyer_artisans_and_operators_see_the_shipment_only_operators_print(
        client, stripe_webhooks, operator_headers):
    potter = make_artisan()
    order_id, buyer, buyer_headers = paid(client, (make_product(potter, stock=2), 1))
    pack_every_box(client, order_id)
    shipment_id = request_shipment(client, operator_headers, order_id).get_json()["id"]
    run_label_tasks()

    for headers in (buyer_headers, auth_headers(potter), operator_headers):
        shown = client.get(f"/api/v1/shipments/{shipment_id}", headers=headers)
        assert shown.status_code == 200
        body = shown.get_json()
        assert body["status"] == "label_created" and body["carrier"] == "sheber-post"
        assert body["service"] == "ems" and body["tracking_number"]
        assert [e["status"] for e in body["events"]] == ["label_created"]
    for outsider in (auth_headers(make_buyer()), auth_headers(make_artisan())):
        assert client.get(f"/api/v1/shipments/{shipment_id}", headers=outsider).status_code == 404
        for paper in ("label.pdf", "customs.pdf"):
            assert client.get(f"/api/v1/shipments/{shipment_id}/{paper}",
                              headers=outsider).status_code == 404
    for insider in (buyer_headers, auth_headers(potter)):
        for paper in ("label.pdf", "customs.pdf"):
            assert client.get(f"/api/v1/shipments/{shipment_id}/{paper}",
                              headers=insider).status_code == 403
    assert client.get(f"/api/v1/shipments/{shipment_id}").status_code == 401
    assert client.get("/api/v1/shipments/nope", headers=operator_headers).status_code == 404


def test_an_order_cancelled_before_the_label_gets_no_label(client, stripe_webhooks,
                                                           operator_headers):
    order_id, _, _ = paid(client, (make_product(stock=2), 1))
    pack_every_box(client, order_id)
    assert request_shipment(client, operator_headers, order_id).status_code == 202
    cancelled = client.post(f"/api/v1/orders/{order_id}/cancel", headers=operator_headers)
    assert cancelled.status_code == 200, cancelled.get_json()

    run_label_tasks()
    shipment = shipment_of(order_id)
    assert shipment.status == "cancelled" and shipment.tracking_number is None
    assert order_status(order_id) == "cancelled"


def test_a_carrier_refusal_fails_the_shipment_and_the_operator_asks_again(
        client, stripe_webhooks, operator_headers, monkeypatch):
    order_id, _, _ = paid(client, (make_product(stock=2), 1))
    pack_every_box(client, order_id)
    assert request_shipment(client, operator_headers, order_id).status_code == 202

    def refuse(self, shipment):
        raise ValidationFailed("The carrier rejected the address.",
                               errors={"recipient": ["not deliverable"]})

    with monkeypatch.context() as patch:
        patch.setattr(carriers.TableRateCarrier, "create_label", refuse)
        run_label_tasks()
    failed = shipment_of(order_id)
    assert failed.status == "failed" and failed.last_error == "The carrier rejected the address."
    assert order_status(order_id) == "fulfilling"
    shown = client.get(f"/api/v1/shipments/{failed.id}", headers=operator_headers).get_json()
    assert shown["last_error"] == "The carrier rejected the address."

    again = request_shipment(client, operator_headers, order_id)
    assert again.status_code == 202 and again.get_json()["id"] == failed.id
    run_label_tasks()
    assert shipment_of(order_id).status == "label_created"
    assert order_status(order_id) == "fulfilling"  # until the carrier has the parcel
