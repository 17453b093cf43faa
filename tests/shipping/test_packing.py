"""An artisan marks their fulfilment packed: who may, what figures are possible, in which
states."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.orders.models import OrderEvent
from marketplace.provenance.models import PieceEvent
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product
from tests.shipping.flow import (
    fulfilments,
    order_status,
    pack,
    pack_every_box,
    paid,
    request_shipment,
    verified_product,
)


def test_the_artisan_packs_their_pieces_and_the_order_becomes_fulfilling(client,
                                                                         stripe_webhooks):
    potter, operator = make_artisan(), make_operator()
    bowl = verified_product(client, potter, operator, stock=3)  # 450 g each
    order_id, _, buyer_headers = paid(client, (bowl, 2))
    [fulfilment] = fulfilments(order_id)

    response = pack(client, fulfilment, weight_g=1_250, l=350, w=200, h=180)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "packed"
    assert body["packed"]["weight_g"] == 1_250
    assert body["packed"]["dimensions_mm"] == {"l": 350, "w": 200, "h": 180}
    assert order_status(order_id) == "fulfilling"
    events = db.session.execute(select(PieceEvent).where(PieceEvent.event_type == "packed")
                                .order_by(PieceEvent.serial)).scalars().all()
    assert len(events) == 2 and {e.data["weight_g"] for e in events} == {1_250}
    order = client.get(f"/api/v1/orders/{order_id}", headers=buyer_headers).get_json()
    assert order["fulfilments"][0]["status"] == "packed"

    # Until the operator makes the parcel, the artisan may correct the figures.
    corrected = pack(client, fulfilment, weight_g=1_300, l=350, w=200, h=180)
    assert corrected.status_code == 200 and corrected.get_json()["packed"]["weight_g"] == 1_300
    db.session.rollback()
    packed_pieces = db.session.execute(
        select(PieceEvent).where(PieceEvent.event_type == "packed")).scalars().all()
    assert len(packed_pieces) == 2  # one per piece: a correction is not a second packing
    packed_events = db.session.execute(select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.type == "fulfilment_packed")).scalars().all()
    assert len(packed_events) == 2


def test_only_the_fulfilments_artisan_packs_it(client, stripe_webhooks):
    potter, felter = make_artisan(), make_artisan()
    order_id, buyer, buyer_headers = paid(client, (make_product(potter, stock=2), 1),
                                          (make_product(felter, stock=2), 1))
    potters = next(f for f in fulfilments(order_id) if f.artisan_id == potter.id)

    assert pack(client, potters, headers=buyer_headers).status_code == 403
    assert pack(client, potters, headers=auth_headers(make_operator())).status_code == 403
    for outsider in (felter, make_artisan(), make_buyer()):
        assert pack(client, potters, headers=auth_headers(outsider)).status_code == 404
    assert client.post("/api/v1/fulfilments/nope/packed", headers=auth_headers(potter),
                       json={"weight_g": 900, "dimensions_mm": {"l": 1, "w": 1, "h": 1}}
                       ).status_code == 404
    assert client.post(f"/api/v1/fulfilments/{potters.id}/packed",
                       json={"weight_g": 900}).status_code == 401
    assert {f.status for f in fulfilments(order_id)} == {"pending"}


def test_negative_missing_or_absurd_parcel_figures_are_422_and_change_nothing(client,
                                                                               stripe_webhooks):
    potter = make_artisan()
    order_id, _, _ = paid(client, (make_product(potter, stock=2), 2))  # 2 x 450 g
    [fulfilment] = fulfilments(order_id)
    url = f"/api/v1/fulfilments/{fulfilment.id}/packed"
    headers = auth_headers(potter)
    box = {"l": 300, "w": 200, "h": 200}
    cases = [
        ({"weight_g": -5, "dimensions_mm": box}, "weight_g"),
        ({"weight_g": 0, "dimensions_mm": box}, "weight_g"),
        ({"weight_g": 250_000, "dimensions_mm": box}, "weight_g"),
        ({"weight_g": "1200", "dimensions_mm": box}, "weight_g"),
        ({"weight_g": 1200.5, "dimensions_mm": box}, "weight_g"),
        ({"weight_g": True, "dimensions_mm": box}, "weight_g"),
        ({"dimensions_mm": box}, "weight_g"),
        ({"weight_g": 1200}, "dimensions_mm"),
        ({"weight_g": 1200, "dimensions_mm": {**box, "h": -1}}, "dimensions_mm.h"),
        ({"weight_g": 1200, "dimensions_mm": {**box, "l": 40_000}}, "dimensions_mm.l"),
        ({"weight_g": 1200, "dimensions_mm": {"l": 300, "w": 200}}, "dimensions_mm.h"),
        ({"weight_g": 1200, "dimensions_mm": box, "note": "x"}, "note"),
        # a box lighter than the 900 g of pieces it holds: kilograms typed as grams, say
        ({"weight_g": 1, "dimensions_mm": box}, "weight_g"),
    ]
    for body, field in cases:
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json"
        assert field in response.get_json()["errors"], (body, response.get_json())
    assert client.post(url, headers=headers, data="[1,2]",
                       content_type="application/json").status_code == 400
    assert client.post(url, headers=headers, data="not json",
                       content_type="application/json").status_code == 400
    [fulfilment] = fulfilments(order_id)
    assert fulfilment.status == "pending" and fulfilment.packed_weight_g is None
    assert order_status(order_id) == "paid"


def test_packing_after_the_parcel_is_made_or_the_order_is_cancelled_is_409(client,
                                                                            stripe_webhooks):
    operator_headers = auth_headers(make_operator())
    order_id, _, _ = paid(client, (make_product(stock=2), 1))
    pack_every_box(client, order_id)
    assert request_shipment(client, operator_headers, order_id).status_code == 202
    [fulfilment] = fulfilments(order_id)
    late = pack(client, fulfilment, weight_g=700)
    assert late.status_code == 409
    assert fulfilments(order_id)[0].packed_weight_g != 700

    cancelled_id, _, buyer_headers = paid(client, (make_product(stock=2), 1))
    assert client.post(f"/api/v1/orders/{cancelled_id}/cancel",
                       headers=buyer_headers).status_code == 200
    [fulfilment] = fulfilments(cancelled_id)
    assert pack(client, fulfilment).status_code == 409
