"""The operator console (/console): provenance queue and decisions, buyers' flags, orders with
refunds and shipments (labels, customs papers, export permits), the register of issued invoices
and credit notes, disputes with their evidence form, exchange-rate overrides, payout batches.
Each view reads the form, calls one service and renders."""

from __future__ import annotations

from datetime import date as date_type

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from marketplace.accounts import service as accounts
from marketplace.catalog import browse
from marketplace.errors import (
    Conflict,
    ExternalServiceError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from marketplace.fx import service as fx
from marketplace.fx.service import QUOTE_CURRENCY
from marketplace.http import attachment, parse_model
from marketplace.i18n import current_language, format_money
from marketplace.ids import utcnow
from marketplace.money import Money
from marketplace.orders import alerts as order_alerts
from marketplace.orders import disputes as dispute_service
from marketplace.orders import invoices, lifecycle
from marketplace.orders import reconciliation as reconciliation_service
from marketplace.orders import service as order_service
from marketplace.orders.models import OrderStatus, ShipmentStatus
from marketplace.orders.schemas import document_pdf_path, order_out
from marketplace.payouts import service as payouts
from marketplace.payouts.rails import BANK_TRANSFER
from marketplace.payouts.schemas import batch_out, batch_summary_out
from marketplace.provenance import flags as buyer_flags
from marketplace.provenance import labels, records
from marketplace.provenance.models import FlagStatus, RecordStatus
from marketplace.provenance.schemas import DecisionIn, ResolveFlagIn, RevokeIn
from marketplace.shipping import parcels, returns
from marketplace.shipping.schemas import shipment_out
from marketplace.storefront import insights, record_form
from marketplace.storefront.forms import (
    day,
    general_key,
    minor_units,
    optional_text,
    place_errors,
    text,
    whole_number,
)
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, present_listings, roles_required

bp = html_errors(Blueprint("console", __name__, url_prefix="/console"))

PAGE_SIZE = 50
DASHBOARD_ROWS = 10
EVIDENCE_ROWS = 3
EVIDENCE_TYPES = ("identity", "studio_visit", "work_in_progress", "material_receipt",
                  "third_party_attestation", "other")


def _craft_names() -> dict[str, str]:
    return {craft["code"]: craft["name"] for craft in browse.crafts(current_language())}


def _next_url(endpoint: str, cursor: str | None, **args) -> str | None:
    return url_for(endpoint, cursor=cursor, **args) if cursor else None


@bp.get("/")
@roles_required("operator")
def dashboard():
    queue, more_records = records.list_records(RecordStatus.PENDING, limit=DASHBOARD_ROWS)
    flags, more_flags = buyer_flags.list_flags(FlagStatus.OPEN, limit=DASHBOARD_ROWS)
    user = page_user()
    to_ship = {status: order_service.list_orders(user, status=status, limit=DASHBOARD_ROWS)
               for status in lifecycle.SHIPPABLE}
    return render_template("console/dashboard.html", queue=queue, more_records=more_records,
                           flags=flags, more_flags=more_flags, to_ship=to_ship,
                           charts=insights.console_charts())


# --- provenance ----------------------------------------------------------------------------

@bp.get("/provenance")
@roles_required("operator")
def provenance_queue():
    status = request.args.get("status", RecordStatus.PENDING)
    if status not in set(RecordStatus):
        status = RecordStatus.PENDING
    items, next_cursor = records.list_records(status, limit=PAGE_SIZE,
                                              cursor=request.args.get("cursor") or None)
    return render_template("console/provenance_queue.html", items=items, status=status,
                           statuses=list(RecordStatus),
                           next_url=_next_url("console.provenance_queue", next_cursor,
                                              status=status))


def _decision_message(field: str) -> str:
    messages = {
        "decision": _("Approve or reject."),
        "level": _("Choose L1 or L2."),
        "evidence": _("An approval needs at least one piece of evidence."),
        "evidence.type": _("Choose the kind of evidence."),
        "evidence.note": _("Describe the evidence."),
        "evidence.url": _("A link starts with http:// or https://."),
        "attestation": _("Level L2 needs the attestation (scheme, issuer and reference); "
                         "level L1 takes none."),
        "attestation.scheme": _("Enter the scheme, the issuer and the reference."),
        "attestation.issuer": _("Enter the scheme, the issuer and the reference."),
        "attestation.reference": _("Enter the scheme, the issuer and the reference."),
        "attestation.url": _("A link starts with http:// or https://."),
        "attestation.valid_until": _("Enter a date."),
        "note": _("A rejection needs a note for the artisan."),
    }
    return messages.get(field, _("Check this field."))


def _decision_form() -> dict:
    evidence = []
    for index in range(EVIDENCE_ROWS):
        row = {key: text(f"evidence-{index}-{key}") for key in ("type", "note", "url")}
        if any(row.values()):
            evidence.append({key: value for key, value in row.items() if value})
    attestation = {key: text(f"attestation-{key}")
                   for key in ("scheme", "issuer", "reference", "url", "valid_until")}
    return {
        "decision": text("decision"), "level": text("level") or None, "evidence": evidence,
        "attestation": ({key: value for key, value in attestation.items() if value}
                        if any(attestation.values()) else None),
        "note": optional_text("note"),
    }


def _render_record(product_id: str, *, form: dict | None = None, errors: dict | None = None,
                   status: int = 200):
    user = page_user()
    product = browse.get_product(product_id, viewer=user)
    listing = present_listings([product], currency="USD")[0]
    view = records.record_view(records.get_record(product_id, user=user),
                               product_id=product_id, product_craft=product.craft)
    missing = [record_form.error_message(key)
               for key in dict.fromkeys(general_key(field) for field in view["missing"])]
    form = form or {"level": "L1", "evidence": [], "attestation": None, "note": None}
    evidence_rows = list(form["evidence"]) + [{}] * (EVIDENCE_ROWS - len(form["evidence"]))
    return render_template(
        "console/provenance_record.html", listing=listing, view=view, missing=missing,
        actions=records.record_actions(view["status"]),
        workshop=browse.profile_view(product.artisan_id, current_language()),
        craft_names=_craft_names(), form=form, evidence_rows=evidence_rows,
        evidence_types=EVIDENCE_TYPES, errors=errors or {}), status


@bp.get("/provenance/<product_id>")
@roles_required("operator")
def provenance_record(product_id: str):
    return _render_record(product_id)


@bp.post("/provenance/<product_id>/decision")
@roles_required("operator")
def decide(product_id: str):
    form = _decision_form()
    try:
        # The API's own input model first: its errors name the evidence row they are about.
        data = parse_model(DecisionIn, form).model_dump(mode="json", exclude_none=True)
        record = records.decide(product_id, operator_id=page_user().id, **data)
    except ValidationFailed as exc:
        return _render_record(product_id, form=form, status=422,
                              errors=place_errors(exc.errors, _decision_message))
    except InvalidTransition as refused:
        flash(message_for(refused, default=_("This record is no longer waiting for "
                                             "verification.")), "error")
        return redirect(url_for("console.provenance_record", product_id=product_id))
    if record.status == RecordStatus.VALID:
        code = labels.label_code_for_product(product_id)
        flash(_("Approved at level %(level)s: label %(code)s is issued.", level=record.level,
                code=code), "success")
    else:
        flash(_("Rejected. The artisan sees the record as rejected and can correct it."),
              "success")
    return redirect(url_for("console.provenance_queue"))


@bp.get("/flags")
@roles_required("operator")
def flags():
    status = request.args.get("status", FlagStatus.OPEN)
    if status not in set(FlagStatus):
        status = FlagStatus.OPEN
    items, next_cursor = buyer_flags.list_flags(status, limit=PAGE_SIZE,
                                                cursor=request.args.get("cursor") or None)
    items = [{**item, "actions": buyer_flags.flag_actions(item)} for item in items]
    return render_template("console/flags.html", items=items, status=status,
                           next_url=_next_url("console.flags", next_cursor, status=status))


@bp.post("/flags/<flag_id>/resolve")
@roles_required("operator")
def resolve_flag(flag_id: str):
    try:
        note = parse_model(ResolveFlagIn, {"note": optional_text("note")}).note
        buyer_flags.resolve_flag(flag_id, operator_id=page_user().id, note=note)
    except ValidationFailed:
        flash(_("Check this field."), "error")
    except InvalidTransition as refused:
        flash(message_for(refused, default=_("This flag was already resolved.")), "error")
    else:
        flash(_("The flag is resolved."), "success")
    return redirect(url_for("console.flags"))


@bp.post("/provenance/<product_id>/revoke")
@roles_required("operator")
def revoke_label(product_id: str):
    try:
        reason = parse_model(RevokeIn, {"reason": text("reason")}).reason
    except ValidationFailed:
        flash(_("Say why the label is withdrawn; the artisan will read it."), "error")
        return redirect(request.referrer or url_for("console.flags"))
    try:
        labels.revoke_label(product_id, reason=reason, operator_id=page_user().id)
    except InvalidTransition as refused:
        flash(message_for(refused, default=_("This piece has no valid label to withdraw.")),
              "error")
    else:
        flash(_("The label is withdrawn. The piece shows no badge until it is verified again."),
              "success")
    return redirect(url_for("console.flags"))


# --- orders, refunds, shipments -----------------------------------------------------------

@bp.get("/orders")
@roles_required("operator")
def orders():
    status = request.args.get("status") or None
    if status not in set(OrderStatus):
        status = None
    found, next_cursor = order_service.list_orders(page_user(), status=status, limit=PAGE_SIZE,
                                                   cursor=request.args.get("cursor") or None)
    shipment_of = {order.id: (parcels.shipments_for_order(order.id) or [None])[-1]
                   for order in found}
    return render_template("console/orders.html", orders=found, shipment_of=shipment_of,
                           status=status, statuses=list(OrderStatus),
                           next_url=_next_url("console.orders", next_cursor,
                                              **({"status": status} if status else {})))


def _render_order(order_id: str, *, errors: dict | None = None, typed: dict | None = None,
                  status: int = 200):
    user = page_user()
    found = order_service.visible_order(order_id, user)
    view = order_out(found, user)
    parcel_views = [shipment_out(parcels.visible_shipment(item["id"], user), user)
                    for item in view["shipments"]]
    workshops = {f["artisan_id"]: browse.profile_view(f["artisan_id"])["workshop_name"]
                 for f in view["fulfilments"]}
    # what customs will be told each piece is: the destination's national code, else HS
    customs_codes = {line["product_id"]: line.get("tariff_code") or line["hs_code"]
                     for line in (found.shipping_option or {}).get("hs_lines", [])}
    return render_template(
        "console/order.html", order=view, buyer=accounts.get_user(found.buyer_id),
        customs_codes=customs_codes,
        workshops=workshops, parcels=parcel_views,
        can_ship=parcels.parcel_refusal(found) is None,
        can_refund=order_service.refund_refusal(found) is None,
        documents=invoices.documents_of(found.id), pdf_path=document_pdf_path,
        disputes=dispute_service.disputes_of(found.id),
        errors=errors or {}, typed=typed or {}), status


@bp.get("/orders/<order_id>")
@roles_required("operator")
def order(order_id: str):
    return _render_order(order_id)


def _refund_message(field: str) -> str:
    messages = {
        "amount": _("Enter an amount no larger than what is left to refund, in the order's "
                    "currency."),
        "lines": _("Choose how many of which pieces to refund, no more than are left."),
        "reason": _("Say why, in up to 500 characters: the buyer and the books see it."),
    }
    return messages.get(field, _("Check this field."))


@bp.post("/orders/<order_id>/refunds")
@roles_required("operator")
def refund(order_id: str):
    user = page_user()
    found = order_service.visible_order(order_id, user)
    errors: dict[str, str] = {}
    mode, reason = text("refund"), text("reason")
    amount, lines = None, None
    if mode == "amount":
        typed = minor_units(text("amount"), found.currency)
        if typed is None or typed <= 0:
            errors["amount"] = _refund_message("amount")
        else:
            amount = Money(typed, found.currency)
    elif mode == "lines":
        lines = []
        for line in found.lines:
            quantity = whole_number(f"line-{line.id}", errors, _refund_message("lines"),
                                    required=False)
            if quantity is not None and quantity < 0:
                errors["lines"] = _refund_message("lines")
            elif quantity:
                lines.append((line.id, quantity))
        if errors or not lines:
            errors = {"lines": _refund_message("lines")}
    elif mode != "all":
        errors["refund"] = _("Choose what to refund.")
    if not 1 <= len(reason) <= 500:
        errors["reason"] = _refund_message("reason")
    if not errors:
        try:
            made = order_service.refund_order(
                order_id, user, order_service.RefundRequest(amount, lines, reason))
        except ValidationFailed as exc:
            errors = place_errors(exc.errors, _refund_message,
                                  lambda field: field.split(".")[0])
        except InvalidTransition as refused:
            errors = {"refund": message_for(
                refused, default=_("Nothing is left to refund on this order."))}
        except Conflict as refused:
            errors = {"refund": message_for(
                refused, default=_("There is not enough paid money left to refund that."))}
        except ExternalServiceError as refused:
            errors = {"refund": message_for(
                refused, default=_("Stripe did not answer; nothing was refunded. Try again."))}
        else:
            total = sum((refund.money for refund in made), Money.zero(found.currency))
            flash(_("Refunded %(amount)s.", amount=format_money(total)), "success")
            return redirect(url_for("console.order", order_id=order_id))
    typed = {"refund": mode, "amount": text("amount"), "reason": reason,
             **{key: value for key, value in request.form.items() if key.startswith("line-")}}
    return _render_order(order_id, errors=errors, typed=typed, status=422)


@bp.post("/orders/<order_id>/shipment")
@roles_required("operator")
def request_shipment(order_id: str):
    try:
        shipment = parcels.request_shipment(order_id, page_user())
    except InvalidTransition as refused:
        flash(message_for(refused, default=_(
            "The shipment cannot be made yet: every artisan must mark their pieces packed, "
            "and the order must be paid.")), "error")
    except Conflict as refused:
        flash(message_for(refused, default=_(
            "The parcel cannot be made: it exists already, or the delivery service no "
            "longer takes it. Check the order.")), "error")
    else:
        if shipment.status == ShipmentStatus.HELD_EXPORT:
            flash(_("The parcel is held: a piece of cultural value needs an export permit "
                    "first."), "info")
        else:
            flash(_("The shipment is requested; the label and customs papers are being made."),
                  "success")
    return redirect(url_for("console.order", order_id=order_id))


def _pdf(data: bytes, filename: str) -> Response:
    return attachment(data, filename, "application/pdf", private=True)


@bp.get("/shipments/<shipment_id>/label.pdf")
@roles_required("operator")
def label_pdf(shipment_id: str):
    return _pdf(parcels.shipment_paper(shipment_id, page_user(), "label"),
                f"label-{shipment_id}.pdf")


@bp.get("/shipments/<shipment_id>/customs.pdf")
@roles_required("operator")
def customs_pdf(shipment_id: str):
    return _pdf(parcels.shipment_paper(shipment_id, page_user(), "customs"),
                f"customs-{shipment_id}.pdf")


def _permit_message(field: str) -> str:
    messages = {
        "permit_number": _("Enter the permit's number."),
        "issued_by": _("Enter who issued the permit."),
        "issued_at": _("Enter the date the permit was issued; it cannot be in the future."),
    }
    return messages.get(field, _("Check this field."))


@bp.post("/shipments/<shipment_id>/export-permit")
@roles_required("operator")
def export_permit(shipment_id: str):
    user = page_user()
    shipment = parcels.visible_shipment(shipment_id, user)
    errors: dict[str, str] = {}
    issued_at = day("issued_at", errors, _permit_message("issued_at"))
    if not errors:
        try:
            parcels.record_export_permit(shipment_id, user, permit_number=text("permit_number"),
                                           issued_by=text("issued_by"), issued_at=issued_at)
        except ValidationFailed as exc:
            errors = place_errors(exc.errors, _permit_message)
        except InvalidTransition as refused:
            flash(message_for(refused, default=_("This parcel is not waiting for an export "
                                                 "permit.")), "error")
            return redirect(url_for("console.order", order_id=shipment.order_id))
        else:
            flash(_("The permit is recorded; the label is being made."), "success")
            return redirect(url_for("console.order", order_id=shipment.order_id))
    typed = {key: text(key) for key in ("permit_number", "issued_by", "issued_at")}
    return _render_order(shipment.order_id, errors={"permit": errors}, typed=typed, status=422)


# --- exchange rates ------------------------------------------------------------------------

def _render_rates(*, errors: dict | None = None, typed: dict | None = None, status: int = 200):
    rates = sorted(fx.current_rates().rates.values(), key=lambda rate: rate.currency)
    # A source note (often a paragraph) is shown once and numbered; each row cites its number.
    sources = list(dict.fromkeys(rate.source for rate in rates))
    return render_template("console/fx.html", rates=rates, quote_currency=QUOTE_CURRENCY,
                           sources=sources,
                           errors=errors or {}, typed=typed or {}), status


@bp.get("/fx")
@roles_required("operator")
def rates():
    return _render_rates()


@bp.post("/fx/<currency>")
@roles_required("operator")
def set_rate(currency: str):
    try:
        if request.form.get("action") == "clear":
            if fx.clear_override(currency) is None:
                raise NotFound("No such rate.")
            flash(_("%(currency)s follows the rate source again.", currency=currency), "success")
        else:
            fx.set_override(currency, text("rate").replace(",", "."),
                            operator_id=page_user().id)
            flash(_("%(currency)s is pinned at %(rate)s per US dollar.", currency=currency,
                    rate=text("rate")), "success")
    except ValidationFailed as refused:
        return _render_rates(errors={currency: message_for(refused)},
                             typed={currency: text("rate")}, status=refused.status)
    return redirect(url_for("console.rates"))


# --- payout batches ------------------------------------------------------------------------

@bp.get("/payouts")
@roles_required("operator")
def payout_batches():
    batches, next_cursor = payouts.list_batches(limit=PAGE_SIZE,
                                                cursor=request.args.get("cursor") or None)
    return render_template("console/payouts.html",
                           batches=[batch_summary_out(batch) for batch in batches],
                           pending=payouts.pending_balances(),
                           hold_days=int(current_app.config["PAYOUT_HOLD_DAYS"]),
                           next_url=_next_url("console.payout_batches", next_cursor))


@bp.post("/payouts/run")
@roles_required("operator")
def run_payouts():
    execution_date = None
    if text("execution_date"):
        errors: dict[str, str] = {}
        execution_date = day("execution_date", errors, "")
        if errors:
            flash(_("Enter the execution date as a date."), "error")
            return redirect(url_for("console.payout_batches"))
    result = payouts.run_payouts(rail=BANK_TRANSFER, actor_id=page_user().id,
                                 execution_date=execution_date)
    for skipped in result.skipped:
        amount = format_money(skipped["amount"])
        workshop = browse.profile_view(skipped["artisan_id"])["workshop_name"]
        if skipped["amount"]["amount"] < 0:
            flash(_("%(workshop)s is not paid: refunds after earlier payouts leave %(amount)s.",
                    workshop=workshop, amount=amount), "info")
        else:
            flash(_("%(workshop)s is not paid %(amount)s: the workshop has no bank account "
                    "for payouts.", workshop=workshop, amount=amount), "info")
    if result.batch is None:
        flash(_("No artisan has a payable balance now."), "info")
        return redirect(url_for("console.payout_batches"))
    flash(_("The batch is ready: download its files for the bank, then mark it executed."),
          "success")
    return redirect(url_for("console.payout_batch", batch_id=result.batch.id))


@bp.get("/payouts/<batch_id>")
@roles_required("operator")
def payout_batch(batch_id: str):
    return render_template("console/payout_batch.html",
                           batch=batch_out(payouts.get_batch(batch_id)))


@bp.get("/payouts/<batch_id>/files/<name>")
@roles_required("operator")
def payout_file(batch_id: str, name: str):
    row = payouts.batch_file(batch_id, name)
    return attachment(row.content, f"{batch_id}-{name}", row.content_type, private=True)


@bp.post("/payouts/<batch_id>/executed")
@roles_required("operator")
def payout_batch_executed(batch_id: str):
    reference = optional_text("bank_reference")
    if reference is not None and len(reference) > 100:
        flash(_("The bank's reference is at most 100 characters."), "error")
        return redirect(url_for("console.payout_batch", batch_id=batch_id))
    try:
        payouts.mark_batch_executed(batch_id, page_user(), bank_reference=reference)
    except InvalidTransition as refused:
        flash(message_for(refused), "error")
    else:
        flash(_("The batch is executed: its payouts are paid."), "success")
    return redirect(url_for("console.payout_batch", batch_id=batch_id))


@bp.get("/tax")
@roles_required("operator")
def tax_returns():
    """The figures of a point-of-sale scheme's return, by destination and rate."""
    scheme = (request.args.get("scheme") or "IOSS").strip().upper()
    period = (request.args.get("period") or utcnow().strftime("%Y-%m")).strip()
    report, error = None, None
    if scheme not in returns.SCHEME_CURRENCY:
        scheme = "IOSS"
    try:
        registration = current_app.config.get(returns.SCHEME_SETTING[scheme])
        report = returns.tax_return(scheme, period, registration)
    except ValidationFailed:
        error = _("Choose a month (2026-11) or a quarter (2026-Q4).")
    except Conflict:
        error = _("The exchange rate this return must convert at is not published yet (the "
                  "period has not ended, or the rates were not refreshed that day).")
    return render_template("console/tax_returns.html", report=report, error=error,
                           scheme=scheme, period=period, schemes=list(returns.SCHEME_CURRENCY))


# --- reconciliation and alerts -------------------------------------------------------------

def _report_day() -> date_type:
    value = request.args.get("day") or ""
    try:
        return date_type.fromisoformat(value)
    except ValueError:
        return reconciliation_service.yesterday()


@bp.get("/reconciliation")
@roles_required("operator")
def reconciliation():
    report = reconciliation_service.daily_report(_report_day())
    return render_template("console/reconciliation.html", report=report,
                           alerts=order_alerts.open_alerts())


@bp.get("/reconciliation.csv")
@roles_required("operator")
def reconciliation_csv():
    report = reconciliation_service.daily_report(_report_day())
    return attachment(reconciliation_service.report_csv(report),
                      reconciliation_service.csv_filename(report), "text/csv; charset=utf-8")


# --- audit trail ----------------------------------------------------------------------------

@bp.get("/audit")
@roles_required("operator")
def audit_trail():
    """Who changed what, newest first; filters by actor, table and row, read-only."""
    from marketplace import audit

    filters = {name: (request.args.get(name) or None)
               for name in ("actor_id", "entity", "entity_id")}
    action = request.args.get("action") or None
    if action not in (None, "insert", "update", "delete"):
        action = None
    rows, next_cursor = audit.search(**{k: v[:200] if v else None for k, v in filters.items()},
                                     action=action, limit=50,
                                     cursor=request.args.get("cursor") or None)
    return render_template("console/audit.html", rows=rows, next_cursor=next_cursor,
                           filters=filters, action=action)


# --- tax documents and disputes -----------------------------------------------------------------

@bp.get("/documents")
@roles_required("operator")
def documents():
    """Every issued invoice and credit note, newest first, with what each lacks."""
    return render_template("console/documents.html", documents=invoices.recent_documents(),
                           pdf_path=document_pdf_path)


def _evidence_message(field: str) -> str:
    messages = {
        "evidence": _("Fill in at least one field, at most 20,000 characters in all."),
        "dispute": _("This dispute takes no more evidence."),
    }
    return messages.get(field, _("Check this field."))


def _render_disputes(*, errors: dict | None = None, typed: dict | None = None,
                     status: int = 200):
    return render_template("console/disputes.html", disputes=dispute_service.open_disputes(),
                           fields=dispute_service.EVIDENCE_TEXT_FIELDS,
                           errors=errors or {}, typed=typed or {}), status


@bp.get("/disputes")
@roles_required("operator")
def disputes():
    return _render_disputes()


@bp.post("/disputes/<dispute_id>/evidence")
@roles_required("operator")
def dispute_evidence(dispute_id: str):
    """The evidence form: the same service as ``POST /api/v1/operator/disputes/{id}/evidence``."""
    evidence = {field: text(field) for field in dispute_service.EVIDENCE_TEXT_FIELDS
                if text(field)}
    submit = request.form.get("submit") == "1"
    errors: dict[str, str] = {}
    try:
        dispute = dispute_service.submit_evidence(dispute_id, page_user(), evidence,
                                                  submit=submit)
    except ValidationFailed:
        errors = {"evidence": _evidence_message("evidence")}
    except InvalidTransition as refused:
        errors = {"evidence": message_for(refused, default=_evidence_message("dispute"))}
    except ExternalServiceError as refused:
        errors = {"evidence": message_for(
            refused, default=_("Stripe did not answer; nothing was sent. Try again."))}
    else:
        flash(_("Evidence submitted to the bank.") if submit
              else _("Evidence saved at Stripe; submit it when it is complete."), "success")
        return redirect(url_for("console.disputes", _anchor=f"dispute-{dispute.id}"))
    return _render_disputes(errors={dispute_id: errors},
                            typed={dispute_id: {**evidence, "submit": submit}}, status=422)
