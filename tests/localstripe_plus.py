"""The ``localstripe`` emulator with what Stripe has and it lacks, for tests: Disputes, and
refunds that the bank fails after Stripe accepted them.

Run as ``python -m tests.localstripe_plus --port N --from-scratch`` (the ``stripe_emulator``
fixture does). It is localstripe itself (same store, same routes) plus:

- ``GET /v1/disputes/{id}``, ``GET /v1/disputes``, ``POST /v1/disputes/{id}`` (``evidence[...]``,
  ``submit``, ``metadata``) and ``POST /v1/disputes/{id}/close``, answering the Dispute object
  shaped as in Stripe's OpenAPI fixtures (``balance_transactions``, ``evidence``,
  ``evidence_details``, ``is_charge_refundable``, ``payment_intent``, ``reason``, ``status``);
- what only the card network or the bank does in real life, under ``/_config``:
  ``POST /_config/disputes`` (``charge``, ``reason``, optional ``amount``) opens a dispute and
  withdraws its amount (a balance transaction), ``POST /_config/disputes/{id}/close``
  (``status`` = won | lost) decides it (a won dispute reinstates the funds), and
  ``POST /_config/refunds/{id}/fail`` makes a succeeded refund ``failed`` (``failure_reason``).

Webhooks for these are not sent by the emulator: tests build the events from the objects as
Stripe builds them (``tests.stripe_emulator.stripe_event``) and sign them as Stripe does.
"""

from __future__ import annotations

import time

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
    "uncategorized_file", "uncategorized_text",
)


class Dispute(resources.StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge=None, reason="fraudulent", amount=None, **kwargs):
        charge_obj = resources.Charge._api_retrieve(charge)
        super().__init__()
        self.amount = int(amount) if amount is not None else charge_obj.amount
        self.currency = charge_obj.currency
        self.charge = charge_obj.id
        self.payment_intent = getattr(charge_obj, "payment_intent", None)
        self.reason = reason
        self.status = "needs_response"
        self.is_charge_refundable = False
        self.metadata = {}
        self.evidence = {field: None for field in EVIDENCE_FIELDS}
        self.evidence_details = {"due_by": int(time.time()) + 7 * 86400, "has_evidence": False,
                                 "past_due": False, "submission_count": 0}
        self.balance_transactions = [self._movement(-self.amount, "Chargeback withdrawal")]

    def _movement(self, amount: int, description: str) -> dict:
        # The emulator's own BalanceTransaction accepts only charges and refunds as sources.
        now = int(time.time())
        return {"id": "txn_" + resources.random_id(14), "object": "balance_transaction",
                "amount": amount, "available_on": now, "created": now,
                "currency": self.currency, "description": description, "exchange_rate": None,
                "fee": 0, "fee_details": [], "net": amount, "reporting_category": "dispute",
                "source": self.id, "status": "available", "type": "adjustment"}

    @classmethod
    def _api_update(cls, id, evidence=None, submit=None, metadata=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        obj = cls._api_retrieve(id)
        if obj.status in ("won", "lost", "warning_closed"):
            raise UserError(400, "This dispute is already closed")
        for field, value in (evidence or {}).items():
            if field not in EVIDENCE_FIELDS:
                raise UserError(400, f"Received unknown parameter: evidence[{field}]")
            obj.evidence[field] = value
        if metadata:
            obj.metadata.update(metadata)
        obj.evidence_details["has_evidence"] = any(obj.evidence.values())
        if resources.try_convert_to_bool(submit) is not False:
            obj.evidence_details["submission_count"] += 1
            obj.status = "under_review"
        return obj

    @classmethod
    def _api_close(cls, id, **kwargs):
        obj = cls._api_retrieve(id)
        if obj.status not in ("won", "lost"):
            obj.status = "lost"
        return obj

    @classmethod
    def _config_open(cls, charge=None, reason="fraudulent", amount=None, **kwargs):
        return cls(charge=charge, reason=reason, amount=amount)

    @classmethod
    def _config_decide(cls, id, status=None, **kwargs):
        if status not in ("won", "lost"):
            raise UserError(400, "status must be won or lost")
        obj = cls._api_retrieve(id)
        obj.status = status
        if status == "won":
            obj.balance_transactions.append(obj._movement(obj.amount, "Chargeback reversal"))
        return obj


def _fail_refund(id, failure_reason="lost_or_stolen_card", **kwargs):
    refund = resources.Refund._api_retrieve(id)
    refund.status = "failed"
    refund.failure_reason = failure_reason
    return refund


def _list(request):
    data = server.unflatten_data(request.query)
    items = Dispute._api_list_all("/v1/disputes", limit=data.get("limit"))
    return server.json_response(items._export())


def _add_routes(app: web.Application) -> None:
    extra = (
        ("POST", "/v1/disputes/{id}/close", Dispute._api_close),
        ("POST", "/_config/disputes", Dispute._config_open),
        ("POST", "/_config/disputes/{id}/close", Dispute._config_decide),
        ("POST", "/_config/refunds/{id}/fail", _fail_refund),
    )
    for method, url, func in extra:
        app.router.add_route(method, url, server.api_extra(func, url))
    app.router.add_route("GET", "/v1/disputes", _list)
    app.router.add_route("GET", "/v1/disputes/{id}", server.api_retrieve(Dispute, None))
    app.router.add_route("POST", "/v1/disputes/{id}", server.api_update(Dispute, None))


_add_routes(server.app)

if __name__ == "__main__":
    server.start()
