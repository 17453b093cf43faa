"""Which tasks consume which outbox events, and which reactions run inside the transaction that
emits them: the one place where the pipeline is wired.

Each task is called as ``task(event_id, payload)`` and must be idempotent per event id. A
reaction is called as ``reaction(payload)`` in the emitting transaction and commits or rolls back
with it.
"""

from marketplace import mail
from marketplace.accounts import export as account_export
from marketplace.accounts import lifecycle as accounts
from marketplace.catalog import images as catalog_images
from marketplace.catalog import writes as catalog
from marketplace.checkout import service as checkout
from marketplace.checkout.payments import STRIPE_EVENT_RECEIVED
from marketplace.community import erasure as community_erasure
from marketplace.community import export as community_export
from marketplace.community import reviews as community_reviews
from marketplace.fx.service import RATES_CHANGED
from marketplace.orders import guests, pipeline, receipt
from marketplace.orders.disputes import ORDER_DISPUTE_CLOSED
from marketplace.orders.lifecycle import ORDER_PAID, ORDER_REFUND_REVERSED, ORDER_REFUNDED
from marketplace.outbox import register_handler, register_reaction
from marketplace.provenance import labels, records
from marketplace.shipping.parcels import SHIPMENT_REQUESTED

register_handler(mail.MAIL_REQUESTED, "workers.mail.send_mail_task")
# receipt mails queued before the receipt was linked attach the kept receipt when sent
mail.register_attachment(pipeline.RECEIPT_PDF, receipt.stored_receipt)
register_handler(SHIPMENT_REQUESTED, "workers.shipping.create_label_task")
register_handler(catalog_images.IMAGE_UPLOADED, "workers.catalog.process_image_task")
register_handler(community_reviews.FILES_UNUSED, "workers.catalog.delete_unused_files_task")
register_handler(STRIPE_EVENT_RECEIVED, "workers.payments.apply_stripe_event_task")
# The order pipeline: independent steps, each its own task so one failing never holds the others.
register_handler(ORDER_PAID, "workers.orders.start_fulfilment_task")
register_handler(ORDER_PAID, "workers.orders.send_receipt_task")
register_handler(ORDER_PAID, "workers.payouts.record_order_ledger_task")
register_handler(ORDER_REFUNDED, "workers.payouts.record_order_ledger_task")
register_handler(ORDER_REFUND_REVERSED, "workers.payouts.record_order_ledger_task")
register_handler(ORDER_DISPUTE_CLOSED, "workers.payouts.record_order_ledger_task")

# A lower domain's change reaching a higher one, in the same transaction.
register_reaction(RATES_CHANGED, catalog.on_rates_changed)  # prices follow the rates
register_reaction(catalog.PROVENANCE_DECLARED, records.on_provenance_declared)
register_reaction(catalog.PRODUCT_CHANGED, labels.on_product_changed)  # an untrue label goes
register_reaction(accounts.ACCOUNT_CREATED, guests.on_account_created)  # welcome + claim link
register_reaction(accounts.ACCOUNT_DELETED, guests.on_account_deleted)  # orders keep tax data
register_reaction(accounts.ACCOUNT_DELETED, checkout.on_account_deleted)  # the cart goes
# messages keep their text for the other side, without the person's name or contact details
register_reaction(accounts.ACCOUNT_DELETED, community_erasure.on_account_deleted)

# "Download my data": each domain's section.
account_export.register_section("orders", guests.export_orders)
account_export.register_section("reviews", community_export.export_reviews)
account_export.register_section("favourites", community_export.export_favourites)
account_export.register_section("conversations", community_export.export_conversations)
