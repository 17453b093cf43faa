"""Every mail template renders in kk, ru and en: a subject, a plain-text part and an HTML part
with inlined CSS from one template, nothing left in English in kk and ru, dates the reader's
way."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from marketplace import mail

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
PARCEL = {"number": "W6W3FTBR", "carrier_name": "Sheber Post", "tracking_number": "EE123456785KZ",
          "tracking_url": "https://sheber.example/track/EE123456785KZ",
          "eta_from": date(2026, 12, 14), "eta_to": date(2026, 12, 21),
          "order_url": "https://sheber.example/orders/X"}
PIECES = [{"quantity": 2, "title": "Kese & bowl", "unit": "1", "total": "2",
           "photo_url": "https://sheber.example/media/a.jpg", "label_code": "SHB-ABC",
           "label_url": "https://sheber.example/provenance/SHB-ABC", "serials": ["SHB-ABC-1"]}]
CONTEXTS = {
    "welcome": {"role": "buyer", "claim_url": "https://sheber.example/account/claim/t",
                "claim_count": 2},
    "password_reset": {"reset_url": "https://sheber.example/password/reset/t",
                       "expires_at": datetime(2026, 12, 1, 13, 0)},
    "registration_attempt": {"to_email": "ann@example.test",
                             "attempted_email": "\u0430nn@example.test",
                             "signin_url": "https://sheber.example/signin",
                             "reset_url": "https://sheber.example/password/forgot"},
    "email_change": {"confirm_url": "https://sheber.example/account/email/t",
                     "new_email": "new@example.test", "old_email": "old@example.test",
                     "expires_at": datetime(2026, 12, 2, 13, 0)},
    "receipt": {"number": "W6W3FTBR", "paid_at": datetime(2026, 12, 1, 10, 0), "total": "€243",
                "items": "€200", "shipping": "€30", "duties": "€13", "duties_mode": "DDP",
                "service_name": "EMS", "eta_from": date(2026, 12, 14),
                "eta_to": date(2026, 12, 21), "pieces": PIECES, "order_url": "https://x/o",
                "invoice_url": "https://x/i.pdf", "receipt_url": "https://x/r.pdf"},
    "payment_failed": {"number": "W6W3FTBR", "total": "€243", "reason": "declined",
                       "hold_until": datetime(2026, 12, 1, 10, 15), "pay_url": "https://x/p"},
    "shipped": {"parcel": PARCEL, "duties_mode": "DAP"},
    "parcel_update": {"parcel": PARCEL, "status": "customs", "duties_mode": "DAP",
                      "scan_place": "Germany", "scan_time": "14.12.2026, 09:00"},
    "customs_hold": {"parcel": PARCEL, "description": "Invoice required",
                     "scan_place": "Germany", "scan_time": "14.12.2026, 09:00"},
    "delivered": {"parcel": PARCEL, "review_url": "https://x/o?review=1#review",
                  "has_provenance": True, "scan_place": "Germany", "scan_time": "x"},
    "returned": {"parcel": PARCEL, "description": "Refused"},
    "refund": {"number": "W6W3FTBR", "amount": "€30", "reason": "a chipped rim",
               "fully_refunded": False, "order_url": "https://x/o"},
    "artisan_order": {"number": "W6W3FTBR", "workshop_name": "Kese", "pieces": PIECES,
                      "pieces_count": 2, "ship_by": date(2026, 12, 4), "destination": "DE",
                      "service_name": "EMS", "sale": "30 000 ₸", "workshop_url": "https://x/w"},
    "payout_sent": {"amount": "120 000 ₸", "account": "•••• 1234",
                    "paid_at": datetime(2026, 12, 1), "bank_reference": "B-1", "orders_count": 3},
    "operator_alert": {"kind": "customs_hold", "number": "W6W3FTBR", "detail": "Invoice",
                       "tracking_number": "EE123456785KZ", "console_url": "https://x/c"},
    "conversation_message": {"recipient_name": "Дана", "sender_name": "Kese & Co",
                             "subject": "Shyrdak & felt " + "in red and ochre " * 10,
                             "body": "Can you make it\n2 m long & red?",
                             "path": "/messages/C1"},
}


def test_every_mail_template_has_a_context_here():
    names = {path.stem for path in TEMPLATES.glob("*.html")
             if '{% extends "mail/_layout.html" %}' in path.read_text(encoding="utf-8")}
    assert names == set(CONTEXTS)


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_each_mail_renders_in_every_language(app, name):
    rendered = {language: mail.render_mail(name, locale=language, name="Дана",
                                           **CONTEXTS[name])
                for language in ("en", "ru", "kk")}
    for language, letter in rendered.items():
        assert letter.language == language
        assert letter.subject and "\n" not in letter.subject
        assert "%(" not in letter.subject + letter.text + letter.html
        assert "<" not in letter.text.replace("<https", "")  # plain text, no markup
        assert f'<html lang="{language}">' in letter.html
        assert "<style" not in letter.html and 'style="' in letter.html
        assert "&amp;" not in letter.text  # nothing HTML-escaped in the text part
    for language in ("ru", "kk"):
        assert rendered[language].subject != rendered["en"].subject
        assert rendered[language].text != rendered["en"].text
    if name == "receipt":
        assert "Dec 1, 2026" in rendered["en"].text
        assert "1 дек. 2026" in rendered["ru"].text
        assert "2026" in rendered["kk"].text and "Dec" not in rendered["kk"].text
        assert "Kese &amp; bowl" in rendered["en"].html and "Kese & bowl" in rendered["en"].text
        assert "Receipt (PDF): https://x/r.pdf" in rendered["en"].text
        assert "Чек (PDF): https://x/r.pdf" in rendered["ru"].text
        assert "Түбіртек (PDF): https://x/r.pdf" in rendered["kk"].text
        assert '<a href="https://x/r.pdf"' in rendered["en"].html
    if name == "conversation_message":  # what the people typed, escaped in HTML only
        english = rendered["en"]
        assert english.subject.startswith("New message from Kese & Co: Shyrdak & felt")
        assert len(english.subject) < 160 and english.subject.endswith("…")
        assert "2 m long & red?" in english.text and "2 m long &amp; red?" in english.html
        assert "Shyrdak &amp; felt" in english.html and "/messages/C1" in english.html


def test_an_unknown_locale_reads_english(app):
    assert mail.render_mail("refund", locale="de-DE", name="A", **CONTEXTS["refund"]).language \
        == "en"
