"""The daily reconciliation lists foreign PaymentIntents too: money a PaymentIntent Sheber did
not create paid into an order (recorded apart) and the refund that gave it back, with Stripe's
side and the ledger's, in the report, its CSV and the console page."""

from __future__ import annotations

import csv
import io

from marketplace.ids import utcnow
from marketplace.orders import reconciliation
from tests.checkout.helpers import buyer_with_cart, do_checkout, foreign_payment_intent
from tests.checkout.test_stripe_lifecycle import deliver  # noqa: F401  (a fixture)
from tests.factories import auth_headers, make_artisan, make_operator, make_product
from tests.storefront.helpers import HTML, sign_in


def test_a_refunded_foreign_payment_intent_is_a_row_of_the_report(client, stripe_webhooks,
                                                                   deliver):  # noqa: F811
    _, headers = buyer_with_cart((make_product(stock=1), 1))
    created = do_checkout(client, headers)
    order_id, ours = created["order"]["id"], created["payment"]["payment_intent_id"]
    total = created["order"]["totals"]["total"]
    foreign = foreign_payment_intent(stripe_webhooks, created)
    assert [r["amount"] for r in stripe_webhooks.refunds(foreign)] == [total["amount"]]

    report = reconciliation.daily_report(utcnow().date())
    [row] = [r for r in report.rows if r.payment_intent_id == foreign]
    assert row.foreign and row.order_id == order_id
    assert row.stripe["captured"] == row.ledger["captured"] == total["amount"]
    assert row.stripe["refunded"] == row.ledger["refunded"] == total["amount"]
    assert row.differences == []
    assert all(not r.foreign for r in report.rows if r.payment_intent_id == ours)

    rows = list(csv.DictReader(io.StringIO(reconciliation.report_csv(report).decode())))
    [line] = [r for r in rows if r["payment_intent_id"] == foreign]
    assert line["foreign"] == "yes" and line["ledger_captured"] == str(total["amount"])
    assert line["ledger_refunded"] == line["stripe_refunded"] == str(total["amount"])

    sign_in(client, make_operator())
    html = client.get(f"/console/reconciliation?day={utcnow().date().isoformat()}",
                      headers=HTML).get_data(as_text=True)
    assert foreign in html and "not ours: refunded" in html


    # the same report through the API (API.md: GET /operator/reconciliation?date=YYYY-MM-DD)
    operator = auth_headers(make_operator())
    day = utcnow().date().isoformat()
    body = client.get(f"/api/v1/operator/reconciliation?date={day}", headers=operator).get_json()
    assert body["date"] == day and body["differing"] == len(report.differing)
    [api_row] = [r for r in body["rows"] if r["payment_intent_id"] == foreign]
    assert api_row["foreign"] is True and api_row["differences"] == []
    assert api_row["stripe"] == api_row["ledger"] == {
        "captured": total["amount"], "refunded": total["amount"], "disputed": 0}
    by_currency = {t["currency"]: t for t in body["totals"]}
    assert by_currency[total["currency"]]["ledger"]["captured"] == sum(
        r["ledger"]["captured"] for r in body["rows"] if r["currency"] == total["currency"])
    as_csv = client.get(f"/api/v1/operator/reconciliation?date={day}&format=csv",
                        headers=operator)
    assert as_csv.mimetype == "text/csv"
    assert foreign in as_csv.get_data(as_text=True)
    assert client.get("/api/v1/operator/reconciliation",
                      headers=auth_headers(make_artisan())).status_code == 403
    assert client.get("/api/v1/operator/reconciliation?date=2026-13-01",
                      headers=operator).status_code == 422
