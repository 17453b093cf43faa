"""Beat's timetable: every job, always (each task calls one service that always exists)."""

from __future__ import annotations

OUTBOX_RELAY_SECONDS = 5.0
POLL_TRACKING_SECONDS = 1800.0  # carriers ask for no more than a few polls an hour per parcel
PAYOUT_RUN_SECONDS = 86400.0  # daily: one batch, one file for the bank
COMPLETE_ORDERS_SECONDS = 3600.0  # hourly: the return window is counted in days
RESUBMIT_REFUNDS_SECONDS = 120.0  # refund intents Stripe did not answer
RECONCILE_SECONDS = 86400.0  # daily: yesterday's Stripe figures against the ledger
CHECKPOINT_SECONDS = 60.0  # a transparency checkpoint at most once a minute, when the log grew
PURGE_SESSIONS_SECONDS = 3600.0  # expired rows of the session table
PURGE_THROTTLE_SECONDS = 3600.0  # sign-in / reset / code counters nobody will read again


def beat_schedule() -> dict:
    return {
        "relay-outbox": {
            "task": "workers.maintenance.relay_outbox_task",
            "schedule": OUTBOX_RELAY_SECONDS,
            # A sweep that waited out an outage is stale: the next one covers the same rows.
            "options": {"expires": OUTBOX_RELAY_SECONDS * 2},
        },
        "expire-reservations": {
            "task": "workers.maintenance.expire_reservations_task",
            "schedule": 60.0,
            "options": {"expires": 60.0},
        },
        "refresh-fx-rates": {
            "task": "workers.maintenance.refresh_fx_rates_task",
            "schedule": 3600.0,
            "options": {"expires": 1800.0},
        },
        "poll-tracking": {
            "task": "workers.maintenance.poll_tracking_task",
            "schedule": POLL_TRACKING_SECONDS,
            "options": {"expires": POLL_TRACKING_SECONDS / 2},
        },
        "run-payouts": {
            "task": "workers.maintenance.run_payouts_task",
            "schedule": PAYOUT_RUN_SECONDS,
            "options": {"expires": PAYOUT_RUN_SECONDS / 2},
        },
        "complete-orders": {
            "task": "workers.maintenance.complete_orders_task",
            "schedule": COMPLETE_ORDERS_SECONDS,
            "options": {"expires": COMPLETE_ORDERS_SECONDS / 2},
        },
        "publish-checkpoint": {
            "task": "workers.maintenance.publish_checkpoint_task",
            "schedule": CHECKPOINT_SECONDS,
            "options": {"expires": CHECKPOINT_SECONDS},
        },
        "reconcile-payments": {
            "task": "workers.maintenance.reconcile_payments_task",
            "schedule": RECONCILE_SECONDS,
            "options": {"expires": RECONCILE_SECONDS / 2},
        },
        "resubmit-refunds": {
            "task": "workers.maintenance.resubmit_refunds_task",
            "schedule": RESUBMIT_REFUNDS_SECONDS,
            "options": {"expires": RESUBMIT_REFUNDS_SECONDS},
        },
        "purge-sessions": {
            "task": "workers.maintenance.purge_sessions_task",
            "schedule": PURGE_SESSIONS_SECONDS,
            "options": {"expires": PURGE_SESSIONS_SECONDS / 2},
        },
        "purge-throttle": {
            "task": "workers.maintenance.purge_throttle_task",
            "schedule": PURGE_THROTTLE_SECONDS,
            "options": {"expires": PURGE_THROTTLE_SECONDS / 2},
        },
    }
