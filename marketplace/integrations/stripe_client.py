"""The one place that builds Stripe's client from the configuration.

``STRIPE_API_BASE`` points it at the local emulator (localstripe) in development and tests;
unset, it talks to api.stripe.com. Requests deliberately leave out what the emulator rejects
with a 400 (``automatic_payment_methods``, ``transfer_group``, a refund ``reason``): card
payment methods are listed explicitly and our reason travels in metadata.
"""

from __future__ import annotations

import functools

import stripe
from flask import current_app

from marketplace.errors import ExternalServiceError, UpstreamError


@functools.lru_cache(maxsize=8)
def _build(secret_key: str, api_base: str | None, timeout: int) -> stripe.StripeClient:
    options: dict = {
        "http_client": stripe.new_default_http_client(timeout=timeout),
        "max_network_retries": 2,
    }
    if api_base:
        options["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(secret_key, **options)


def client() -> stripe.StripeClient:
    config = current_app.config
    return _build(config["STRIPE_SECRET_KEY"], config.get("STRIPE_API_BASE"),
                  int(config.get("STRIPE_TIMEOUT_SECONDS", 20)))


def webhook_secret() -> str:
    return current_app.config["STRIPE_WEBHOOK_SECRET"]


def publishable_key() -> str:
    return current_app.config["STRIPE_PUBLISHABLE_KEY"]


def upstream_error(exc: stripe.StripeError) -> ExternalServiceError:
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    return ExternalServiceError(f"Stripe did not complete the request: {message}",
                                code=UpstreamError.STRIPE_FAILED)


def create_payment_intent(*, amount: int, currency: str, order_id: str, attempt: int,
                          payment_method: str | None = None) -> dict:
    params: dict = {
        "amount": amount,
        "currency": currency.lower(),
        "payment_method_types": ["card"],
        "metadata": {"order_id": order_id, "attempt": str(attempt)},
    }
    if payment_method:
        params["payment_method"] = payment_method
    # Stripe replays the first response for 24 h when a request is retried with the same key.
    return client().v1.payment_intents.create(
        params=params, options={"idempotency_key": f"sheber-order-{order_id}-pi-{attempt}"}
    ).to_dict()


def retrieve_payment_intent(payment_intent_id: str) -> dict:
    return client().v1.payment_intents.retrieve(payment_intent_id).to_dict()


def set_payment_method(payment_intent_id: str, payment_method: str) -> dict:
    return client().v1.payment_intents.update(
        payment_intent_id, params={"payment_method": payment_method}).to_dict()


def confirm_payment_intent(payment_intent_id: str) -> dict:
    # The emulator answers 500 to confirm(payment_method=...): the method is set by update first.
    return client().v1.payment_intents.confirm(payment_intent_id).to_dict()


def cancel_payment_intent(payment_intent_id: str) -> dict:
    return client().v1.payment_intents.cancel(payment_intent_id).to_dict()


def create_refund(*, payment_intent_id: str, amount: int, idempotency_key: str,
                  metadata: dict[str, str]) -> dict:
    return client().v1.refunds.create(
        params={"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
        options={"idempotency_key": idempotency_key}).to_dict()


def list_refunds(payment_intent_id: str) -> list[dict]:
    page = client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
    return [refund.to_dict() for refund in page.data]


def retrieve_refund(refund_id: str) -> dict:
    return client().v1.refunds.retrieve(refund_id).to_dict()


def retrieve_charge(charge_id: str) -> dict:
    return client().v1.charges.retrieve(charge_id).to_dict()


def retrieve_dispute(dispute_id: str) -> dict:
    return client().v1.disputes.retrieve(dispute_id).to_dict()


def submit_dispute_evidence(dispute_id: str, evidence: dict[str, str], *, submit: bool,
                            idempotency_key: str) -> dict:
    """``POST /v1/disputes/{id}``: the evidence fields, submitted to the bank when ``submit``."""
    return client().v1.disputes.update(
        dispute_id, params={"evidence": evidence, "submit": submit},
        options={"idempotency_key": idempotency_key}).to_dict()
