"""Error codes of orders: lookups, the state machine, refunds and cancellations."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class OrderError(ErrorCodes):
    NOT_FOUND = "order.not_found", "No such order, or it is not yours to see (404)."
    INVALID_TRANSITION = ("order.invalid_transition",
                          "The order's status does not allow this move (409).")
    REFUND_OPERATOR_ONLY = "order.refund_operator_only", "Only operators issue refunds (403)."
    NOT_REFUNDABLE = ("order.not_refundable",
                      "The order's status has no payment to refund (409).")
    FULLY_REFUNDED = ("order.fully_refunded",
                      "Everything paid for the order has been refunded already (409).")
    REFUND_AMOUNT_OR_LINES = ("order.refund_amount_or_lines",
                              "A refund gives an amount or lines, not both (422).")
    REFUND_LINES_INVALID = ("order.refund_lines_invalid",
                            "Some lines are not the order's or have fewer pieces left (422).")
    REFUND_CURRENCY_MISMATCH = ("order.refund_currency_mismatch",
                                "A refund amount is in the order's currency (422).")
    REFUND_TOO_LARGE = ("order.refund_too_large",
                        "The amount is more than is left to refund on the order (422).")
    REFUND_EXCEEDS_CAPTURED = ("order.refund_exceeds_captured",
                               "Stripe holds less captured money than the refund (409).")
    CANCEL_FORBIDDEN = ("order.cancel_forbidden",
                        "Only the order's buyer or an operator cancels it (403).")
    NOT_CANCELLABLE = ("order.not_cancellable",
                       "The order's status no longer allows cancelling it (409).")
    FULFILMENT_NOT_FOUND = "order.fulfilment_not_found", "No such fulfilment (404)."
    FULFILMENT_INVALID_TRANSITION = (
        "order.fulfilment_invalid_transition",
        "The fulfilment's status does not allow this move (409).")
    SHIPMENT_NOT_FOUND = "order.shipment_not_found", "No such shipment (404)."
    SHIPMENT_INVALID_TRANSITION = ("order.shipment_invalid_transition",
                                   "The shipment's status does not allow this move (409).")
    DISPUTE_NOT_FOUND = "order.dispute_not_found", "No such dispute (404)."
    DISPUTE_OPERATOR_ONLY = ("order.dispute_operator_only",
                             "Only operators answer disputes (403).")
    DISPUTE_CLOSED = ("order.dispute_closed",
                      "The dispute is closed or under review and takes no more evidence (409).")
    DISPUTE_EVIDENCE_INVALID = ("order.dispute_evidence_invalid",
                                "The evidence names unknown fields, none, or is too long (422).")
    INVOICE_NOT_AVAILABLE = ("order.invoice_not_available",
                             "The order has no invoice: it has not been paid (404).")
    RECEIPT_NOT_AVAILABLE = ("order.receipt_not_available",
                             "The order has no receipt: it has not been paid (404).")
    CONCURRENT_CHANGE = ("order.concurrent_change",
                         "The order changed while it was being moved; try again (409).")
