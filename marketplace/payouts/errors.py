"""Error codes of payouts: batches, bank files, artisans' bank accounts."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class PayoutError(ErrorCodes):
    NOTHING_PAYABLE = "payout.nothing_payable", "No artisan has a payable balance now (409)."
    RUN_IN_PROGRESS = ("payout.run_in_progress",
                       "Another payout run is settling the same balances; try again (409).")
    OPERATOR_ONLY = "payout.operator_only", "Only operators execute payout batches (403)."
    BATCH_NOT_FOUND = "payout.batch_not_found", "No such payout batch (404)."
    BATCH_EXECUTED = "payout.batch_executed", "The batch has been marked executed already (409)."
    FILE_NOT_FOUND = "payout.file_not_found", "The batch has no file of that name (404)."
    ARTISAN_ONLY = "payout.artisan_only", "Only artisans have a payout account (403)."
    PROFILE_REQUIRED = ("payout.profile_required",
                        "The artisan has no workshop profile yet; create it first (404).")
    BANK_ACCOUNT_INVALID = ("payout.bank_account_invalid",
                            "The IBAN (format or check digits) or the BIC is not valid (422).")
    RAIL_UNAVAILABLE = ("payout.rail_unavailable",
                        "The payout rail exists but cannot pay our artisans (422).")
    RAIL_UNKNOWN = "payout.rail_unknown", "No payout rail of that name (422)."
