"""Payouts on the pages: the artisan's ledger and bank account, the operator's batches."""

from __future__ import annotations

import re

import pytest

from marketplace.catalog.models import ArtisanProfile
from marketplace.extensions import db
from marketplace.payouts import service as payouts
from marketplace.payouts.models import PayoutBatch
from tests.checkout.helpers import fresh
from tests.factories import make_artisan, make_buyer, make_operator
from tests.payouts.helpers import DE_BIC, DE_IBAN, artisan_with_account, deliver, paid_order, piece
from tests.storefront.helpers import HTML, post_form, sign_in


def page(client, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


@pytest.fixture
def delivered(app, monkeypatch):
    """A sale of 60,000.00 KZT by a workshop with a bank account, delivered 20 days ago (the
    hold is 14 days); the commission is 12 %."""
    monkeypatch.setitem(app.config, "PLATFORM_COMMISSION_BPS", 1200)
    monkeypatch.setitem(app.config, "PAYOUT_HOLD_DAYS", 14)
    artisan = artisan_with_account("Kök Keramika")
    order = paid_order((piece(artisan, 6_000_000), 1, 10_800))
    payouts.record_order(order.id)
    deliver(order, days_ago=20)
    return artisan, order


def test_the_artisan_sees_the_balance_then_the_payout_with_its_order_and_commission(
        client, delivered):
    artisan, order = delivered
    sign_in(client, artisan)
    html = page(client, "/workshop/payouts")
    assert "5,280,000.00" not in html  # minor units are never shown raw
    assert html.count("₸52,800.00") == 2  # owed, and due now: the sign the dashboard uses
    # No amount written with the code (the IBAN holds "KZT" too)
    assert re.search(r"(?<![A-Z0-9])KZT\s?\d|\d\s?KZT(?![A-Z0-9])", html) is None

    payouts.run_payouts(actor_id=make_operator().id)
    html = page(client, "/workshop/payouts")
    assert 'data-status="pending"' in html and "sent to the bank" in html
    assert order.id[-8:] in html
    for amount in ("60,000.00", "7,200.00", "52,800.00"):  # sold, commission, net
        assert amount in html, amount


def test_the_artisan_saves_a_bank_account_and_a_wrong_iban_is_refused(client):
    artisan = artisan_with_account("Kök Keramika")
    sign_in(client, artisan)
    response = post_form(client, "/workshop/payouts/account",
                         {"iban": "DE89 3704 0044 0532 0130 01", "bic": DE_BIC})
    assert response.status_code == 422
    assert "its check digits are verified" in response.get_data(as_text=True)
    response = post_form(client, "/workshop/payouts/account",
                         {"iban": "de89 3704 0044 0532 0130 00", "bic": DE_BIC.lower()})
    assert response.status_code == 302
    profile = fresh(ArtisanProfile, artisan.id)
    assert (profile.payout_iban, profile.payout_bic) == (DE_IBAN, DE_BIC)


def test_an_artisan_without_a_workshop_profile_is_sent_to_create_it(client):
    sign_in(client, make_artisan())
    assert "Create your workshop profile first." in page(client, "/workshop/payouts")
    response = post_form(client, "/workshop/payouts/account", {"iban": DE_IBAN, "bic": DE_BIC})
    assert response.headers["Location"] == "/workshop/profile"


def test_the_operator_runs_payouts_downloads_the_bank_file_and_marks_it_executed(
        client, delivered):
    artisan, _ = delivered
    unpaid = make_artisan(name="No Bank")
    order = paid_order((piece(unpaid, 1_000_000), 1, 1_800))
    payouts.record_order(order.id)
    deliver(order, days_ago=20)
    sign_in(client, make_operator())
    response = post_form(client, "/console/payouts/run", {"execution_date": ""})
    batch = db.session.execute(db.select(PayoutBatch)).scalar_one()
    assert response.headers["Location"] == f"/console/payouts/{batch.id}"
    html = page(client, f"/console/payouts/{batch.id}")
    assert "Kök Keramika" in html and "KZ88722KZT2069100100" in html
    assert "the workshop has no bank account for payouts" in html  # the skipped one
    [csv_file] = [f for f in batch.files if f.name.endswith(".csv")]
    download = client.get(f"/console/payouts/{batch.id}/files/{csv_file.name}")
    assert download.status_code == 200 and "attachment" in download.headers[
        "Content-Disposition"]
    assert b"KZ88722KZT2069100100" in download.data

    post_form(client, f"/console/payouts/{batch.id}/executed", {"bank_reference": "HSBK-1"})
    batch = fresh(PayoutBatch, batch.id)
    assert (batch.status, batch.bank_reference) == ("executed", "HSBK-1")
    assert [p.status for p in batch.payouts] == ["paid"]
    response = post_form(client, f"/console/payouts/{batch.id}/executed")
    assert "This batch was marked executed already." in page(client,
                                                            f"/console/payouts/{batch.id}")
    assert response.status_code == 302


def test_a_run_with_nothing_payable_says_so(client):
    sign_in(client, make_operator())
    post_form(client, "/console/payouts/run")
    assert "No artisan has a payable balance now." in page(client, "/console/payouts")
    assert db.session.execute(db.select(PayoutBatch)).first() is None


@pytest.mark.parametrize("role", ["buyer", "artisan"])
def test_payout_batches_are_for_operators_only(client, role):
    sign_in(client, make_buyer() if role == "buyer" else make_artisan())
    assert client.get("/console/payouts", headers=HTML).status_code == 403
    assert post_form(client, "/console/payouts/run").status_code == 403


def test_the_payouts_page_is_for_artisans_only(client):
    sign_in(client, make_buyer())
    assert client.get("/workshop/payouts", headers=HTML).status_code == 403


def test_pending_balances_show_what_is_due_now_and_when_the_rest_falls_due(client, delivered):
    """The artisan and the operator see the sale still in its hold with its date (delivery +
    14 days) and the one not delivered yet, beside what a run would pay now."""
    from datetime import timedelta

    from marketplace.orders.models import Fulfilment

    artisan, _ = delivered
    held = paid_order((piece(artisan, 1_000_000), 1, 1_800))
    payouts.record_order(held.id)
    deliver(held, days_ago=4)
    waiting = paid_order((piece(artisan, 500_000), 1, 900))
    payouts.record_order(waiting.id)
    delivered_at = db.session.execute(db.select(Fulfilment.delivered_at).where(
        Fulfilment.order_id == held.id)).scalar_one()
    due_day = (delivered_at + timedelta(days=14)).date().isoformat()

    sign_in(client, artisan)
    html = page(client, "/workshop/payouts")
    assert "₸52,800.00" in html  # due now
    assert f'<time datetime="{due_day}">₸8,800.00 on ' in html  # 10,000.00 less 12 %
    assert "₸4,400.00 14 days after its parcel is delivered" in html
    post_form(client, "/signout")

    sign_in(client, make_operator())
    html = page(client, "/console/payouts")
    assert "Pending balances" in html and "Kök Keramika" in html
    assert "₸66,000.00" in html  # pending in all
    assert f'<time datetime="{due_day}">' in html
