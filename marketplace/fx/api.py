from __future__ import annotations

from decimal import Decimal

from flask import Blueprint

from marketplace.fx import service
from marketplace.fx.schemas import CurrenciesOut, CurrencyOut, OverrideIn, RateOut
from marketplace.http import auth_required, current_user, json_body, responds
from marketplace.ids import isoformat
from marketplace.money import LISTING_CURRENCIES, PRESENTMENT_CURRENCIES, exponent
from marketplace.schemas import build

bp = Blueprint("fx", __name__, url_prefix="/api/v1")
shown = service.format_rate


def rate_out(rate: service.CurrencyRate) -> dict:
    return build(
        RateOut, currency=rate.currency, per_usd=shown(rate.effective),
        source_rate=shown(rate.rate),
        override=shown(rate.override) if rate.override is not None else None,
        source=rate.source, as_of=isoformat(rate.as_of),
    )


@bp.get("/currencies")
@responds(CurrenciesOut)
def currencies():
    """Supported presentment currencies with their current rates against USD and KZT."""
    table = service.current_rates()
    items = []
    for code in PRESENTMENT_CURRENCIES:
        rate = table.rates.get(code)
        if rate is None:
            continue
        per_kzt = table.rate(service.BASE_CURRENCY, code)
        items.append(CurrencyOut(
            code=code, exponent=exponent(code), per_usd=shown(rate.effective),
            per_kzt=shown(per_kzt), kzt_per_unit=shown(Decimal(1) / per_kzt),
            overridden=rate.override is not None, source=rate.source,
            as_of=isoformat(rate.as_of),
        ))
    return build(CurrenciesOut, items=items, base=service.QUOTE_CURRENCY,
                 listing_currencies=list(LISTING_CURRENCIES))


@bp.put("/operator/fx/<currency>")
@auth_required("operator")
@json_body(OverrideIn)
@responds(RateOut)
def set_override(currency: str, body: OverrideIn):
    """Pin a currency's rate (units per US dollar) until the override is cleared."""
    rate = service.set_override(currency, body.decimal, operator_id=current_user().id)
    return rate_out(rate)


@bp.delete("/operator/fx/<currency>")
@auth_required("operator")
@responds(None, 204)
def clear_override(currency: str):
    """Clear an operator override: the source's rate applies again."""
    service.clear_override(currency)
    return "", 204
