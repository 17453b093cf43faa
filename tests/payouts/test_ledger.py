"""The artisans' ledger: sales and commission when paid, refunds shared to the minor unit,
payable after delivery plus the hold, payout runs that never pay twice, clawbacks after payout."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.orders.models import OrderStatus
from marketplace.payouts import service
from marketplace.payouts.models import LedgerEntry, Payout, PayoutBatch
from tests.payouts.helpers import (
    artisan_with_account,
    balance,
    deliver,
    ledger,
    paid_order,
    piece,
    refund,
)

BOWL_KZT, EARRINGS_KZT = 1_500_000, 4_500_000  # 15,000.00 and 45,000.00 KZT
BOWL_EUR, EARRINGS_EUR = 2_700, 8_100  # at 1 KZT = 0.0018 EUR


@pytest.fixture
def two_artisans():
    aigerim = artisan_with_account("Aigerim Ceramics")
    nurlan = artisan_with_account("Nurlan Silver")
    return aigerim, nurlan


@pytest.fixture
def order(two_artisans):
    """2 bowls by Aigerim, 1 pair of earrings by Nurlan; 15,000 EUR cents with shipping."""
    aigerim, nurlan = two_artisans
    return paid_order((piece(aigerim, BOWL_KZT), 2, BOWL_EUR),
                      (piece(nurlan, EARRINGS_KZT), 1, EARRINGS_EUR))


def kinds(artisan_id: str, order_id: str | None = None) -> Counter:
    return Counter(ledger(artisan_id, order_id))


def test_a_paid_order_records_each_artisans_sale_and_commission_once(two_artisans, order):
    aigerim, nurlan = two_artisans
    service.record_order(order.id)
    service.record_order(order.id)  # a redelivered event

    assert kinds(aigerim.id) == Counter({("sale", 3_000_000): 1, ("commission", -360_000): 1})
    assert kinds(nurlan.id) == Counter({("sale", 4_500_000): 1, ("commission", -540_000): 1})
    entry = db.session.execute(db.select(LedgerEntry).where(
        LedgerEntry.artisan_id == aigerim.id, LedgerEntry.kind == "sale")).scalar_one()
    assert (entry.currency, entry.commission_bps) == ("KZT", None)


def test_commission_is_rounded_half_up_once_per_artisan_and_order(app, monkeypatch):
    monkeypatch.setitem(app.config, "PLATFORM_COMMISSION_BPS", 1250)
    artisan = artisan_with_account()
    # 12.5 % of 10,000.04 KZT is 1,250.005 KZT: alone, each line would round up to 1,250.01;
    # the artisan's sale of both lines is 20,000.08, whose commission is exactly 2,500.01.
    order = paid_order((piece(artisan, 1_000_004), 1, 1_800), (piece(artisan, 1_000_004), 1, 1_800))
    service.record_order(order.id)
    assert kinds(artisan.id) == Counter({("sale", 2_000_008): 1, ("commission", -250_001): 1})

    odd = paid_order((piece(artisan, 1_000_004), 1, 1_800))  # 125,000.5 minor units
    service.record_order(odd.id)
    assert kinds(artisan.id, odd.id)[("commission", -125_001)] == 1
    assert service.commission_on(3, 5000) == 2 and service.commission_on(1, 5000) == 1


def test_an_unpaid_order_records_nothing(two_artisans):
    aigerim, _ = two_artisans
    order = paid_order((piece(aigerim, BOWL_KZT), 1, BOWL_EUR))
    order.paid_at, order.status = None, OrderStatus.PENDING_PAYMENT
    db.session.commit()
    assert service.record_order(order.id) == 0
    assert ledger(aigerim.id) == []


def test_a_line_refund_takes_that_line_at_listing_price_and_gives_its_commission_back(
        two_artisans, order):
    aigerim, nurlan = two_artisans
    bowl_line = order.lines[0]
    refund(order, BOWL_EUR, lines=[(bowl_line, 1)])
    service.record_order(order.id)
    service.record_order(order.id)

    assert kinds(aigerim.id) == Counter({
        ("sale", 3_000_000): 1, ("commission", -360_000): 1,
        ("refund", -1_500_000): 1, ("commission_refund", 180_000): 1})
    assert balance(aigerim.id) == 1_500_000 - 180_000
    assert kinds(nurlan.id) == Counter({("sale", 4_500_000): 1, ("commission", -540_000): 1})


def test_amount_refunds_are_shared_by_what_each_artisan_has_left_and_a_full_one_nets_to_zero(
        two_artisans, order):
    aigerim, nurlan = two_artisans
    refund(order, 3_000)  # a fifth of the 15,000 cents paid
    service.record_order(order.id)
    assert kinds(aigerim.id)[("refund", -600_000)] == 1
    assert kinds(aigerim.id)[("commission_refund", 72_000)] == 1
    assert kinds(nurlan.id)[("refund", -900_000)] == 1
    assert kinds(nurlan.id)[("commission_refund", 108_000)] == 1

    refund(order, 12_000)  # everything left, shipping included
    service.record_order(order.id)
    assert balance(aigerim.id) == 0 and balance(nurlan.id) == 0
    assert kinds(aigerim.id)[("refund", -2_400_000)] == 1


def test_rounding_of_shares_never_loses_or_invents_a_minor_unit(two_artisans):
    aigerim, nurlan = two_artisans
    order = paid_order((piece(aigerim, 1_000_001), 1, 1_801), (piece(nurlan, 333_333), 1, 601),
                       shipping=1_001)
    for amount in (7, 13, 1_000, 1_001, 1_382):  # 3,403 in all: everything paid
        refund(order, amount)
    service.record_order(order.id)
    assert balance(aigerim.id) == 0 and balance(nurlan.id) == 0
    sales = {artisan.id: sum(a for k, a in ledger(artisan.id) if k == "refund")
             for artisan in two_artisans}
    assert sales == {aigerim.id: -1_000_001, nurlan.id: -333_333}


def test_a_refund_of_a_second_capture_is_not_the_artisans_money(two_artisans, order):
    aigerim, _ = two_artisans
    refund(order, 15_000, source="automatic")  # a duplicate payment given back
    service.record_order(order.id)
    assert balance(aigerim.id) == 3_000_000 - 360_000


def payable(artisan_id: str) -> int:
    return sum(b.payable.amount for b in service.balances(artisan_id))


def test_entries_are_payable_only_after_delivery_plus_the_hold(app, two_artisans, order):
    aigerim, nurlan = two_artisans
    service.record_order(order.id)
    assert payable(aigerim.id) == 0  # not delivered

    deliver(order, days_ago=13, artisan_id=aigerim.id)
    assert payable(aigerim.id) == 0  # within the 14-day hold
    [kzt] = service.balances(aigerim.id)
    assert (kzt.currency, kzt.pending.amount) == ("KZT", 2_640_000)

    deliver(order, days_ago=14.01, artisan_id=aigerim.id)
    assert payable(aigerim.id) == 2_640_000
    assert payable(nurlan.id) == 0  # his parcel is not delivered

    order.status = OrderStatus.DISPUTED
    db.session.commit()
    assert payable(aigerim.id) == 0


def test_a_run_pays_each_payable_balance_once(two_artisans, order):
    aigerim, nurlan = two_artisans
    service.record_order(order.id)
    deliver(order, days_ago=20)

    result = service.run_payouts()
    assert result.skipped == []
    paid = {p.artisan_id: (p.amount, p.currency, p.iban) for p in result.batch.payouts}
    assert paid == {aigerim.id: (2_640_000, "KZT", "KZ88722KZT2069100100"),
                    nurlan.id: (3_960_000, "KZT", "KZ88722KZT2069100100")}
    assert balance(aigerim.id) == 0 and balance(nurlan.id) == 0
    assert kinds(aigerim.id)[("payout", -2_640_000)] == 1

    again = service.run_payouts()
    assert again.batch is None and again.skipped == []
    assert db.session.execute(db.select(db.func.count()).select_from(Payout)).scalar() == 2


def test_an_artisan_without_a_bank_account_is_skipped_and_paid_once_they_add_one(two_artisans):
    aigerim, _ = two_artisans
    order = paid_order((piece(aigerim, BOWL_KZT), 1, BOWL_EUR))
    service.record_order(order.id)
    deliver(order, days_ago=15)
    profile = service.payout_account(aigerim)
    profile.payout_iban = None
    db.session.commit()

    result = service.run_payouts()
    assert result.batch is None
    assert result.skipped == [{"artisan_id": aigerim.id,
                               "amount": {"amount": 1_320_000, "currency": "KZT"},
                               "reason": "no payout bank account (IBAN and BIC) on the "
                                         "workshop profile"}]
    service.set_payout_account(aigerim, iban="kz88 722K ZT20 6910 0100", bic="caspkzka",
                               holder_name="IE Aigerim", iin_bin="900101300007", kbe="19")
    [payout] = service.run_payouts().batch.payouts
    assert (payout.amount, payout.iban) == (1_320_000, "KZ88722KZT2069100100")


def test_a_refund_after_payout_is_a_clawback_netted_against_the_next_payout(two_artisans):
    aigerim, _ = two_artisans
    first = paid_order((piece(aigerim, BOWL_KZT), 2, BOWL_EUR))
    service.record_order(first.id)
    deliver(first, days_ago=15)
    [paid] = service.run_payouts().batch.payouts
    assert paid.amount == 2_640_000

    refund(first, BOWL_EUR, lines=[(first.lines[0], 1)])  # one bowl came back broken
    service.record_order(first.id)
    assert kinds(aigerim.id, first.id)[("clawback", -1_500_000)] == 1
    assert kinds(aigerim.id, first.id)[("commission_refund", 180_000)] == 1
    assert balance(aigerim.id) == -1_320_000

    nothing = service.run_payouts()  # never a negative payout
    assert nothing.batch is None
    assert nothing.skipped[0]["amount"] == {"amount": -1_320_000, "currency": "KZT"}

    second = paid_order((piece(aigerim, BOWL_KZT), 2, BOWL_EUR))
    service.record_order(second.id)
    assert payable(aigerim.id) == -1_320_000  # the new sale waits for its delivery
    deliver(second, days_ago=15)
    [netted] = service.run_payouts().batch.payouts
    assert netted.amount == 2_640_000 - 1_320_000
    assert balance(aigerim.id) == 0
    shares = {share.order_id: share for share in service.order_shares(netted.entries)}
    assert shares[first.id].clawed_back == 1_500_000 and shares[first.id].commission == -180_000
    assert shares[second.id].net == 2_640_000


def test_two_runs_at_once_pay_each_balance_once(app, two_artisans, order):
    service.record_order(order.id)
    deliver(order, days_ago=20)

    def run() -> str | None:
        with app.app_context():
            try:
                result = service.run_payouts()
            except Conflict:
                return "conflict"
            finally:
                db.session.remove()
            return result.batch and result.batch.id

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: run(), range(2)))
    db.session.expire_all()
    batches = db.session.execute(db.select(PayoutBatch.id)).scalars().all()
    assert len(batches) == 1 and batches[0] in outcomes
    assert db.session.execute(db.select(db.func.count()).select_from(Payout)).scalar() == 2
    assert all(balance(artisan.id) == 0 for artisan in two_artisans)
