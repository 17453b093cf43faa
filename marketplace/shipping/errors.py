"""Error codes of shipping: quotes, options, packing, shipments, carriers, export permits."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class ShippingError(ErrorCodes):
    QUOTE_INVALID = ("shipping.quote_invalid",
                     "The destination, items, currency or rate is not one we can quote; "
                     "`errors` says which (422).")
    ITEMS_REQUIRED = "shipping.items_required", "A quote needs items or a cart with items (422)."
    PRODUCTS_UNKNOWN = "shipping.products_unknown", "Some quoted products do not exist (422)."
    DESTINATION_NOT_SERVED = ("shipping.destination_not_served",
                              "No service delivers there, or its import rules are unknown "
                              "(422).")
    OPTION_STALE = ("shipping.option_stale",
                    "The shipping option expired or its price changed; quote again (409).")
    OPTION_MISMATCH = ("shipping.option_mismatch",
                       "The shipping option is not ours or was quoted for another "
                       "destination, items or currency (409).")
    CARRIER_UNKNOWN = "shipping.carrier_unknown", "No carrier of that name (404)."
    SERVICE_UNKNOWN = "shipping.service_unknown", "The carrier has no such service (422)."
    FULFILMENT_NOT_FOUND = "shipping.fulfilment_not_found", "No such fulfilment (404)."
    NOT_YOUR_FULFILMENT = ("shipping.not_your_fulfilment",
                           "Only the artisan who made the pieces marks them packed (403).")
    PARCEL_INVALID = ("shipping.parcel_invalid",
                      "The box's weight or size is not possible for its pieces (422).")
    NOT_PACKABLE = ("shipping.not_packable",
                    "The order or fulfilment can no longer be marked packed (409).")
    SHIPMENT_NOT_FOUND = "shipping.shipment_not_found", "No such shipment (404)."
    ORDER_NOT_SHIPPABLE = ("shipping.order_not_shippable",
                           "The order's status does not allow a shipment (409).")
    NOT_PACKED = ("shipping.not_packed",
                  "Every artisan must mark their pieces packed first (409).")
    NOTHING_TO_SHIP = ("shipping.nothing_to_ship",
                       "Every piece of the order has been refunded (409).")
    SHIPMENT_EXISTS = ("shipping.shipment_exists",
                       "The order has its shipment already; `shipment_id` names it (409).")
    SERVICE_WITHDRAWN = ("shipping.service_withdrawn",
                         "The order's shipping service is no longer offered (409).")
    PARCEL_TOO_LARGE = ("shipping.parcel_too_large",
                        "The consolidated parcel is over the service's limits (409).")
    PERMIT_INVALID = "shipping.permit_invalid", "The export permit is not complete (422)."
    NOT_HELD_FOR_PERMIT = ("shipping.not_held_for_permit",
                           "The shipment is not held for an export permit (409).")
    PAPERS_OPERATOR_ONLY = ("shipping.papers_operator_only",
                            "Only operators print labels and customs papers (403).")
    PAPERS_NOT_READY = ("shipping.papers_not_ready",
                        "The shipment has no label or customs papers yet (409).")
    CARRIER_SIGNATURE_INVALID = ("shipping.carrier_signature_invalid",
                                 "The carrier event's signature is missing, stale or wrong "
                                 "(401).")
    EVENT_IN_FUTURE = "shipping.event_in_future", "The carrier event is dated in the future (422)."
    PARCEL_NOT_FOUND = ("shipping.parcel_not_found",
                        "No parcel of ours with that carrier and tracking number (404).")
