"""Payout rails: how a batch of payouts reaches the artisans' accounts.

Only the bank-transfer rail exists: it writes the batch as a CSV registry (for banks that take
one, and for people) and an ISO 20022 customer credit transfer initiation, message version
``pain.001.001.03`` (validated in the tests against that version's official XSD), which an
operator uploads to the marketplace's bank before marking the batch executed. A Stripe Connect
rail is not offered: Stripe Connect cannot pay out to sellers based in Kazakhstan, and the local
Stripe emulator has no Connect API to build it against.

Kazakh market practice. Kazakhstan's interbank systems moved to ISO 20022 messages on
13 January 2025 (National Bank of Kazakhstan; amended Rules for non-cash payments, NBK Board
resolution No. 208 of 31 August 2016; banks' notices, e.g. Nurbank "Transition to ISO 20022
Standard", Bank CenterCredit "ISO 20022"). A tenge transfer to a Kazakh account carries, besides
the IBAN and BIC, the beneficiary's **IIN/BIN**, the **КБе** (beneficiary code: residency and
economic sector) and the **КНП** (purpose code), together with the remitter's **КОд** forming
the EKNP (КОд + КБе + КНП; Clearstream, "Kazakhstan: New cash instruction format requirements
for KZT cash payments" and "Other services - Kazakhstan", which also say the purpose text must
match the КНП's description); payment processors' IBAN-payout APIs ask for the same three
(Freedom Pay ``to_iban``: ``pg_recipient_iin``, ``pg_recipient_kbe``, ``pg_knp``). A non-resident
party's country of residence is stated (``CtryOfRes``). Where each goes in this file:

- IIN/BIN: ``Cdtr/Id`` — a BIN (5th digit 4, 5 or 6: a legal entity) as
  ``OrgId/Othr/Id`` with scheme ``BIN``, an IIN as ``PrvtId/Othr/Id`` with scheme ``IIN``; the
  marketplace's own BIN likewise in ``Dbtr/Id`` and ``InitgPty/Id``;
- КНП: ``Purp/Prtry``;
- EKNP (КОд, КБе, КНП): ``RgltryRptg/Dtls`` (``Tp`` ``EKNP``, ``Ctry`` ``KZ``, ``Cd`` the seven
  digits, ``Inf`` each code named);
- purpose text: ``RmtInf/Ustrd``, the КНП's description followed by the payout id;
- the creditor's name is the account holder's legal name, not the workshop's.

What could not be confirmed from a published National Bank message guide: whether its MX
guidelines expect КБе under ``RgltryRptg`` or only inside the ``Ustrd`` EKNP string; the file
states it in both places.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal
from xml.etree import ElementTree as ET

from flask import current_app

from marketplace.catalog.models import ArtisanProfile
from marketplace.errors import ValidationFailed
from marketplace.ids import isoformat
from marketplace.money import Money, exponent
from marketplace.payouts.errors import PayoutError

BANK_TRANSFER = "bank_transfer"
STRIPE_CONNECT = "stripe_connect"
PAIN_001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
CSV_NAME = "transfers.csv"
PAIN_001_NAME = "pain.001.xml"
CSV_COLUMNS = ("batch_id", "payout_id", "artisan_id", "beneficiary_name", "beneficiary_country",
               "iban", "bic", "currency", "amount", "amount_minor", "execution_date",
               "remittance", "iin_bin", "kbe", "knp")
# The purpose text a КНП stands for (the remittance starts with it).
KNP_TEXT = {"710": "Оплата за товары"}


@dataclass(frozen=True)
class Debtor:
    """The marketplace's own account, debited by the bank."""

    name: str
    iban: str
    bic: str
    country: str
    bin: str | None = None
    kod: str = "17"


def debtor() -> Debtor:
    config = current_app.config
    return Debtor(config["PAYOUT_DEBTOR_NAME"], config["PAYOUT_DEBTOR_IBAN"],
                  config["PAYOUT_DEBTOR_BIC"], config["PAYOUT_DEBTOR_COUNTRY"],
                  config.get("PAYOUT_DEBTOR_BIN"), config.get("PAYOUT_DEBTOR_KOD") or "17")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def major(amount: int, currency: str) -> str:
    """``1234567 KZT`` → ``"12345.67"``: the decimal form banks read (no grouping)."""
    return f"{Money(amount, currency).major:.{exponent(currency)}f}"


def remittance(payout) -> str:
    purpose = KNP_TEXT.get(payout.knp or "")
    return f"{purpose}, Sheber payout {payout.id}" if purpose else f"Sheber payout {payout.id}"


def kazakh(payout) -> bool:
    return (payout.iban or "").startswith("KZ")


class BankTransferRail:
    name = BANK_TRANSFER

    def cannot_pay(self, profile: ArtisanProfile | None) -> str | None:
        """Why this artisan cannot be paid by bank transfer now (None: they can)."""
        if profile is None or not profile.payout_iban or not profile.payout_bic:
            return "no payout bank account (IBAN and BIC) on the workshop profile"
        if profile.payout_iban.startswith("KZ") and not (
                profile.payout_holder_name and profile.payout_iin_bin and profile.payout_kbe):
            return ("a Kazakh account needs the holder's legal name, IIN/BIN and КБе on the "
                    "payout account")
        return None

    def files(self, batch, payouts: list, *, debtor: Debtor) -> list[tuple[str, str, bytes]]:
        return [(CSV_NAME, "text/csv; charset=utf-8", transfers_csv(batch, payouts)),
                (PAIN_001_NAME, "application/xml", pain_001(batch, payouts, debtor))]


def get(name: str) -> BankTransferRail:
    if name == BANK_TRANSFER:
        return BankTransferRail()
    if name == STRIPE_CONNECT:
        raise ValidationFailed(
            "Stripe Connect payouts are not available: Stripe Connect cannot pay out to sellers "
            "based in Kazakhstan. Use the bank-transfer rail.",
            errors={"rail": ["stripe_connect is not available; use bank_transfer"]},
            code=PayoutError.RAIL_UNAVAILABLE)
    raise ValidationFailed("Unknown payout rail.", errors={"rail": [f"unknown rail {name!r}"]},
                           code=PayoutError.RAIL_UNKNOWN)


def _spreadsheet_safe(text: str) -> str:
    # A name starting with = + - @ would run as a formula when the CSV is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def transfers_csv(batch, payouts: list) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for payout in payouts:
        writer.writerow([
            batch.id, payout.id, payout.artisan_id, _spreadsheet_safe(payout.beneficiary_name),
            payout.beneficiary_country, payout.iban, payout.bic, payout.currency,
            major(payout.amount, payout.currency), payout.amount, batch.execution_date.isoformat(),
            remittance(payout), payout.beneficiary_iin_bin or "", payout.beneficiary_kbe or "",
            payout.knp or ""])
    return out.getvalue().encode("utf-8")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _agent(parent: ET.Element, tag: str, bic: str) -> None:
    _sub(_sub(_sub(parent, tag), "FinInstnId"), "BIC", bic)


def _party(parent: ET.Element, tag: str, name: str, country: str,
           iin_bin: str | None = None) -> None:
    party = _sub(parent, tag)
    _sub(party, "Nm", name[:140])
    _sub(_sub(party, "PstlAdr"), "Ctry", country)
    if iin_bin:
        _identification(party, iin_bin)
    if country != "KZ" and iin_bin:
        _sub(party, "CtryOfRes", country)


def is_bin(iin_bin: str) -> bool:
    """A BIN's 5th digit is the kind of entity (4, 5, 6); an IIN's is a day of birth's tens."""
    return iin_bin[4] in "456"


def _identification(party: ET.Element, iin_bin: str) -> None:
    kind = "BIN" if is_bin(iin_bin) else "IIN"
    holder = _sub(_sub(party, "Id"), "OrgId" if kind == "BIN" else "PrvtId")
    other = _sub(holder, "Othr")
    _sub(other, "Id", iin_bin)
    _sub(_sub(other, "SchmeNm"), "Prtry", kind)


def _account(parent: ET.Element, tag: str, iban: str, currency: str | None = None) -> None:
    account = _sub(parent, tag)
    _sub(_sub(account, "Id"), "IBAN", iban)
    if currency:
        _sub(account, "Ccy", currency)


def _control_sum(payouts: list) -> str:
    total = sum((Money(p.amount, p.currency).major for p in payouts), Decimal(0))
    return format(total, "f")


def pain_001(batch, payouts: list, debtor: Debtor) -> bytes:
    """One ``PmtInf`` per currency, one ``CdtTrfTxInf`` per payout; ``EndToEndId`` is the payout
    id, so the bank's statement points back at it."""
    document = ET.Element("Document", {"xmlns": PAIN_001_NAMESPACE})
    initiation = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", batch.id)
    _sub(header, "CreDtTm", isoformat(batch.created_at).removesuffix("Z"))
    _sub(header, "NbOfTxs", str(len(payouts)))
    _sub(header, "CtrlSum", _control_sum(payouts))
    initiator = _sub(header, "InitgPty")
    _sub(initiator, "Nm", debtor.name[:140])
    if debtor.bin:
        _identification(initiator, debtor.bin)
    for currency in sorted({p.currency for p in payouts}):
        group = [p for p in payouts if p.currency == currency]
        information = _sub(initiation, "PmtInf")
        _sub(information, "PmtInfId", f"{batch.id}-{currency}")
        _sub(information, "PmtMtd", "TRF")
        _sub(information, "BtchBookg", "false")  # one statement line per artisan
        _sub(information, "NbOfTxs", str(len(group)))
        _sub(information, "CtrlSum", _control_sum(group))
        _sub(_sub(information, "PmtTpInf"), "InstrPrty", "NORM")
        _sub(information, "ReqdExctnDt", batch.execution_date.isoformat())
        _party(information, "Dbtr", debtor.name, debtor.country, debtor.bin)
        _account(information, "DbtrAcct", debtor.iban, currency)
        _agent(information, "DbtrAgt", debtor.bic)
        _sub(information, "ChrgBr", "SHAR")
        for payout in group:
            transfer = _sub(information, "CdtTrfTxInf")
            payment_id = _sub(transfer, "PmtId")
            _sub(payment_id, "InstrId", payout.id)
            _sub(payment_id, "EndToEndId", payout.id)
            _sub(_sub(transfer, "Amt"), "InstdAmt", major(payout.amount, currency), Ccy=currency)
            _agent(transfer, "CdtrAgt", payout.bic)
            _party(transfer, "Cdtr", payout.beneficiary_name, payout.beneficiary_country,
                   payout.beneficiary_iin_bin if kazakh(payout) else None)
            _account(transfer, "CdtrAcct", payout.iban)
            if kazakh(payout) and payout.knp:
                _sub(_sub(transfer, "Purp"), "Prtry", payout.knp)
                if payout.beneficiary_kbe:
                    eknp = f"{debtor.kod}{payout.beneficiary_kbe}{payout.knp}"
                    details = _sub(_sub(transfer, "RgltryRptg"), "Dtls")
                    _sub(details, "Tp", "EKNP")
                    _sub(details, "Ctry", "KZ")
                    _sub(details, "Cd", eknp)
                    _sub(details, "Inf", f"KOD {debtor.kod} KBE {payout.beneficiary_kbe} "
                                         f"KNP {payout.knp}")
            _sub(_sub(transfer, "RmtInf"), "Ustrd", remittance(payout)[:140])
    ET.indent(document)
    return ET.tostring(document, encoding="utf-8", xml_declaration=True)
