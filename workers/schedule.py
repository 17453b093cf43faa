"""Beat's timetable. A job is scheduled only when the service it calls exists."""

from __future__ import annotations

import importlib
import importlib.util

OUTBOX_RELAY_SECONDS = 5.0
POLL_TRACKING_SECONDS = 1800.0  # carriers ask for no more than a few polls an hour per parcel
PAYOUT_RUN_SECONDS = 86400.0  # daily: one batch, one file for the bank
COMPLETE_ORDERS_SECONDS = 3600.0  # hourly: the return window is counted in days
RESUBMIT_REFUNDS_SECONDS = 120.0  # refund intents Stripe did not answer


def _service_has(module: str, function: str) -> bool:
    if importlib.util.find_spec(module.rpartition(".")[0]) is None:
        return False
    if importlib.util.find_spec(module) is None:
        return False
    return callable(getattr(importlib.import_module(module), function, None))


def beat_schedule() -> dict:
    schedule = {
        "relay-outbox": {
            "task": "workers.maintenance.relay_outbox_task",
            "schedule": OUTBOX_RELAY_SECONDS,
            # A sweep that waited out an outage is stale: the next one covers the same rows.
            "options": {"expires": OUTBOX_RELAY_SECONDS * 2},
        },
    }
    if _service_has("marketplace.checkout.service", "expire_reservations"):
        schedule["expire-reservations"] = {
            "task": "workers.maintenance.expire_reservations_task",
            "schedule": 60.0,
            "options": {"expires": 60.0},
        }
    if _service_has("marketplace.fx.service", "refresh_rates"):
        schedule["refresh-fx-rates"] = {
            "task": "workers.maintenance.refresh_fx_rates_task",
            "schedule": 3600.0,
            "options": {"expires": 1800.0},
        }
    if _service_has("marketplace.shipping.tracking", "poll_tracking"):
        schedule["poll-tracking"] = {
            "task": "workers.maintenance.poll_tracking_task",
            "schedule": POLL_TRACKING_SECONDS,
            "options": {"expires": POLL_TRACKING_SECONDS / 2},
        }
    if _service_has("marketplace.payouts.service", "run_payouts"):
        schedule["run-payouts"] = {
            "task": "workers.maintenance.run_payouts_task",
            "schedule": PAYOUT_RUN_SECONDS,
            "options": {"expires": PAYOUT_RUN_SECONDS / 2},
        }
    schedule["complete-orders"] = {
        "task": "workers.maintenance.complete_orders_task",
        "schedule": COMPLETE_ORDERS_SECONDS,
        "options": {"expires": COMPLETE_ORDERS_SECONDS / 2},
    }
    schedule["resubmit-refunds"] = {
        "task": "workers.maintenance.resubmit_refunds_task",
        "schedule": RESUBMIT_REFUNDS_SECONDS,
        "options": {"expires": RESUBMIT_REFUNDS_SECONDS},
    }
    return schedule
