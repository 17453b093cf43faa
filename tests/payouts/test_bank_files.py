"""The bank-transfer rail's files: an ISO 20022 pain.001.001.03 that validates against the
published schema, and a CSV whose sums match the ledger to the minor unit."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from marketplace.extensions import db
from marketplace.payouts import rails, service
from marketplace.payouts.models import LedgerEntry
from tests.payouts.helpers import (
    DE_BIC,
    DE_IBAN,
    artisan_with_account,
    deliver,
    paid_order,
    piece,
    refund,
)

XSD = Path(__file__).resolve().parents[1] / "data" / "pain.001.001.03.xsd"
NS = {"p": rails.PAIN_001_NAMESPACE}


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture
def batch():
    """Three artisans (one paid in USD to a German account, one with a Cyrillic name and an
    earlier clawback), all delivered three weeks ago."""
    aigerim = artisan_with_account("Aigerim Ceramics")
    nurlan = artisan_with_account("Нұрлан Күміс шеберханасы")
    hans = artisan_with_account("=Hans Wood", iban=DE_IBAN, bic=DE_BIC)
    first = paid_order((piece(nurlan, 2_000_000), 1, 3_600), shipping=0)
    service.record_order(first.id)
    deliver(first, days_ago=30)
    service.run_payouts()
    refund(first, 1_800)  # half of it back after the payout: a clawback
    service.record_order(first.id)

    orders = [
        paid_order((piece(aigerim, 1_234_567), 3, 2_222), (piece(nurlan, 4_500_000), 1, 8_100)),
        paid_order((piece(hans, 12_345, "USD"), 2, 11_111)),
        paid_order((piece(aigerim, 99_999), 1, 180)),
    ]
    for order in orders:
        service.record_order(order.id)
        deliver(order, days_ago=21)
    return service.run_payouts(execution_date=date(2026, 12, 1)).batch


def file_of(batch, name: str) -> bytes:
    return service.batch_file(batch.id, name).content


def test_the_pain_001_file_validates_against_the_iso_20022_schema(schema, batch):
    document = etree.fromstring(file_of(batch, rails.PAIN_001_NAME))
    schema.assertValid(document)

    header = document.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header.findtext("p:MsgId", namespaces=NS) == batch.id
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "3"
    payments = document.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert [p.findtext("p:DbtrAcct/p:Ccy", namespaces=NS) for p in payments] == ["KZT", "USD"]
    assert all(p.findtext("p:ReqdExctnDt", namespaces=NS) == "2026-12-01" for p in payments)
    transfers = document.findall(".//p:CdtTrfTxInf", NS)
    by_id = {t.findtext("p:PmtId/p:EndToEndId", namespaces=NS): t for t in transfers}
    assert set(by_id) == {p.id for p in batch.payouts}
    names = {t.findtext("p:Cdtr/p:Nm", namespaces=NS) for t in transfers}
    assert "IE Нұрлан Күміс шеберханасы" in names  # the holder's legal name, not the workshop
    kazakh = [t for t in transfers
              if t.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS).startswith("KZ")]
    assert len(kazakh) == 2
    for transfer in kazakh:  # IIN/BIN, КБе and КНП where a Kazakh bank reads them
        other = transfer.find("p:Cdtr/p:Id/p:PrvtId/p:Othr", NS)
        assert other.findtext("p:Id", namespaces=NS) == "900101300007"
        assert other.findtext("p:SchmeNm/p:Prtry", namespaces=NS) == "IIN"
        assert transfer.findtext("p:Purp/p:Prtry", namespaces=NS) == "710"
        details = transfer.find("p:RgltryRptg/p:Dtls", NS)
        assert details.findtext("p:Tp", namespaces=NS) == "EKNP"
        assert details.findtext("p:Cd", namespaces=NS) == "1719710"  # КОд 17, КБе 19, КНП 710
        assert transfer.findtext("p:RmtInf/p:Ustrd", namespaces=NS).startswith(
            "Оплата за товары, Sheber payout ")
    german = [t for t in transfers if t not in kazakh][0]
    assert german.find("p:Cdtr/p:Id", NS) is None and german.find("p:Purp", NS) is None
    control = sum(Decimal(t.findtext("p:Amt/p:InstdAmt", namespaces=NS)) for t in transfers)
    assert Decimal(header.findtext("p:CtrlSum", namespaces=NS)) == control


def test_the_csv_and_the_xml_carry_exactly_the_ledger_amounts(batch):
    rows = list(csv.DictReader(io.StringIO(file_of(batch, rails.CSV_NAME).decode("utf-8"))))
    assert len(rows) == len(batch.payouts) == 3
    document = etree.fromstring(file_of(batch, rails.PAIN_001_NAME))
    xml_amounts = {t.findtext("p:PmtId/p:EndToEndId", namespaces=NS):
                   (t.find("p:Amt/p:InstdAmt", NS).get("Ccy"),
                    t.findtext("p:Amt/p:InstdAmt", namespaces=NS))
                   for t in document.findall(".//p:CdtTrfTxInf", NS)}
    for row in rows:
        settled = db.session.execute(db.select(LedgerEntry).where(
            LedgerEntry.payout_id == row["payout_id"], LedgerEntry.kind != "payout")).scalars()
        assert int(row["amount_minor"]) == sum(entry.amount for entry in settled)
        assert xml_amounts[row["payout_id"]] == (row["currency"], row["amount"])
        exponent = 2
        assert Decimal(row["amount"]) * 10**exponent == int(row["amount_minor"])

    by_name = {row["beneficiary_name"]: row for row in rows}
    # 3 x 12,345.67 + 45,000.00 KZT sold; 12 % kept; one clawback of half of 20,000 KZT net
    assert by_name["IE Aigerim Ceramics"]["amount_minor"] == str(3_703_701 + 99_999
                                                             - 444_444 - 12_000)
    assert (by_name["IE Aigerim Ceramics"]["iin_bin"], by_name["IE Aigerim Ceramics"]["kbe"],
            by_name["IE Aigerim Ceramics"]["knp"]) == ("900101300007", "19", "710")
    assert by_name["IE Нұрлан Күміс шеберханасы"]["amount_minor"] == str(
        4_500_000 - 540_000 - (1_000_000 - 120_000))
    # a name that a spreadsheet would run as a formula is defused
    assert by_name["'=Hans Wood"]["currency"] == "USD"
    assert by_name["'=Hans Wood"]["amount"] == "217.27"  # 2 x 123.45 less 12 % (29.63)


def test_amounts_are_written_with_each_currencys_own_decimals():
    assert rails.major(1_234_567, "KZT") == "12345.67"
    assert rails.major(5, "USD") == "0.05"
    assert rails.major(1_234, "JPY") == "1234"
    assert rails.major(1_234, "KWD") == "1.234"


def test_stripe_connect_is_refused_rather_than_faked():
    with pytest.raises(Exception) as refused:
        rails.get(rails.STRIPE_CONNECT)
    assert refused.value.status == 422
    assert "Kazakhstan" in refused.value.detail
