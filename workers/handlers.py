"""Which tasks consume which outbox events: the one place where the pipeline is wired.

Each task is called as ``task(event_id, payload)`` and must be idempotent per event id.
"""

from marketplace import mail
from marketplace.checkout.payments import STRIPE_EVENT_RECEIVED
from marketplace.orders.service import ORDER_PAID, ORDER_REFUNDED
from marketplace.outbox import register_handler
from marketplace.shipping.parcels import SHIPMENT_REQUESTED

register_handler(mail.MAIL_REQUESTED, "workers.mail.send_mail_task")
register_handler(SHIPMENT_REQUESTED, "workers.shipping.create_label_task")
register_handler(STRIPE_EVENT_RECEIVED, "workers.payments.apply_stripe_event_task")
# The order pipeline: independent steps, each its own task so one failing never holds the others.
register_handler(ORDER_PAID, "workers.orders.start_fulfilment_task")
register_handler(ORDER_PAID, "workers.orders.send_receipt_task")
register_handler(ORDER_PAID, "workers.payouts.record_order_ledger_task")
register_handler(ORDER_REFUNDED, "workers.payouts.record_order_ledger_task")
