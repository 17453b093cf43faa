"""Invoices and credit notes: tax documents, numbered without gaps and frozen when issued.

The one owner of these rules; what a document carries and how it is numbered is the table
``data/tax/invoices.json`` (each row with its source, legal reference, dates, ``confirmed``).

What an invoice must say. The EU's common list is Council Directive 2006/112/EC (the VAT
Directive), art. 226 (read in the consolidated text published on legislation.gov.uk, "Section 4
Content of invoices"): (1) date of issue; (2) a sequential number, based on one or more series,
which uniquely identifies the invoice; (3) the supplier's VAT identification number; (4) the
customer's, where the customer is liable for the VAT; (5) full name and address of the supplier
and of the customer; (6) quantity and nature of the goods; (7) the date of the supply (or of the
payment) where it differs from the date of issue; (8) the taxable amount per rate or exemption,
the unit price exclusive of VAT and discounts; (9) the VAT rate applied; (10) the VAT amount
payable. Not read here, taken from secondary summaries and marked ``confirmed: false``: art. 230
(amounts in any currency, the VAT payable also in the Member State's currency), art. 219 (a
document amending an invoice and referring to it unambiguously is treated as an invoice: our
credit note), art. 14a(1) (an electronic interface facilitating distance sales of imported goods
up to EUR 150 is deemed to have received and supplied them, so under IOSS the marketplace is the
supplier for VAT and prints its IOSS number; the artisan remains the seller of the goods and is
named with their legal name and IIN/BIN).

Kazakhstan: invoices are governed by the Tax Code of 2026, art. 207(2), with the rules and form
of Ministry of Finance order No. 629 of 28 October 2025 (in force 2026-01-01); VAT payers issue
them electronically in the state's information system (IS ESF), which assigns its own
registration number. The fields of that form (supplier and buyer names and IIN/BIN, dates, the
goods, amounts with and without VAT) are carried here, but the form's exact field list was not
confirmed from the order's text, and this PDF is not an IS ESF electronic invoice: rows that
rest on it are marked ``confirmed: false`` in the table.

Numbering: a series per calendar year (the UTC year of the issue date), one for invoices and one
for credit notes. A number is taken by incrementing the series' ``document_counter`` row inside
the transaction that records the document, so the row lock orders concurrent issuers and a
rollback gives the number back; nothing else ever writes the counter.

Freezing: ``TaxDocument.data`` holds the document as issued, every figure and name as printed;
the PDF (``orders.invoice_pdf``) is rendered from it alone.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, select, update

from marketplace import mail
from marketplace.accounts.models import User
from marketplace.catalog.browse import resolve_text
from marketplace.catalog.models import ArtisanProfile
from marketplace.errors import NotFound
from marketplace.extensions import conflict_insert, db
from marketplace.ids import isoformat, utcnow
from marketplace.money import round_half_up
from marketplace.orders import alerts, notify
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    DocumentCounter,
    DocumentKind,
    Order,
    Refund,
    TaxDocument,
)
from marketplace.transaction import lock_rows, use_case

RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "tax" / "invoices.json"
DEFAULT_CITY = "Almaty"  # where the marketplace is, when EXPORTER_CITY is unset


class DocumentIncomplete(RuntimeError):
    """A document lacks a field the rules table requires: a bug, never issued."""


def issue_or_alert(issue, order: Order, *args) -> TaxDocument | None:
    """``issue(order, *args)`` in a savepoint, for the moves that record money (the payment,
    a booked refund): the money is recorded whatever its paper lacks. A document that cannot be
    issued gives its number back (the savepoint's rollback), is left unissued and alerts the
    operators; its next download tries again."""
    try:
        with db.session.begin_nested():
            return issue(order, *args)
    except DocumentIncomplete as error:
        alerts.raise_alert(alerts.DOCUMENT_INCOMPLETE, f"{issue.__name__}:{order.id}",
                           str(error), order_id=order.id)
        return None


@functools.cache
def rules() -> dict:
    return json.loads(RULES_FILE.read_text(encoding="utf-8"))


def regime_rule(regime: str | None) -> dict:
    return rules()["regimes"].get(regime or "", {})


# --- numbering ---------------------------------------------------------------------------------

_BUMP = (update(DocumentCounter).where(DocumentCounter.series == bindparam("of_series"))
         .values(last_number=DocumentCounter.last_number + 1)
         .returning(DocumentCounter.last_number)
         .execution_options(synchronize_session=False))  # built once: every paid order


def take_number(series: str) -> int:
    """The next number of ``series``: the counter row incremented (and so locked until the
    caller's transaction ends). Call inside the use case that records the document."""
    number = db.session.execute(_BUMP, {"of_series": series}).scalar_one_or_none()
    if number is not None:
        return number
    insert = conflict_insert(db.session.get_bind().dialect.name)
    if insert is not None:
        db.session.execute(insert(DocumentCounter).values(series=series, last_number=0)
                           .on_conflict_do_nothing(index_elements=["series"]))
    else:  # another database: a plain insert (a race is then an IntegrityError, retried)
        db.session.add(DocumentCounter(series=series, last_number=0))
        db.session.flush()
    return db.session.execute(_BUMP, {"of_series": series}).scalar_one()


def _numbered(kind: DocumentKind, on: datetime) -> tuple[str, int, str]:
    rule = rules()["numbering"][kind.value]
    series = rule["series"].format(year=on.year)
    sequence = take_number(series)
    return series, sequence, rule["format"].format(year=on.year, sequence=sequence)


# --- what the documents say --------------------------------------------------------------------

def significant(value: Decimal, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, half up, in plain notation."""
    if value == 0:
        return "0"
    quantum = Decimal(1).scaleb(value.adjusted() - digits + 1)
    return format(value.quantize(quantum, rounding=ROUND_HALF_UP), "f")


def _marketplace() -> dict:
    config = current_app.config
    lines = [line for line in (
        config.get("EXPORTER_STREET"),
        " ".join(part for part in (config.get("EXPORTER_POSTCODE"),
                                   config.get("EXPORTER_CITY") or DEFAULT_CITY) if part),
    ) if line]
    return {"name": config.get("EXPORTER_NAME") or "Sheber Marketplace LLP",
            "address": lines, "country": config.get("EXPORTER_COUNTRY") or "KZ",
            "bin": config.get("EXPORTER_BIN"), "eori": config.get("EORI_NUMBER"),
            "email": config.get("EXPORTER_EMAIL")}


Parties = tuple[dict[str, User], dict[str, ArtisanProfile]]


def parties(order: Order) -> Parties:
    """The order's buyer and artisans (users by id) and the artisans' profiles, two reads for
    all of them; while the caller holds them, ``session.get`` finds them without a query."""
    artisan_ids = list(dict.fromkeys(line.artisan_id for line in order.lines))
    users = {user.id: user for user in db.session.execute(
        select(User).where(User.id.in_([*artisan_ids, order.buyer_id]))).scalars()}
    profiles = {profile.user_id: profile for profile in db.session.execute(
        select(ArtisanProfile).where(ArtisanProfile.user_id.in_(artisan_ids))).scalars()}
    return users, profiles


def _sellers(order: Order, users: dict[str, User],
             profiles: dict[str, ArtisanProfile]) -> list[dict]:
    sellers = []
    for artisan_id in dict.fromkeys(line.artisan_id for line in order.lines):
        profile = profiles.get(artisan_id)
        user = users.get(artisan_id)
        workshop = profile.workshop_name if profile else (user.name if user else "")
        sellers.append({
            "artisan_id": artisan_id,
            "legal_name": (profile.payout_holder_name if profile else None) or workshop,
            "workshop_name": workshop,
            "iin_bin": profile.payout_iin_bin if profile else None,
            "city": profile.city if profile else DEFAULT_CITY,
            "country": profile.country if profile else "KZ",
        })
    return sellers


def document_locale(order: Order) -> str:
    """The buyer's language: the one the order was bought in, else the account's."""
    buyer = db.session.get(User, order.buyer_id)
    return mail.mail_language(order.locale or (buyer.locale if buyer else None))


def _buyer(order: Order) -> dict:
    reader = notify.buyer_of(order)
    address = dict(order.shipping_address or {})
    name = reader.name or address.get("name") or ""
    recipient = address.get("name") if address.get("name") != name else None
    return {"name": name, "email": reader.email or "",
            "address": [line for line in (
                recipient, address.get("line1"), address.get("line2"),
                " ".join(p for p in (address.get("postal_code"), address.get("city")) if p),
                address.get("region")) if line],
            "country": address.get("country") or ""}


def _tax_rows(breakdown: dict, currency: str) -> list[dict]:
    """VAT/GST the marketplace collected at sale, per rate: the taxable amount and tax in the
    destination's currency (as the quote computed them) and the tax in the invoice's."""
    by_rate: dict[str, dict] = {}
    for line in breakdown.get("lines") or []:
        vat_local = line.get("vat_local") or {}
        taxable = line.get("taxable_local") or line.get("value") or {}
        row = by_rate.setdefault(line["vat_rate"], {
            "rate": line["vat_rate"], "local_currency": vat_local.get("currency"),
            "taxable_local": 0, "tax_local": 0, "tax": 0, "currency": currency})
        row["taxable_local"] += int(taxable.get("amount") or 0)
        row["tax_local"] += int(vat_local.get("amount") or 0)
        row["tax"] += int((line.get("vat") or {}).get("amount") or 0)
    return [row for _, row in sorted(by_rate.items(), key=lambda item: Decimal(item[0]))
            if row["tax"] or row["tax_local"]]


def _duty(breakdown: dict) -> int:
    return sum(int((line.get("duty") or {}).get("amount") or 0)
               for line in breakdown.get("lines") or [])


def invoice_data(order: Order, *, number: str, issued_at: datetime,
                 parties_read: Parties | None = None) -> dict:
    """``parties_read``: ``parties(order)``, when the caller has read them."""
    # held until the end: the buyer's reads below find it
    users, profiles = parties_read or parties(order)
    locale = document_locale(order)
    option = order.shipping_option or {}
    breakdown = option.get("duty_breakdown") or {}
    regime = breakdown.get("regime") or "customs"
    rule = regime_rule(regime)
    at_sale = breakdown.get("collector") == "marketplace" and order.duties_mode == "DDP"
    registration = None
    if at_sale and rule.get("registration_label"):
        registration = {
            "scheme": regime, "label": rule["registration_label"],
            "number": breakdown.get("scheme_number") or current_app.config.get(rule["setting"]),
            "legal_reference": rule["legal_reference"]}
    rates_by_product = {hs.get("product_id"): (hs.get("hs_code"), bd.get("vat_rate"))
                        for hs, bd in zip(option.get("hs_lines") or [],
                                          breakdown.get("lines") or [], strict=False)}
    sellers = _sellers(order, users, profiles)
    seller_index = {seller["artisan_id"]: index for index, seller in enumerate(sellers)}
    lines = []
    for line in order.lines:
        hs_code, vat_rate = rates_by_product.get(line.product_id, (None, None))
        lines.append({
            "line_id": line.id, "title": resolve_text(line.title, locale)[0],
            "quantity": line.quantity,
            "unit": line.unit_presentment_amount,
            "amount": line.unit_presentment_amount * line.quantity,
            "listing_unit": line.unit_price_amount, "listing_currency": line.unit_price_currency,
            "seller": seller_index[line.artisan_id], "hs_code": hs_code,
            "vat_rate": vat_rate if at_sale else None})
    taxes = _tax_rows(breakdown, order.currency) if at_sale else []
    fx = None
    if order.listing_currency != order.currency:
        rate = Decimal(order.fx_rate)
        fx = {"from": order.listing_currency, "to": order.currency,
              "rate": significant(rate), "inverse": significant(1 / rate),
              "date": order.created_at.date().isoformat()}
    return {
        "kind": DocumentKind.INVOICE.value, "number": number, "issued_at": isoformat(issued_at),
        "supply_date": (order.paid_at or issued_at).date().isoformat(), "locale": locale,
        "order_id": order.id, "currency": order.currency, "issuer": _marketplace(),
        "sellers": sellers, "buyer": _buyer(order),
        "regime": regime, "regime_reference": rule.get("legal_reference"),
        "deemed_supplier": bool(at_sale and rule.get("deemed_supplier")),
        "supplier": {"registration": registration},
        "duties_mode": order.duties_mode, "tax_collected_at_sale": at_sale,
        "destination_currency": breakdown.get("currency"),
        "lines": lines, "taxes": taxes,
        "totals": {"items": order.items_amount, "shipping": order.shipping_amount,
                   "duties": order.duties_amount,
                   "duty": _duty(breakdown) if at_sale else 0,
                   "tax": sum(row["tax"] for row in taxes), "total": order.total_amount},
        "shipping_service": option.get("service_name") or option.get("service") or "",
        "fx": fx, "payment_reference": order.payment_intent_id,
    }


def credit_note_data(order: Order, refund: Refund, invoice: TaxDocument, *, number: str,
                     issued_at: datetime) -> dict:
    """The credit note of one refund: the invoice's parties as issued, the refunded lines (and
    the rest of the amount as an adjustment), the tax taken back in proportion to the amount
    (as the tax returns count it, ``shipping.returns``)."""
    issued = invoice.data
    by_line = {line["line_id"]: line for line in issued["lines"]}
    lines, refunded_lines = [], 0
    for item in refund.lines or []:
        line = by_line.get(item.get("line_id"))
        quantity = int(item.get("quantity") or 0)
        if line is None or quantity <= 0:
            continue
        amount = line["unit"] * quantity
        refunded_lines += amount
        lines.append({**line, "quantity": quantity, "amount": amount})
    adjustment = refund.amount - refunded_lines
    total = max(order.total_amount, 1)
    share = Decimal(refund.amount) / Decimal(total)
    taxes = [{**row, "taxable_local": round_half_up(row["taxable_local"] * share),
              "tax_local": round_half_up(row["tax_local"] * share),
              "tax": round_half_up(row["tax"] * share)} for row in issued["taxes"]]
    return {
        **{key: issued[key] for key in (
            "locale", "order_id", "currency", "issuer", "sellers", "buyer", "regime",
            "regime_reference", "deemed_supplier", "supplier", "duties_mode",
            "tax_collected_at_sale", "destination_currency", "fx")},
        "kind": DocumentKind.CREDIT_NOTE.value, "number": number,
        "issued_at": isoformat(issued_at), "supply_date": issued_at.date().isoformat(),
        "invoice": {"number": invoice.number, "issued_at": issued["issued_at"],
                    "id": invoice.id},
        "refund_id": refund.id, "reason": refund.reason,
        "lines": lines, "adjustment": adjustment, "taxes": taxes,
        "totals": {"tax": sum(row["tax"] for row in taxes), "total": refund.amount},
        "payment_reference": refund.stripe_refund_id,
    }


def _value(data: dict, path: str):
    value = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def missing_fields(data: dict) -> list[str]:
    """The table's fields this document leaves empty, where they apply to it."""
    skip = set(_NOT_APPLICABLE[data["kind"]])
    if not data.get("tax_collected_at_sale"):
        skip.add("taxes")  # no VAT/GST charged by us: the regime's note says who collects
    if data.get("fx") is None:
        skip.add("fx")  # listed and charged in one currency
    if not data.get("deemed_supplier"):
        skip.add("supplier.registration")  # the sellers supply; no scheme number applies
    return [row["field"] for row in rules()["fields"]
            if row["field"] not in skip and _value(data, row["field"]) in (None, "", [])]


# fields a kind of document does not carry as a key of its own (``tax_currency`` is a column of
# every tax row; a credit note of an amount alone has no lines)
_NOT_APPLICABLE = {
    "invoice": ("invoice_reference", "tax_currency"),
    "credit_note": ("lines", "tax_currency", "invoice_reference"),
}


def _check(data: dict) -> dict:
    required = {row["field"] for row in rules()["fields"] if row["required"]}
    missing = missing_fields(data)
    if data["kind"] == DocumentKind.CREDIT_NOTE.value and not data.get("invoice"):
        missing.append("invoice_reference")
    absent = sorted(required & set(missing))
    if absent:
        raise DocumentIncomplete(f"{data['kind']} {data['number']} lacks {', '.join(absent)}")
    missing += [f"sellers.{i}.iin_bin" for i, s in enumerate(data["sellers"]) if not s["iin_bin"]]
    if data.get("deemed_supplier") and not (data["supplier"]["registration"] or {}).get("number"):
        missing.append("supplier.registration.number")
    data["missing"] = sorted(set(missing))
    return data


# --- issuing -----------------------------------------------------------------------------------

_BY_SOURCE = select(TaxDocument).where(TaxDocument.source_key == bindparam("source_key"))


def _existing(source_key: str) -> TaxDocument | None:
    return db.session.execute(_BY_SOURCE, {"source_key": source_key}).scalar_one_or_none()


def issue_invoice(order: Order, parties_read: Parties | None = None) -> TaxDocument:
    """The order's invoice, issued now if it has none. Call under ``lifecycle.lock_order`` in
    the transaction that records the payment: its number is taken there. ``parties_read``:
    ``parties(order)``, when the caller has read them."""
    key = f"invoice:{order.id}"
    document = _existing(key)
    if document is not None:
        return document
    issued_at = utcnow()
    series, sequence, number = _numbered(DocumentKind.INVOICE, issued_at)
    data = _check(invoice_data(order, number=number, issued_at=issued_at,
                               parties_read=parties_read))
    document = TaxDocument(kind=DocumentKind.INVOICE, series=series, sequence=sequence,
                           number=number, source_key=key, order_id=order.id,
                           locale=data["locale"], currency=order.currency,
                           total_amount=order.total_amount, issued_at=issued_at, data=data)
    db.session.add(document)
    db.session.flush()
    return document


def issue_credit_note(order: Order, refund: Refund) -> TaxDocument | None:
    """The credit note of a booked refund (once), referring to the order's invoice (issued
    first if the order was paid before invoices were). None for an order that was never paid
    (a payment that came after the hold lapsed and was refunded at once: no sale, no invoice).
    Call under ``lock_order``."""
    key = f"credit_note:{refund.id}"
    document = _existing(key)
    if document is not None:
        return document
    if order.paid_at is None and _existing(f"invoice:{order.id}") is None:
        return None
    invoice = issue_invoice(order)
    issued_at = utcnow()
    series, sequence, number = _numbered(DocumentKind.CREDIT_NOTE, issued_at)
    data = _check(credit_note_data(order, refund, invoice, number=number, issued_at=issued_at))
    document = TaxDocument(kind=DocumentKind.CREDIT_NOTE, series=series, sequence=sequence,
                           number=number, source_key=key, order_id=order.id,
                           refund_id=refund.id, invoice_id=invoice.id, locale=data["locale"],
                           currency=order.currency, total_amount=refund.amount,
                           issued_at=issued_at, data=data)
    db.session.add(document)
    db.session.flush()
    return document


# --- reading -----------------------------------------------------------------------------------

def documents_of(order_id: str) -> list[TaxDocument]:
    return list(db.session.execute(select(TaxDocument).where(
        TaxDocument.order_id == order_id).order_by(TaxDocument.issued_at,
                                                   TaxDocument.number)).scalars())


def readable_order(order_id: str, user, access: str | None) -> Order:
    """The order if this caller may read its papers: its buyer, an operator, or a guest with
    the order's signed access token; anyone else sees nothing (404)."""
    order = db.session.get(Order, order_id)
    allowed = order is not None and (
        (user is not None and (user.role == "operator" or order.buyer_id == user.id))
        or notify.access_allows(order, access))
    if not allowed:
        raise NotFound("No such order.", code=OrderError.NOT_FOUND)
    return order


@use_case
def invoice_for(order_id: str, user, access: str | None = None) -> TaxDocument:
    """The order's invoice for someone who may read it; an order paid before invoices existed
    gets its invoice now (numbered like any other). Before payment: 404
    ``order.invoice_not_available``."""
    order = readable_order(order_id, user, access)
    document = _existing(f"invoice:{order.id}")
    if document is not None:
        return document
    if order.paid_at is None:
        raise NotFound("The order has no invoice: it has not been paid.",
                       code=OrderError.INVOICE_NOT_AVAILABLE)
    lock_rows(Order, [order.id])
    db.session.refresh(order)
    try:
        return issue_invoice(order)
    except DocumentIncomplete as error:
        raise NotFound("The order's invoice cannot be issued yet; the operators have been told.",
                       code=OrderError.INVOICE_NOT_AVAILABLE) from error


def credit_note_for(order_id: str, number: str, user, access: str | None = None) -> TaxDocument:
    order = readable_order(order_id, user, access)
    document = db.session.execute(select(TaxDocument).where(
        TaxDocument.order_id == order.id, TaxDocument.number == number,
        TaxDocument.kind == DocumentKind.CREDIT_NOTE)).scalar_one_or_none()
    if document is None:
        raise NotFound("No such credit note.", code=OrderError.NOT_FOUND)
    return document


def filename(document: TaxDocument) -> str:
    return f"sheber-{document.number}.pdf"


def recent_documents(limit: int = 200) -> list[TaxDocument]:
    """The latest issued documents, newest first (the operators' register)."""
    return list(db.session.execute(select(TaxDocument).order_by(
        TaxDocument.issued_at.desc(), TaxDocument.number.desc()).limit(limit)).scalars())
