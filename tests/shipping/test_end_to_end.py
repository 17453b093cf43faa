"""Issue 4, done when: quote -> checkout (DDP) -> paid -> packed -> shipment with label and
customs PDFs -> tracking events -> delivered, end to end: the Stripe emulator takes the payment
and sends its webhook, a real Celery worker buys the label and sends the buyer's mails to a real
SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pypdfium2
import pytest
import zxingcpp

from marketplace.ids import isoformat, utcnow
from marketplace.shipping import carriers
from tests.checkout.helpers import checkout_body, pay, webhook_processed
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator
from tests.shipping.flow import (
    carrier_event,
    order_status,
    pack_every_box,
    pdf_text,
    verified_product,
)
from tests.stripe_emulator import wait_until

pytestmark = pytest.mark.integration

MUNICH = {"name": "Lena Huber", "line1": "Marienplatz 8", "city": "München",
          "postal_code": "80331", "country": "DE", "phone": "+49891234567"}


def test_a_parcel_from_almaty_reaches_munich(client, stripe_webhooks, smtp_server,
                                             start_worker):
    start_worker()
    operator = make_operator()
    operator_headers = auth_headers(operator)
    felter, silversmith = make_artisan(), make_artisan()
    slippers = verified_product(client, felter, operator, craft="felt", hs_code="640420",
                                materials=["wool"], techniques=["felting"],
                                title={"en": "Felt slippers"}, price_amount=2_500_000,
                                weight_g=600, length_mm=280, width_mm=120, height_mm=100,
                                stock=3)
    earrings = verified_product(client, silversmith, operator, craft="jewellery",
                                materials=["silver"], techniques=["filigree"],
                                title={"en": "Silver earrings"}, price_amount=4_500_000,
                                weight_g=30, length_mm=80, width_mm=60, height_mm=30, stock=3)
    buyer = make_buyer(currency="EUR")
    buyer_headers = auth_headers(buyer)
    for product in (slippers, earrings):
        added = client.post("/api/v1/cart/items", headers=buyer_headers,
                            json={"product_id": product.id, "quantity": 1})
        assert added.status_code == 201, added.get_json()

    # Quote: shipping and import duties before paying.
    quoted = client.post("/api/v1/shipping/quotes", headers=buyer_headers, json={
        "destination": {"country": "DE", "postal_code": "80331"}, "currency": "EUR"})
    assert quoted.status_code == 200
    option = quoted.get_json()["options"][0]
    assert option["duties"]["estimate"]["amount"] > 0  # EU import VAT has no de minimis

    # Checkout with duties paid (DDP), pay with the emulator's card, Stripe's webhook: paid.
    created = client.post("/api/v1/checkout", headers=buyer_headers, json=checkout_body(
        option["id"], address=MUNICH, currency="EUR", duties_mode="DDP"))
    assert created.status_code == 201, created.get_json()
    order = created.get_json()["order"]
    order_id = order["id"]
    assert order["totals"]["duties"] == option["duties"]["estimate"]
    paid = pay(client, buyer_headers, order_id)
    assert paid["status"] == "succeeded"
    wait_until(webhook_processed("payment_intent.succeeded", paid["payment_intent_id"]),
               message="the payment webhook")
    # The worker's order pipeline (artisans told, receipt sent) moves it on to fulfilling.
    wait_until(lambda: order_status(order_id) == "fulfilling", timeout=30,
               message="the order pipeline")

    # Each artisan packs; the operator makes the parcel; the worker buys the label.
    pack_every_box(client, order_id)
    requested = client.post("/api/v1/operator/shipments", headers=operator_headers,
                            json={"order_id": order_id})
    assert requested.status_code == 202
    shipment_id = requested.get_json()["id"]

    def labelled():
        shown = client.get(f"/api/v1/shipments/{shipment_id}", headers=buyer_headers)
        body = shown.get_json()
        return body if body["status"] == "label_created" else None

    shipment = wait_until(labelled, timeout=30, message="the worker to buy the label")
    tracking = shipment["tracking_number"]
    assert carriers.is_valid_s10(tracking)
    assert order_status(order_id) == "fulfilling"  # a label alone ships nothing

    label = client.get(f"/api/v1/shipments/{shipment_id}/label.pdf", headers=operator_headers)
    assert label.status_code == 200 and tracking in pdf_text(label.data)
    [barcode] = zxingcpp.read_barcodes(
        pypdfium2.PdfDocument(label.data)[0].render(scale=200 / 72).to_pil())
    assert barcode.text == tracking
    customs = client.get(f"/api/v1/shipments/{shipment_id}/customs.pdf",
                         headers=operator_headers)
    text = pdf_text(customs.data)
    for expected in ("CN 22", "640420", "711311", "wool", "silver", tracking, "PREPAID", "München",
                     "Kazakhstan (KZ)"):
        assert expected in text, expected
    serials = [s for line in client.get(f"/api/v1/orders/{order_id}", headers=buyer_headers)
               .get_json()["lines"] for s in line.get("serials") or []]
    assert serials and all(serial in text for serial in serials)

    # The carrier reports the journey; the order follows to delivered.
    start = utcnow() - timedelta(hours=30)
    for n, status in enumerate(("handed_over", "in_transit", "customs", "out_for_delivery",
                                "delivered")):
        response = carrier_event(client, {
            "id": f"sheber-post-{tracking}-{n}", "tracking_number": tracking, "status": status,
            "occurred_at": isoformat(start + timedelta(hours=6 * n)), "location": "München"})
        assert response.status_code == 200, response.get_json()
    assert order_status(order_id) == "delivered"
    final = client.get(f"/api/v1/orders/{order_id}", headers=buyer_headers).get_json()
    assert final["shipments"][0]["status"] == "delivered"
    assert {f["status"] for f in final["fulfilments"]} == {"delivered"}

    # The buyer heard of every milestone, by mail sent from the worker.
    number = order_id[-8:]
    expected = [f"Order {number} has shipped"] + [f"{subject} (order {number})" for subject in (
        "Your parcel is on its way", "Your parcel has reached customs",
        "Your parcel is out for delivery", "Your parcel has been delivered")]

    def shipping_mails():
        mine = [m["Subject"] for m in smtp_server.messages if buyer.email in m["To"]]
        return mine if set(expected) <= set(mine) else None

    received = wait_until(shipping_mails, timeout=30, message="the buyer's shipping mails")
    assert sorted(subject for subject in received if subject in expected) == sorted(expected)
    shipped_mail = next(m for m in smtp_server.messages if m["Subject"] == expected[0])
    assert tracking in shipped_mail.get_body(preferencelist=("plain",)).get_content()
