from __future__ import annotations

from flask import Blueprint, Response

from marketplace.accounts import service as accounts
from marketplace.errors import NotFound
from marketplace.http import (
    attachment,
    auth_required,
    current_user,
    json_body,
    query_args,
    responds,
)
from marketplace.money import Money
from marketplace.orders import (
    disputes,
    guests,
    invoice_pdf,
    invoices,
    notify,
    receipt,
    reconciliation,
    service,
)
from marketplace.orders.errors import OrderError
from marketplace.orders.schemas import (
    ClaimIn,
    ClaimOut,
    DisputeEvidenceIn,
    DisputeListOut,
    DisputeOut,
    DocumentAccessQuery,
    GuestOrderQuery,
    OrderListOut,
    OrderListQuery,
    OrderOut,
    ReconciliationOut,
    ReconciliationQuery,
    RefundIn,
    RefundOut,
    TaxDocumentListOut,
    dispute_out,
    order_out,
    order_summary_out,
    reconciliation_out,
    refund_out,
    tax_document_out,
)
from marketplace.payouts import service as payouts
from marketplace.schemas import build

bp = Blueprint("orders", __name__, url_prefix="/api/v1")


def artisan_share(order_id: str, user) -> dict | None:
    """The artisan's own money from the order (their payout ledger), for their view of it."""
    if user.role != "artisan":
        return None
    shares = payouts.order_shares(payouts.entries_for_order(order_id, user.id))
    if len(shares) != 1:
        return None
    share = shares[0].to_dict()
    share.pop("order_id")
    return share


@bp.get("/orders")
@auth_required()
@query_args(OrderListQuery)
@responds(OrderListOut)
def list_orders(query: OrderListQuery):
    """Orders: a buyer's own, an artisan's (with their pieces), or all for operators."""
    orders, next_cursor = service.list_orders(
        current_user(), status=query.status, limit=query.limit, cursor=query.cursor)
    return build(OrderListOut, items=[order_summary_out(order, current_user())
                                      for order in orders],
                 next_cursor=next_cursor)


@bp.get("/orders/<order_id>")
@auth_required()
@responds(OrderOut)
def get_order(order_id: str):
    """One order with lines, totals, fulfilments, shipments and its timeline."""
    user = current_user()
    order = service.visible_order(order_id, user)
    return order_out(order, user, artisan_share=artisan_share(order.id, user))


@bp.post("/orders/<order_id>/cancel")
@auth_required()
@responds(OrderOut)
def cancel_order(order_id: str):
    """Cancel before shipment: what was paid is refunded and the pieces return to stock."""
    user = current_user()
    return order_out(service.cancel_order(order_id, user), user)


@bp.post("/operator/orders/<order_id>/refunds")
@auth_required("operator")
@json_body(RefundIn)
@responds(RefundOut, 201)
def refund_order(order_id: str, body: RefundIn):
    """Refund an amount, some lines, or everything left (operators)."""
    user = current_user()
    amount = Money(body.amount.amount, body.amount.currency) if body.amount else None
    lines = [(line.line_id, line.quantity) for line in body.lines] if body.lines else None
    refunds = service.refund_order(order_id, user,
                                   service.RefundRequest(amount, lines, body.reason))
    order = service.visible_order(order_id, user)
    return build(RefundOut, refunds=[refund_out(r) for r in refunds],
                 order=order_out(order, user)), 201


@bp.get("/guest/orders/<order_id>")
@query_args(GuestOrderQuery)
@responds(OrderOut)
def get_guest_order(order_id: str, query: GuestOrderQuery):
    """A guest's order, opened with the signed ``access`` token of its mails (no sign-in)."""
    order = service.get_order(order_id)
    if order is None or not notify.access_allows(order, query.access):
        raise NotFound("No such order.", code=OrderError.NOT_FOUND)
    return order_out(order, accounts.get_user(order.buyer_id))


@bp.post("/me/claims")
@auth_required("buyer")
@json_body(ClaimIn)
@responds(ClaimOut)
def claim_guest_orders(body: ClaimIn):
    """Add the orders this address paid as a guest to your account: with the welcome mail's
    ``token``, or an order's mailed ``order_id`` + ``access``."""
    user = current_user()
    if body.token:
        claimed = guests.claim_with_token(user, body.token)
    else:
        claimed = guests.claim_with_access(user, body.order_id or "", body.access or "")
    return build(ClaimOut, claimed=claimed)
@bp.get("/operator/disputes")
@auth_required("operator")
@responds(DisputeListOut)
def list_disputes():
    """Open disputes, the soonest evidence deadline first (operators)."""
    return build(DisputeListOut, items=[dispute_out(d) for d in disputes.open_disputes()])


@bp.get("/operator/reconciliation")
@auth_required("operator")
@query_args(ReconciliationQuery)
@responds(ReconciliationOut, alternatives=("text/csv",))
def get_reconciliation(query: ReconciliationQuery):
    """What Stripe says was captured, refunded and disputed against the payment ledger, per
    PaymentIntent that moved money on the day (UTC; yesterday by default), with every
    difference; ``format=csv`` for the same rows as CSV (operators)."""
    report = reconciliation.daily_report(query.date or reconciliation.yesterday())
    if query.format == "csv":
        return attachment(reconciliation.report_csv(report), reconciliation.csv_filename(report),
                          "text/csv; charset=utf-8")
    return reconciliation_out(report)


@bp.post("/operator/disputes/<dispute_id>/evidence")
@auth_required("operator")
@json_body(DisputeEvidenceIn)
@responds(DisputeOut)
def submit_dispute_evidence(dispute_id: str, body: DisputeEvidenceIn):
    """Send evidence for a dispute through Stripe's dispute API; ``submit`` sends it on to the
    bank (operators)."""
    return dispute_out(disputes.submit_evidence(dispute_id, current_user(), body.evidence,
                                                submit=body.submit))


def _pdf(document) -> Response:
    return _pdf_response(invoice_pdf.document_pdf(document), invoices.filename(document))


def _pdf_response(content: bytes, filename: str) -> Response:
    """A paper of an order, shown inline and never kept by a shared cache."""
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/orders/<order_id>/invoice.pdf")
@query_args(DocumentAccessQuery)
@responds(media_types=("application/pdf",))
def get_invoice(order_id: str, query: DocumentAccessQuery):
    """The order's invoice, a numbered tax document in the buyer's language: for its buyer
    (bearer token or session), a guest with the order's ``access`` token, and operators;
    404 ``order.invoice_not_available`` before payment."""
    return _pdf(invoices.invoice_for(order_id, current_user(), query.access))


@bp.get("/orders/<order_id>/receipt.pdf")
@query_args(DocumentAccessQuery)
@responds(media_types=("application/pdf",))
def get_receipt(order_id: str, query: DocumentAccessQuery):
    """The order's receipt (what was paid, for which pieces, with their provenance serials), as
    the receipt mail links it: for those who may read the invoice; 404
    ``order.receipt_not_available`` before payment."""
    order, content = receipt.receipt_for(order_id, current_user(), query.access)
    return _pdf_response(content, receipt.filename(order))


@bp.get("/orders/<order_id>/credit-notes/<number>.pdf")
@query_args(DocumentAccessQuery)
@responds(media_types=("application/pdf",))
def get_credit_note(order_id: str, number: str, query: DocumentAccessQuery):
    """A credit note of the order (one per refund, its number as listed in documents), for
    those who may read the invoice."""
    return _pdf(invoices.credit_note_for(order_id, number, current_user(), query.access))


@bp.get("/orders/<order_id>/documents")
@query_args(DocumentAccessQuery)
@responds(TaxDocumentListOut)
def list_documents(order_id: str, query: DocumentAccessQuery):
    """The order's issued invoice and credit notes with their numbers and PDF links."""
    order = invoices.readable_order(order_id, current_user(), query.access)
    return build(TaxDocumentListOut, items=[tax_document_out(document)
                                            for document in invoices.documents_of(order.id)])
