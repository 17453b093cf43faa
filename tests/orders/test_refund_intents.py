"""Refunds are recorded before Stripe is asked, so an outage loses none and pays none twice.

Stripe is the emulator; the outage is real too: the client is pointed at a port where nothing
listens, so the library's own connection error is what the service sees.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.ids import utcnow
from marketplace.orders import service as orders
from marketplace.orders.models import Refund, RefundStatus
from tests.checkout.helpers import buyer_with_cart, fresh, paid_order, status_of
from tests.factories import auth_headers, make_operator, make_product
from tests.plugins.smtp import free_port


@pytest.fixture
def operator_headers():
    return auth_headers(make_operator())


@pytest.fixture
def stripe_down(app):
    """Stripe unreachable for the duration of the ``with`` block."""
    class Outage:
        def __enter__(self):
            self.base = app.config["STRIPE_API_BASE"]
            app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"

        def __exit__(self, *exc):
            app.config["STRIPE_API_BASE"] = self.base

    return Outage()


def _refunds(order_id: str) -> list[Refund]:
    db.session.expire_all()
    return list(db.session.execute(db.select(Refund).where(Refund.order_id == order_id)
                                   .order_by(Refund.created_at)).scalars())


def test_a_refund_stripe_cannot_take_now_is_kept_and_the_sweep_pays_it_once(
        client, stripe_webhooks, operator_headers, stripe_down):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)

    with stripe_down:
        response = client.post(f"/api/v1/operator/orders/{order_id}/refunds",
                               headers=operator_headers,
                               json={"amount": {"amount": 700, "currency": "EUR"},
                                     "reason": "chipped rim"})
    assert response.status_code == 502
    assert response.get_json()["code"] == "upstream.stripe_failed"
    [intent] = _refunds(order_id)
    assert intent.status == RefundStatus.REQUESTED and intent.stripe_refund_id is None
    assert stripe_webhooks.refunds(intent_id) == []

    # The intent counts against what is left: a second refund cannot take the same money.
    order = orders.get_order(order_id)
    captured = orders.payment_summary(order).captured.amount
    assert orders.refundable_left(order) == captured - 700

    assert orders.resubmit_requested_refunds() == 0  # too fresh: its own request may still run
    later = utcnow() + orders.RESUBMIT_AFTER + timedelta(seconds=1)
    assert orders.resubmit_requested_refunds(now=later) == 1
    assert orders.resubmit_requested_refunds(now=later) == 0  # answered: nothing left to ask
    [settled] = _refunds(order_id)
    assert settled.status == RefundStatus.SUCCEEDED and settled.stripe_refund_id
    assert [r["amount"] for r in stripe_webhooks.refunds(intent_id)] == [700]
    assert orders.payment_summary(orders.get_order(order_id)).refunded.amount == 700


def test_a_refund_stripe_refuses_fails_and_frees_the_money_for_another_try(
        client, stripe_webhooks, operator_headers):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    order = orders.get_order(order_id)
    [refund] = orders.request_refunds(order, 700, reason="test", source="operator")
    refund.payment_intent_id = "pi_does_not_exist"  # Stripe answers 404: a refusal
    db.session.commit()

    with pytest.raises(orders.ExternalServiceError):
        orders.submit_refund(refund.id)
    [failed] = _refunds(order_id)
    assert failed.status == RefundStatus.FAILED and failed.failure_reason
    order = orders.get_order(order_id)
    assert orders.refundable_left(order) == orders.payment_summary(order).captured.amount
    assert [e.type for e in order.events if e.type == "refund_failed"] == ["refund_failed"]


def test_cancelling_while_stripe_is_down_cancels_now_and_refunds_later(
        client, stripe_webhooks, stripe_down):
    bowl = make_product(stock=1)
    _, headers = buyer_with_cart((bowl, 1))
    order_id, intent_id = paid_order(client, headers)
    assert fresh(Product, bowl.id).stock == 0

    with stripe_down:
        response = client.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert fresh(Product, bowl.id).stock == 1  # sold, then back on sale at once
    [intent] = _refunds(order_id)
    assert intent.status == RefundStatus.REQUESTED

    later = utcnow() + orders.RESUBMIT_AFTER + timedelta(seconds=1)
    assert orders.resubmit_requested_refunds(now=later) == 1
    assert sum(r["amount"] for r in stripe_webhooks.refunds(intent_id)) == intent.amount
    assert status_of(order_id) == "cancelled"
