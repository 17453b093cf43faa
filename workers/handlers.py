"""Which tasks consume which outbox events: the one place where the pipeline is wired.

Each task is called as ``task(event_id, payload)`` and must be idempotent per event id.
"""

from marketplace import mail
from marketplace.outbox import register_handler
from marketplace.shipping.shipments import SHIPMENT_REQUESTED

register_handler(mail.MAIL_REQUESTED, "workers.mail.send_mail_task")
register_handler(SHIPMENT_REQUESTED, "workers.shipping.create_label_task")
