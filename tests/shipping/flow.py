"""Builders for the shipment tests: verified pieces, a paid order (through the Stripe
emulator), packed boxes, the label task, signed carrier events, parsed PDFs."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.mail import MAIL_REQUESTED
from marketplace.orders.models import Fulfilment, Order, Shipment
from marketplace.outbox import OutboxEvent
from marketplace.shipping import parcels, tracking
from tests.checkout.helpers import (
    BERLIN,
    buyer_with_cart,
    checkout_body,
    fresh,
    pay,
    webhook_processed,
)
from tests.factories import auth_headers, make_product
from tests.provenance.helpers import EVIDENCE, full_record
from tests.shipping.conftest import CARRIER_SECRET
from tests.stripe_emulator import wait_until


def verified_product(client, artisan, operator, *, cultural_value: bool = False, **fields):
    """A product whose provenance an operator verified (so each sold piece gets a serial)."""
    product = make_product(artisan, **fields)
    record = full_record(craft=product.craft, cultural_value=cultural_value)
    artisan_headers = auth_headers(artisan)
    put = client.put(f"/api/v1/products/{product.id}/provenance", json=record,
                     headers=artisan_headers)
    assert put.status_code == 200, put.get_json()
    sent = client.post(f"/api/v1/products/{product.id}/provenance/submit",
                       headers=artisan_headers)
    assert sent.status_code == 200, sent.get_json()
    decided = client.post(f"/api/v1/operator/provenance/{product.id}/decision",
                          headers=auth_headers(operator),
                          json={"decision": "approve", "level": "L1", "evidence": EVIDENCE,
                                "note": "ok"})
    assert decided.status_code == 200, decided.get_json()
    return product


def paid(client, *items, address: dict = BERLIN, currency: str = "EUR",
         duties_mode: str = "DDP", service: str | None = None) -> tuple[str, User, dict]:
    """A paid order (quote, checkout, the emulator's card payment and Stripe's webhook):
    (id, buyer, buyer's headers). ``service``: the quoted service to buy (default: the
    cheapest). Needs the ``stripe_webhooks`` fixture."""
    buyer, headers = buyer_with_cart(*items, currency=currency)
    quoted = client.post("/api/v1/shipping/quotes", headers=headers, json={
        "destination": {"country": address["country"], "postal_code": address["postal_code"]},
        "currency": currency})
    assert quoted.status_code == 200, quoted.get_json()
    option = next(o["id"] for o in quoted.get_json()["options"]
                  if service is None or o["service"] == service)
    created = client.post("/api/v1/checkout", headers=headers, json=checkout_body(
        option, address=address, currency=currency, duties_mode=duties_mode))
    assert created.status_code == 201, created.get_json()
    order_id = created.get_json()["order"]["id"]
    result = pay(client, headers, order_id)
    assert result["status"] == "succeeded", result
    wait_until(webhook_processed("payment_intent.succeeded", result["payment_intent_id"]),
               message="payment_intent.succeeded webhook")
    assert order_status(order_id) == "paid"
    return order_id, buyer, headers


def fulfilments(order_id: str) -> list[Fulfilment]:
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.execute(
        select(Fulfilment).where(Fulfilment.order_id == order_id)
        .order_by(Fulfilment.artisan_id)).scalars())


def pack(client, fulfilment: Fulfilment, weight_g: int = 1200, l: int = 300,  # noqa: E741
         w: int = 250, h: int = 150, headers: dict | None = None):
    artisan = db.session.get(User, fulfilment.artisan_id)
    return client.post(f"/api/v1/fulfilments/{fulfilment.id}/packed",
                       headers=headers or auth_headers(artisan),
                       json={"weight_g": weight_g, "dimensions_mm": {"l": l, "w": w, "h": h}})


def pack_every_box(client, order_id: str) -> None:
    """Each artisan packs their pieces in a box 4 cm larger and 300 g heavier than the pieces."""
    order = fresh(Order, order_id)
    for fulfilment in fulfilments(order_id):
        pieces = [(db.session.get(Product, line.product_id), line.quantity)
                  for line in order.lines if line.artisan_id == fulfilment.artisan_id]
        weight = sum(p.weight_g * q for p, q in pieces) + 300
        length = max(p.length_mm for p, _ in pieces) + 40
        width = max(p.width_mm for p, _ in pieces) + 40
        height = sum(p.height_mm * q for p, q in pieces) + 40
        response = pack(client, fulfilment, weight_g=weight, l=length, w=width, h=height)
        assert response.status_code == 200, response.get_json()


def request_shipment(client, operator_headers: dict, order_id: str):
    return client.post("/api/v1/operator/shipments", headers=operator_headers,
                       json={"order_id": order_id})


def outbox(type_: str) -> list[OutboxEvent]:
    db.session.rollback()
    return list(db.session.execute(
        select(OutboxEvent).where(OutboxEvent.type == type_)
        .order_by(OutboxEvent.created_at, OutboxEvent.id)).scalars())


def mails_to(email: str) -> list[str]:
    """Subjects of the mails queued (through the outbox) to ``email``."""
    return [event.payload["subject"] for event in outbox(MAIL_REQUESTED)
            if email in event.payload["to"]]


def run_label_tasks() -> int:
    """Run the consumer of every ``shipment.requested`` event, as the worker would."""
    from workers.shipping import create_label_task

    events = outbox(parcels.SHIPMENT_REQUESTED)
    for event in events:
        create_label_task(event.id, event.payload)
    return len(events)


def shipment_of(order_id: str) -> Shipment:
    db.session.rollback()
    db.session.expire_all()
    return db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id)).scalar_one()


def order_status(order_id: str) -> str:
    return fresh(Order, order_id).status


def carrier_event(client, body: dict, *, secret: str = CARRIER_SECRET,
                  carrier: str = "sheber-post", timestamp: int | None = None,
                  signature: str | None = None, raw: bytes | None = None):
    raw = raw if raw is not None else json.dumps(body).encode()
    header = signature or tracking.sign_carrier_payload(raw, secret, timestamp)
    return client.post(f"/api/v1/carriers/{carrier}/events", data=raw,
                       headers={"X-Carrier-Signature": header,
                                "Content-Type": "application/json"})


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())
