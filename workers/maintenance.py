"""Beat jobs (queue ``maintenance``): each calls one service; ``workers.schedule`` times them."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

from marketplace import outbox
from marketplace.accounts import throttle
from marketplace.accounts.sessions import purge_expired as purge_expired_sessions
from marketplace.checkout.service import expire_reservations
from marketplace.fx.service import refresh_rates
from marketplace.orders import reconciliation
from marketplace.orders import service as orders
from marketplace.payouts.service import run_payouts
from marketplace.provenance.transparency import publish_checkpoint
from marketplace.shipping.tracking import poll_tracking
from workers.app import IDEMPOTENT

log = logging.getLogger(__name__)

RELAY_BATCH = 500
RELAY_MAX_BATCHES = 10
# Fresher events are being published by their own after-commit hook; leave them to it.
RELAY_GRACE = timedelta(seconds=2)


@shared_task(**IDEMPOTENT)
def relay_outbox_task() -> int:
    """Publish outbox events that the after-commit hook could not (broker down, crash)."""
    total = 0
    for _ in range(RELAY_MAX_BATCHES):
        published = outbox.publish_pending(limit=RELAY_BATCH, older_than=RELAY_GRACE)
        total += published
        if published < RELAY_BATCH:
            break
    if total:
        log.info("outbox sweep published %d events", total)
    return total


@shared_task(**IDEMPOTENT)
def expire_reservations_task():
    result = expire_reservations()
    log.info("reservation expiry: %s", result)
    return result


@shared_task(**IDEMPOTENT)
def refresh_fx_rates_task() -> int:
    stored = refresh_rates()
    log.info("fx refresh stored %d rates", stored)
    return stored


@shared_task(**IDEMPOTENT)
def poll_tracking_task() -> int:
    recorded = poll_tracking()
    log.info("tracking poll recorded %d scans", recorded)
    return recorded


@shared_task(**IDEMPOTENT)
def run_payouts_task() -> str | None:
    """The daily payout run on the default rail; returns the batch id (None: nothing due).
    Idempotent: a second run finds the same balances settled and pays nothing twice."""
    result = run_payouts()
    for skipped in result.skipped:
        log.warning("payout run: %s not paid: %s", skipped["artisan_id"], skipped["reason"])
    if result.batch is None:
        log.info("payout run: nothing to pay")
        return None
    log.info("payout run: batch %s with %d payout(s)", result.batch.id, len(result.batch.payouts))
    return result.batch.id


@shared_task(**IDEMPOTENT)
def complete_orders_task() -> int:
    """Delivered orders past their return window become completed."""
    completed = orders.complete_delivered_orders()
    if completed:
        log.info("order completion: %d order(s) completed", completed)
    return completed


@shared_task(**IDEMPOTENT)
def resubmit_refunds_task() -> int:
    """Refund intents Stripe did not answer (an outage, a lost process) are asked again."""
    submitted = orders.resubmit_requested_refunds()
    if submitted:
        log.info("refund sweep: %d refund(s) submitted", submitted)
    return submitted


@shared_task(**IDEMPOTENT)
def publish_checkpoint_task() -> int | None:
    """Sign a new transparency log checkpoint when the log grew (at most once a minute)."""
    checkpoint = publish_checkpoint()
    if checkpoint is not None:
        log.info("transparency checkpoint published at size %d", checkpoint.size)
        return checkpoint.size
    return None


@shared_task(**IDEMPOTENT)
def purge_sessions_task() -> int:
    """Browser sessions in the table past their idle or absolute lifetime are deleted."""
    purged = purge_expired_sessions()
    if purged:
        log.info("session purge: %d expired session(s) deleted", purged)
    return purged


@shared_task(**IDEMPOTENT)
def purge_throttle_task() -> int:
    """Failed-attempt counters (sign-in, reset, codes) past any lock and streak are deleted."""
    purged = throttle.purge_forgotten()
    if purged:
        log.info("throttle purge: %d forgotten counter(s) deleted", purged)
    return purged


@shared_task(**IDEMPOTENT)
def reconcile_payments_task() -> int:
    """Yesterday's Stripe-versus-ledger reconciliation; alerts the operators on a difference.
    Returns how many PaymentIntents differ."""
    differing = reconciliation.reconcile_yesterday()
    if differing:
        log.warning("reconciliation: %d PaymentIntent(s) differ from the ledger", differing)
    return differing
