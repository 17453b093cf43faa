"""Error codes of accounts: registration, sign-in."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class AccountError(ErrorCodes):
    EMAIL_TAKEN = "account.email_taken", "An account with this email already exists (409)."
    INVALID_CREDENTIALS = ("account.invalid_credentials",
                           "Wrong email or password; which one is not said (401).")
    TOKEN_NOT_FOUND = "account.token_not_found", "No such token of yours (404)."
    SESSION_NOT_FOUND = "account.session_not_found", "No such session of yours (404)."
