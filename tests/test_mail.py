"""Mail: built with text, HTML and a PDF, sent over a real SMTP server once per key."""

from __future__ import annotations

import email.policy
import io
import logging
import smtplib
from email import message_from_bytes

import pytest
from pypdf import PdfReader
from reportlab.pdfgen import canvas
from sqlalchemy import select

from marketplace import mail
from marketplace.extensions import db
from marketplace.mail import Attachment, SentMail, TransientMailError
from marketplace.outbox import OutboxEvent
from tests.plugins.smtp import free_port
from workers.mail import send_mail_task


def receipt_pdf(text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def sent_row(key: str) -> SentMail:
    db.session.expire_all()
    return db.session.get(SentMail, key)


def test_message_has_text_html_and_a_pdf_attachment(app):
    built = mail.build_message(
        to=["aigerim@example.test", "ops@sheber.kz"], subject="Your receipt",
        text="Рахмет! Thank you.", html="<p>Thank you.</p>",
        attachments=[Attachment("receipt.pdf", receipt_pdf("Order 42"), "application/pdf")],
        sender="Sheber <orders@sheber.kz>", message_id="<abc@sheber.kz>")
    message = message_from_bytes(built.as_bytes(), policy=email.policy.default)  # as sent
    assert message["To"] == "aigerim@example.test, ops@sheber.kz"
    assert message["Message-ID"] == "<abc@sheber.kz>"
    assert message.get_body(("plain",)).get_content().strip() == "Рахмет! Thank you."
    assert message.get_body(("html",)).get_content().strip() == "<p>Thank you.</p>"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "receipt.pdf"
    assert attachment.get_content_type() == "application/pdf"


def test_non_ascii_subject_sender_and_file_name_are_encoded_for_the_wire(app):
    built = mail.build_message(
        to="aigerim@example.test", subject="Заказ 42: упакуйте 1 изделие",
        text="Сәлеметсіз бе!", html=None,
        attachments=[Attachment("чек.pdf", b"%PDF-1.4", "application/pdf")],
        sender="Шебер <orders@sheber.kz>", message_id="<abc@sheber.kz>")
    wire = built.as_bytes()
    assert wire.isascii()  # nothing needs SMTPUTF8 or 8BITMIME
    message = message_from_bytes(wire, policy=email.policy.default)
    assert message["Subject"] == "Заказ 42: упакуйте 1 изделие"
    assert message["From"].addresses[0].display_name == "Шебер"
    assert message.get_body(("plain",)).get_content().strip() == "Сәлеметсіз бе!"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "чек.pdf" and attachment.get_content() == b"%PDF-1.4"


def test_mime_version_is_on_the_message_alone_whatever_its_parts(app):
    for html, attachments in ((None, []), ("<p>Hi</p>", []),
                              ("<p>Hi</p>", [Attachment("a.pdf", b"%PDF-1.4", "application/pdf")])):
        built = mail.build_message(to="aigerim@example.test", subject="Hi", text="Hi",
                                   html=html, attachments=attachments, sender="orders@sheber.kz")
        message = message_from_bytes(built.as_bytes(), policy=email.policy.default)
        assert message["MIME-Version"] == "1.0"  # RFC 2045, section 4
        assert [part for part in message.walk() if part is not message
                and "MIME-Version" in part] == []


def test_message_id_is_derived_from_the_key_and_the_sender_domain():
    first = mail.message_id_for("receipt:order-1", "Sheber <orders@sheber.kz>")
    assert first == mail.message_id_for("receipt:order-1", "orders@sheber.kz")
    assert first != mail.message_id_for("receipt:order-2", "orders@sheber.kz")
    assert first.startswith("<") and first.endswith("@sheber.kz>")


def test_send_mail_delivers_over_smtp_once_per_key(app, smtp_server):
    pdf = receipt_pdf("Order 42: felt slippers")
    kwargs = {"to": "aigerim@example.test", "subject": "Your receipt", "text": "Thank you.",
              "attachments": [Attachment("receipt.pdf", pdf, "application/pdf")]}
    assert mail.send_mail("receipt:order-42", **kwargs) is True
    assert mail.send_mail("receipt:order-42", **kwargs) is False

    [message] = smtp_server.wait_for(1)
    assert smtp_server.rcpt_count == 1
    assert smtp_server.envelopes == [("orders@sheber.kz", ["aigerim@example.test"])]
    assert message["Message-ID"] == mail.message_id_for("receipt:order-42",
                                                        app.config["MAIL_SENDER"])
    [attachment] = list(message.iter_attachments())
    reader = PdfReader(io.BytesIO(attachment.get_content()))
    assert "Order 42: felt slippers" in reader.pages[0].extract_text()
    row = sent_row("receipt:order-42")
    assert row.sent_at is not None and row.attempts == 1


def test_mail_task_retries_a_deferred_delivery_then_sends_once(smtp_server):
    smtp_server.reply_next("DATA", "451 4.3.0 Mailbox busy, try again later")
    payload = mail.mail_payload(to="artisan@example.test", subject="Pack order 7",
                                text="Two bowls to pack.")
    result = send_mail_task.apply(args=["pack:order-7", payload])

    assert result.successful()
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Pack order 7"
    assert smtp_server.rcpt_count == 2
    row = sent_row("pack:order-7")
    assert row.attempts == 2 and row.sent_at is not None and row.last_error is None


def test_mail_task_does_not_retry_a_permanent_refusal(smtp_server):
    smtp_server.reply_next("RCPT", "550 5.1.1 No such mailbox")
    payload = mail.mail_payload(to="nobody@example.test", subject="Hello", text="Hi")
    result = send_mail_task.apply(args=["hello:nobody", payload])

    assert result.failed()
    assert isinstance(result.result, smtplib.SMTPRecipientsRefused)
    assert smtp_server.rcpt_count == 1
    row = sent_row("hello:nobody")
    assert row.sent_at is None and "550" in row.last_error


def test_an_unreachable_mail_server_is_a_transient_error(app):
    saved = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    try:
        with pytest.raises(TransientMailError):
            mail.send_mail("k1", to="a@example.test", subject="s", text="t")
    finally:
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = saved
    row = sent_row("k1")
    assert row.sent_at is None and row.attempts == 1


def test_without_a_mail_server_the_mail_is_written_to_the_log(app, caplog):
    assert app.config["MAIL_SERVER"] is None
    with caplog.at_level(logging.INFO, logger="marketplace.mail"):
        sent = mail.send_mail("console:1", to="buyer@example.test", subject="Order shipped",
                              text="Your parcel left Almaty.")
    assert sent is True
    assert "Order shipped" in caplog.text and "Your parcel left Almaty." in caplog.text
    assert sent_row("console:1").sent_at is not None


def test_queued_mail_exists_only_if_the_callers_transaction_commits(app):
    mail.queue_mail(to="buyer@example.test", subject="Rolled back", text="no")
    db.session.rollback()
    event_id = mail.queue_mail(to="buyer@example.test", subject="Committed", text="yes",
                               attachments=[Attachment("a.txt", b"hello", "text/plain")])
    db.session.commit()

    [event] = db.session.execute(select(OutboxEvent)).scalars().all()
    assert event.id == event_id and event.type == mail.MAIL_REQUESTED
    assert event.payload["subject"] == "Committed"
    assert event.payload["attachments"][0]["content_base64"] == "aGVsbG8="


def test_a_mail_claimed_by_another_delivery_waits_without_holding_a_lock(app, smtp_server):
    kwargs = {"to": "nurlan@example.test", "subject": "Shipped", "text": "On its way."}
    message = mail.build_message(sender=app.config["MAIL_SENDER"],
                                 message_id=mail.message_id_for("shipped:7",
                                                                app.config["MAIL_SENDER"]),
                                 **kwargs)
    # recorded and claimed in one commit: no lock stays held
    assert mail._record_claimed("shipped:7", message, "task-a") is True
    assert mail._record_claimed("shipped:7", message, "task-a") is False  # recorded once
    assert mail._claim("shipped:7", "task-a") is True  # its own claim, taken again
    with pytest.raises(TransientMailError):  # another delivery asks again later
        mail.send_mail("shipped:7", claimant="task-b", **kwargs)
    assert smtp_server.rcpt_count == 0
    # the broker's redelivery of the same task (its worker died mid-SMTP) takes its claim over
    assert mail.send_mail("shipped:7", claimant="task-a", **kwargs) is True
    assert mail.send_mail("shipped:7", claimant="task-b", **kwargs) is False
    row = sent_row("shipped:7")
    assert row.sent_at is not None and row.claimed_at is None and smtp_server.rcpt_count == 1


def test_a_later_attachment_is_made_by_its_maker_when_the_mail_is_sent(app, smtp_server):
    made = []

    def make(text: str) -> bytes:
        made.append(text)
        return receipt_pdf(text)

    mail.register_attachment("test.note", make)
    event_id = mail.queue_mail(to="buyer@example.test", subject="Receipt", text="Attached.",
                               attachments=[mail.LaterAttachment(
                                   "note.pdf", "test.note", {"text": "Order 7: a rug"},
                                   "application/pdf")])
    db.session.commit()
    assert made == []  # queued without the bytes
    [event] = db.session.execute(select(OutboxEvent)).scalars().all()
    [carried] = event.payload["attachments"]
    assert "content_base64" not in carried and carried["content_type"] == "application/pdf"

    assert mail.send_mail_payload(event_id, event.payload) is True
    [message] = smtp_server.wait_for(1)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "note.pdf"
    assert "Order 7: a rug" in PdfReader(io.BytesIO(attachment.get_content())).pages[0]\
        .extract_text()
    assert made == ["Order 7: a rug"]


def test_an_attachment_nobody_can_make_is_refused_when_queued(app):
    with pytest.raises(ValueError):
        mail.queue_mail(to="buyer@example.test", subject="Receipt", text="Attached.",
                        attachments=[mail.LaterAttachment("x.pdf", "test.nobody", {})])


@pytest.mark.parametrize("text", [
    "Здравствуйте! Ваш заказ 0A1B2C3D оплачен.\n" * 40,
    "<p>Сәлеметсіз бе</p>" * 300,  # an HTML part, many base64 lines
    "注文を承りました。",  # shorter than one line
    "é" + "a" * 2000,  # one long line
    "plain ASCII, but one line longer than 998 characters: " + "x" * 1000,
])
@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_a_text_part_is_the_one_the_standard_library_makes(text, subtype):
    """The part is byte for byte what ``email.mime.text.MIMEText`` writes (its own base64
    encoder), and reads back as the text."""
    from email.mime.text import MIMEText

    part = mail._text_part(text, subtype)
    assert part.as_string() == MIMEText(text, subtype, "utf-8").as_string()
    assert part.get_payload(decode=True).decode("utf-8") == text
