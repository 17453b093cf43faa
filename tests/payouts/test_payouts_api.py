"""The payouts API: an artisan's bank account and payouts, the operator's batches, their files
and their execution."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from lxml import etree

from marketplace.payouts import service
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product
from tests.payouts.helpers import artisan_with_account, deliver, paid_order, piece, refund

XSD = Path(__file__).resolve().parents[1] / "data" / "pain.001.001.03.xsd"


@pytest.fixture
def operator():
    return auth_headers(make_operator())


@pytest.fixture
def delivered():
    """An artisan with one delivered order past the hold and one still in transit."""
    artisan = artisan_with_account("Aigerim Ceramics")
    old = paid_order((piece(artisan, 1_500_000), 2, 2_700))
    new = paid_order((piece(artisan, 4_500_000), 1, 8_100))
    for order in (old, new):
        service.record_order(order.id)
    deliver(old, days_ago=15)
    return artisan, old, new


def test_an_artisan_sets_a_checked_bank_account(client):
    artisan = make_artisan()
    headers = auth_headers(artisan)
    assert client.get("/api/v1/artisans/me/payout-account", headers=headers).status_code == 404
    make_product(artisan)  # the workshop profile exists now

    bad = client.put("/api/v1/artisans/me/payout-account", headers=headers,
                     json={"iban": "KZ76125KZT2069100100", "bic": "KCJB"})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"bic"}
    bad = client.put("/api/v1/artisans/me/payout-account", headers=headers,
                     json={"iban": "KZ76125KZT2069100100", "bic": "KCJBKZKX"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"iban"}  # check digits

    # the National Bank's code 125 with a commercial bank's BIC; no holder, IIN/BIN or КБе
    bad = client.put("/api/v1/artisans/me/payout-account", headers=headers,
                     json={"iban": "kz75 125K ZT20 6910 0100", "bic": "KCJBKZKX"})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"bic", "holder_name", "iin_bin", "kbe"}
    assert "NBRKKZKX" in bad.get_json()["errors"]["bic"][0]

    account = {"iban": "kz88 722K ZT20 6910 0100", "bic": "CASPKZKA",
               "holder_name": "IE Aigerim Bekova", "iin_bin": "900101300007", "kbe": "19"}
    for field, wrong in (("iin_bin", "900101300008"), ("iin_bin", "90010130000"),
                         ("iin_bin", "9001013000071"), ("kbe", "30"), ("kbe", "10"),
                         ("kbe", "1"), ("bic", "HSBKKZKX"), ("iban", "KZ88722KZT20691001000")):
        bad = client.put("/api/v1/artisans/me/payout-account", headers=headers,
                         json={**account, field: wrong})
        assert bad.status_code == 422, (field, wrong)
        assert field in bad.get_json()["errors"], (field, wrong)
    good = client.put("/api/v1/artisans/me/payout-account", headers=headers, json=account)
    assert good.status_code == 200, good.get_json()
    assert good.get_json() == {"iban": "KZ88722KZT2069100100", "bic": "CASPKZKA",
                               "holder_name": "IE Aigerim Bekova", "iin_bin": "900101300007",
                               "kbe": "19", "rail": "bank_transfer"}
    assert client.get("/api/v1/artisans/me/payout-account",
                      headers=headers).get_json()["iban"] == "KZ88722KZT2069100100"
    for kbe in ("11", "19", "21", "29"):  # the ends of both digits' ranges
        assert client.put("/api/v1/artisans/me/payout-account", headers=headers,
                          json={**account, "kbe": kbe}).status_code == 200
    buyer = auth_headers(make_buyer())
    assert client.get("/api/v1/artisans/me/payout-account", headers=buyer).status_code == 403


def test_the_operator_runs_downloads_and_executes_a_batch(client, operator, delivered):
    artisan, old, _ = delivered
    response = client.post("/api/v1/operator/payouts/batches", headers=operator, json={})
    assert response.status_code == 201, response.get_json()
    batch = response.get_json()["batch"]
    assert batch["status"] == "ready" and batch["totals"] == [
        {"amount": 2_640_000, "currency": "KZT"}]
    assert [p["artisan_id"] for p in batch["payouts"]] == [artisan.id]
    assert {f["name"] for f in batch["files"]} == {"transfers.csv", "pain.001.xml"}

    xml = client.get(f"/api/v1/operator/payouts/batches/{batch['id']}/files/pain.001.xml",
                     headers=operator)
    assert xml.status_code == 200 and xml.headers["Content-Type"] == "application/xml"
    assert "attachment" in xml.headers["Content-Disposition"]
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(etree.fromstring(xml.data))
    transfers = client.get(f"/api/v1/operator/payouts/batches/{batch['id']}/files/transfers.csv",
                           headers=operator)
    [row] = list(csv.DictReader(io.StringIO(transfers.data.decode())))
    assert (row["amount_minor"], row["currency"], row["iban"]) == (
        "2640000", "KZT", "KZ88722KZT2069100100")

    listed = client.get("/api/v1/operator/payouts/batches", headers=operator).get_json()
    assert [b["id"] for b in listed["items"]] == [batch["id"]]

    executed = client.post(f"/api/v1/operator/payouts/batches/{batch['id']}/executed",
                           headers=operator, json={"bank_reference": "HALYK-2026-11-26-01"})
    assert executed.status_code == 200
    assert executed.get_json()["status"] == "executed"
    assert executed.get_json()["payouts"][0]["status"] == "paid"
    again = client.post(f"/api/v1/operator/payouts/batches/{batch['id']}/executed",
                        headers=operator, json={})
    assert again.status_code == 409

    nothing = client.post("/api/v1/operator/payouts/batches", headers=operator, json={})
    assert nothing.status_code == 409
    assert nothing.headers["Content-Type"] == "application/problem+json"


def test_the_artisan_sees_payouts_with_their_orders_and_commission(client, operator,
                                                                   delivered):
    artisan, old, new = delivered
    headers = auth_headers(artisan)
    before = client.get("/api/v1/artisans/me/payouts", headers=headers).get_json()
    assert before["items"] == [] and before["hold_days"] == 14
    assert before["balances"] == [{"currency": "KZT",
                                   "pending": {"amount": 2_640_000 + 3_960_000,
                                               "currency": "KZT"},
                                   "payable": {"amount": 2_640_000, "currency": "KZT"}}]

    batch = client.post("/api/v1/operator/payouts/batches", headers=operator,
                        json={}).get_json()["batch"]
    refund(new, 8_100, lines=[(new.lines[0], 1)])  # before its payout: a plain refund
    service.record_order(new.id)

    body = client.get("/api/v1/artisans/me/payouts", headers=headers).get_json()
    [payout] = body["items"]
    assert payout["status"] == "pending" and payout["batch_id"] == batch["id"]
    assert payout["amount"] == {"amount": 2_640_000, "currency": "KZT"}
    assert payout["commission"] == {"amount": 360_000, "currency": "KZT"}
    assert payout["orders"] == [{
        "order_id": old.id, "sale": {"amount": 3_000_000, "currency": "KZT"},
        "commission": {"amount": 360_000, "currency": "KZT"},
        "refunded": {"amount": 0, "currency": "KZT"},
        "clawed_back": {"amount": 0, "currency": "KZT"},
        "net": {"amount": 2_640_000, "currency": "KZT"}}]
    assert body["balances"][0]["pending"] == {"amount": 0, "currency": "KZT"}


@pytest.mark.parametrize("role", ["buyer", "artisan"])
def test_only_operators_reach_the_payout_batches(client, role):
    user = make_buyer() if role == "buyer" else make_artisan()
    headers = auth_headers(user)
    assert client.post("/api/v1/operator/payouts/batches", headers=headers,
                       json={}).status_code == 403
    assert client.get("/api/v1/operator/payouts/batches", headers=headers).status_code == 403
    assert client.get("/api/v1/artisans/me/payouts").status_code == 401


def test_unknown_batches_and_files_are_404_and_bad_input_is_refused(client, operator,
                                                                    delivered):
    assert client.get("/api/v1/operator/payouts/batches/nope", headers=operator
                      ).status_code == 404
    batch = client.post("/api/v1/operator/payouts/batches", headers=operator,
                        json={}).get_json()["batch"]
    assert client.get(f"/api/v1/operator/payouts/batches/{batch['id']}/files/secrets.txt",
                      headers=operator).status_code == 404
    connect = client.post("/api/v1/operator/payouts/batches", headers=operator,
                          json={"rail": "stripe_connect"})
    assert connect.status_code == 422 and "rail" in connect.get_json()["errors"]
    assert client.post("/api/v1/operator/payouts/batches", headers=operator,
                       json={"rail": "pigeon"}).status_code == 422
    assert client.post("/api/v1/operator/payouts/batches", headers=operator,
                       data="not json", content_type="application/json").status_code == 400
    assert client.get("/api/v1/operator/payouts/batches?limit=0",
                      headers=operator).status_code == 422


def test_demo_payout_accounts_are_valid_ibans_and_seeding_twice_changes_nothing():
    from marketplace.payouts import seed

    artisan = make_artisan()
    make_product(artisan)
    assert seed.seed_demo() == "1 demo payout account(s), 1 workshop(s)"
    iban = service.payout_account(artisan).payout_iban
    assert service.iban_is_valid(iban) and iban.startswith("KZ") and len(iban) == 20
    assert seed.seed_demo() == "0 demo payout account(s), 1 workshop(s)"
    assert all(service.iban_is_valid(seed.demo_iban(n)) for n in range(1, 200))
