"""Error codes of accounts: registration, sign-in."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class AccountError(ErrorCodes):
    EMAIL_TAKEN = "account.email_taken", "An account with this email already exists (409)."
    INVALID_CREDENTIALS = ("account.invalid_credentials",
                           "Wrong email or password; which one is not said (401).")
