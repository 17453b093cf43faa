"""The buyer's order page follows the parcel: status timeline and tracking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.ids import isoformat, utcnow
from marketplace.shipping import parcels
from tests.checkout.helpers import fixed_rates  # noqa: F401  (a fixture)
from tests.factories import make_buyer, make_operator, make_product
from tests.shipping.conftest import CARRIER_SECRET
from tests.shipping.flow import carrier_event, pack_every_box, paid, run_label_tasks, shipment_of
from tests.storefront.helpers import HTML, sign_in


@pytest.fixture(autouse=True)
def _rates_and_carrier_secret(fixed_rates, app, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "CARRIER_WEBHOOK_SECRETS", {"sheber-post": CARRIER_SECRET})


def order_page(client, order_id: str) -> str:
    response = client.get(f"/orders/{order_id}", headers=HTML)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_buyer_follows_the_parcel_from_almaty_to_berlin(app, client, stripe_webhooks):
    product = make_product(title={"en": "Kese bowl"}, weight_g=900, stock=3)
    order_id, buyer, _ = paid(client, (product, 1))
    sign_in(client, buyer)
    assert "Tracking" not in order_page(client, order_id)

    pack_every_box(client, order_id)
    parcels.request_shipment(order_id, make_operator())
    html = order_page(client, order_id)
    assert "its tracking number appears here when the label is made" in html

    run_label_tasks()
    tracking = shipment_of(order_id).tracking_number
    html = order_page(client, order_id)
    assert 'id="order-status" data-status="fulfilling"' in html  # a label ships nothing
    assert f'<dd class="tracking-number">{tracking}</dd>' in html
    assert "label created, waiting for the carrier, Almaty" in html
    assert '<dd class="carrier-name">Sheber Post</dd>' in html
    assert f'href="http://127.0.0.1:5000/track/{tracking}"' in html or f"/track/{tracking}" in html
    assert "(GMT+05:00)" in html  # Almaty's clock

    carrier = app.test_client()  # the carrier has no session of ours
    sent = carrier_event(carrier, {"id": "scan-1", "tracking_number": tracking,
                                  "status": "in_transit", "location": "Frankfurt",
                                  "occurred_at": isoformat(utcnow() + timedelta(minutes=5))})
    assert sent.status_code == 200, sent.get_json()
    html = order_page(client, order_id)
    assert 'id="order-status" data-status="shipped"' in html
    assert "on its way, Frankfurt" in html
    assert html.index("on its way, Frankfurt") < html.index("label created")  # newest first
    assert 'class="expected-delivery"' in html

    public = app.test_client().get(f"/track/{tracking}", headers=HTML)
    assert public.status_code == 200
    page = public.get_data(as_text=True)
    assert "on its way, Frankfurt" in page and buyer.name not in page


def test_another_buyer_sees_no_tracking(client, stripe_webhooks):
    product = make_product(weight_g=900, stock=3)
    order_id, _, _ = paid(client, (product, 1))
    pack_every_box(client, order_id)
    parcels.request_shipment(order_id, make_operator())
    run_label_tasks()
    sign_in(client, make_buyer())
    assert client.get(f"/orders/{order_id}", headers=HTML).status_code == 404
