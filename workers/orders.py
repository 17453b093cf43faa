"""Order pipeline tasks (queue ``orders``): consumers of ``order.paid``, each step once per event
(see ``marketplace.orders.pipeline``)."""

from __future__ import annotations

from celery import shared_task

from marketplace.orders import pipeline
from marketplace.outbox import run_once
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT)
def start_fulfilment_task(event_id: str, payload: dict) -> bool:
    """Fulfilments per artisan, their mails, and the order to fulfilling."""
    return run_once(event_id, "workers.orders.start_fulfilment_task",
                    lambda: pipeline.start_fulfilment(payload["order_id"]))


@shared_task(**IDEMPOTENT)
def send_receipt_task(event_id: str, payload: dict) -> bool:
    """The buyer's receipt mail with its PDF."""
    return run_once(event_id, "workers.orders.send_receipt_task",
                    lambda: pipeline.send_receipt(payload["order_id"]))
