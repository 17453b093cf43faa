"""Error codes of exchange rates and operator overrides."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class FxError(ErrorCodes):
    RATE_MISSING = "fx.rate_missing", "No exchange rate is known for the currency (422)."
    RATE_INVALID = ("fx.rate_invalid",
                    "A rate must be a positive decimal string such as \"515.25\" (422).")
    CURRENCY_UNSUPPORTED = ("fx.currency_unsupported",
                            "Not a currency we list, present or settle in (422).")
    QUOTE_CURRENCY = ("fx.quote_currency",
                      "Rates are per US dollar: USD itself cannot be overridden (422).")
    NOT_IN_SOURCE = ("fx.not_in_source",
                     "The rate source has no rate for the currency; refresh the rates (404).")
    RATE_NOT_PUBLISHED = ("fx.rate_not_published",
                          "No exchange rate is recorded for the day a tax return's rule names "
                          "(nor on the day the rule falls back to) yet: the period has not "
                          "ended, or `fx refresh` did not run that day (409).")
