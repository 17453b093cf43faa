"""Error codes of accounts: registration, sign-in."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class AccountError(ErrorCodes):
    EMAIL_TAKEN = "account.email_taken", "An account with this email already exists (409)."
    INVALID_CREDENTIALS = ("account.invalid_credentials",
                           "Wrong email or password; which one is not said (401).")
    TOKEN_INVALID = ("account.token_invalid",
                     "The mailed link is unknown, used already or expired (422).")
    PASSWORD_WRONG = ("account.password_wrong",
                      "The current password does not match; nothing changed (403).")
    GUEST_ONLY_ACCOUNT = ("account.guest",
                          "A guest checkout has no account to change; sign up first (403).")
    ADDRESS_NOT_FOUND = "account.address_not_found", "No such saved address of yours (404)."
    ADDRESS_LIMIT = "account.address_limit", "At most 20 saved addresses (409)."
    CLAIM_INVALID = ("account.claim_invalid",
                     "The link to claim guest orders is not valid for this account (422).")
    PASSWORD_TOO_SHORT = ("account.password_too_short",
                          "A new password needs 10 to 200 characters (422).")
    TOKEN_NOT_FOUND = "account.token_not_found", "No such token of yours (404)."
    SESSION_NOT_FOUND = "account.session_not_found", "No such session of yours (404)."
    EMAIL_REFUSED = ("account.email_refused",
                     "The address is not usable: malformed, or it mixes scripts (422).")
    PASSWORD_REFUSED = ("account.password_refused",
                        "The password is too short, common, sequential or made of the site's "
                        "name or the address; `reason` says which (422).")
    LOCKED_OUT = ("account.locked_out",
                  "Too many failed attempts for this account or address; `retry_after` says "
                  "when to try again (429).")
    OTP_REQUIRED = ("account.otp_required",
                    "The account has a second factor: send `otp` with the password (401).")
    OTP_INVALID = ("account.otp_invalid",
                   "The one-time or recovery code is wrong or was used already (401).")
    SECOND_FACTOR_REQUIRED = ("account.second_factor_required",
                              "Operators must enrol a second factor before acting (403).")
    SECOND_FACTOR_ALREADY_ON = ("account.second_factor_already_on",
                                "A second factor is already on (409).")
    SECOND_FACTOR_NOT_BEGUN = ("account.second_factor_not_begun",
                               "Begin the enrolment before confirming it (409).")
