"""Shipping tasks (queue ``shipping``)."""

from __future__ import annotations

from celery import shared_task

from marketplace.outbox import run_once
from marketplace.shipping import parcels
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT)
def create_label_task(event_id: str, payload: dict) -> bool:
    """Consumer of ``shipment.requested``: buy the label and make the customs papers, once per
    event (``buy_label`` itself also does nothing for a shipment that has its label)."""
    return run_once(event_id, "workers.shipping.create_label_task",
                    lambda: parcels.buy_label(payload["shipment_id"]))
