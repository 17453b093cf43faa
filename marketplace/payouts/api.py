from __future__ import annotations

from flask import Blueprint, current_app

from marketplace.errors import Conflict
from marketplace.http import (
    attachment,
    auth_required,
    current_user,
    json_body,
    query_args,
    responds,
)
from marketplace.payouts import service
from marketplace.payouts.errors import PayoutError
from marketplace.payouts.schemas import (
    ArtisanPayoutsOut,
    BatchListOut,
    BatchOut,
    ExecutedIn,
    PageQuery,
    PayoutAccountIn,
    PayoutAccountOut,
    RunIn,
    RunOut,
    account_out,
    balance_out,
    batch_out,
    batch_summary_out,
    payout_out,
)
from marketplace.schemas import build

bp = Blueprint("payouts", __name__, url_prefix="/api/v1")


@bp.get("/artisans/me/payouts")
@auth_required("artisan")
@query_args(PageQuery)
@responds(ArtisanPayoutsOut)
def my_payouts(query: PageQuery):
    """The artisan's payouts with their orders and commission, and the balance still open."""
    user = current_user()
    payouts, next_cursor = service.artisan_payouts(user.id, limit=query.limit,
                                                   cursor=query.cursor)
    return build(ArtisanPayoutsOut, items=[payout_out(p) for p in payouts],
                 next_cursor=next_cursor,
                 balances=[balance_out(b) for b in service.balances(user.id)],
                 hold_days=int(current_app.config["PAYOUT_HOLD_DAYS"]))


@bp.get("/artisans/me/payout-account")
@auth_required("artisan")
@responds(PayoutAccountOut)
def my_payout_account():
    """The bank account bank-transfer payouts go to."""
    return account_out(service.payout_account(current_user()))


@bp.put("/artisans/me/payout-account")
@auth_required("artisan")
@json_body(PayoutAccountIn)
@responds(PayoutAccountOut)
def save_payout_account(body: PayoutAccountIn):
    """Set the IBAN and BIC for bank-transfer payouts (the IBAN's check digits are verified)."""
    return account_out(service.set_payout_account(
        current_user(), iban=body.iban, bic=body.bic, holder_name=body.holder_name,
        iin_bin=body.iin_bin, kbe=body.kbe))


@bp.post("/operator/payouts/batches")
@auth_required("operator")
@json_body(RunIn)
@responds(RunOut, 201)
def run_payouts(body: RunIn):
    """Pay every payable balance now: one batch with its bank files (409 if nothing is due)."""
    result = service.run_payouts(rail=body.rail, actor_id=current_user().id,
                                 execution_date=body.execution_date)
    if result.batch is None:
        raise Conflict("No artisan has a payable balance now.", skipped=result.skipped,
                       code=PayoutError.NOTHING_PAYABLE)
    return build(RunOut, batch=batch_out(result.batch), skipped=result.skipped), 201


@bp.get("/operator/payouts/batches")
@auth_required("operator")
@query_args(PageQuery)
@responds(BatchListOut)
def list_batches(query: PageQuery):
    """Payout batches, newest first."""
    batches, next_cursor = service.list_batches(limit=query.limit, cursor=query.cursor)
    return build(BatchListOut, items=[batch_summary_out(b) for b in batches],
                 next_cursor=next_cursor)


@bp.get("/operator/payouts/batches/<batch_id>")
@auth_required("operator")
@responds(BatchOut)
def get_batch(batch_id: str):
    """One batch: its payouts and the files for the bank."""
    return batch_out(service.get_batch(batch_id))


@bp.get("/operator/payouts/batches/<batch_id>/files/<name>")
@auth_required("operator")
@responds(media_types=("text/csv", "application/xml"))
def batch_file(batch_id: str, name: str):
    """Download a batch file (transfers.csv, pain.001.xml)."""
    row = service.batch_file(batch_id, name)
    return attachment(row.content, f"{batch_id}-{name}", row.content_type)


@bp.post("/operator/payouts/batches/<batch_id>/executed")
@auth_required("operator")
@json_body(ExecutedIn)
@responds(BatchOut)
def mark_executed(batch_id: str, body: ExecutedIn):
    """The bank executed the batch: its payouts are paid (409 if already marked)."""
    batch = service.mark_batch_executed(batch_id, current_user(),
                                        bank_reference=body.bank_reference)
    return batch_out(batch)
