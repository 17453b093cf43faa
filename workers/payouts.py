"""Payouts ledger task (queue ``orders``): consumer of ``order.paid`` and ``order.refunded``."""

from __future__ import annotations

from celery import shared_task

from marketplace.outbox import run_once
from marketplace.payouts import service
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT)
def record_order_ledger_task(event_id: str, payload: dict) -> bool:
    """Bring the artisans' ledger in line with the order (sale, commission, refund shares);
    ``record_order`` is idempotent on its own, ``run_once`` spares it the repeat."""
    return run_once(event_id, "workers.payouts.record_order_ledger_task",
                    lambda: service.record_order(payload["order_id"]))
