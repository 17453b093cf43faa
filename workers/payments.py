"""Stripe task (queue ``payments``): consumer of ``stripe.event_received``."""

from __future__ import annotations

from celery import shared_task

from marketplace.checkout import payments
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT)
def apply_stripe_event_task(event_id: str, payload: dict) -> str:
    """Apply a stored Stripe event. Not under ``run_once``: ``apply_stripe_event`` commits in
    steps and marks the event processed itself, and every effect is guarded, so a repeat (this
    outbox event again, or Stripe's redelivery) changes nothing twice."""
    return payments.apply_stripe_event(payload["event_id"])
