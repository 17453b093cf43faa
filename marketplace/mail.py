"""Outgoing mail: build a message (text, optional HTML, attachments), send it over SMTP, at most
once per idempotency key. Without MAIL_SERVER the message is written to the log instead.

Services do not talk to SMTP: they call ``queue_mail(...)`` inside their transaction, which emits
a ``mail.requested`` outbox event; the ``send_mail_task`` worker task calls ``send_mail`` with the
event id as the key.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html as html_lib
import logging
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr

import css_inline
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import String, Text, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace import outbox
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.transaction import use_case

log = logging.getLogger(__name__)

MAIL_REQUESTED = "mail.requested"


# How long a sender's claim holds off another delivery of the same mail: well above the SMTP
# timeouts of one conversation, so only a sender that died leaves a claim to lapse.
CLAIM_LEASE = timedelta(minutes=5)


class TransientMailError(Exception):
    """Worth retrying: the network or the server failed for now (timeouts, resets, 4xx)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class LaterAttachment:
    """An attachment made when its mail is sent, by the maker registered for ``kind``
    (``register_attachment``) called with ``args``: the queued mail carries what to make, not
    the bytes, and the sender makes them before it writes anything (no lock held meanwhile)."""
    filename: str
    kind: str
    args: dict
    content_type: str = "application/octet-stream"


_attachment_makers: dict[str, Callable[..., bytes]] = {}


def register_attachment(kind: str, make: Callable[..., bytes]) -> None:
    """``make(**args)`` returns the bytes of a ``LaterAttachment`` of this kind."""
    _attachment_makers[kind] = make


class SentMail(db.Model):
    """One row per idempotency key; ``sent_at`` is set once the SMTP server accepted it."""

    __tablename__ = "sent_mail"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255))
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # A sender's claim, committed before SMTP is spoken to (no row lock is held meanwhile);
    # another delivery of the same mail waits until it is released or has lapsed.
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(255))


# Each mail's two statements, on the table (no ORM bookkeeping for one row), built once: building
# them per mail (their values, their cache key) cost about as much as running them.
_RECORD_CLAIMED = insert(SentMail.__table__)
_MARK_SENT = (update(SentMail.__table__)
              .where(SentMail.__table__.c.key == bindparam("mail_key"))
              .values(sent_at=bindparam("now"), last_error=None, claimed_at=None,
                      claimed_by=None))


def message_id_for(key: str, sender: str) -> str:
    """The same key always gives the same Message-ID, so a resend can be recognised downstream."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{_sender_domain(sender)}>"


@functools.lru_cache(maxsize=16)
def _sender_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "sheber.local"


def build_message(*, to: str | Sequence[str], subject: str, text: str, html: str | None = None,
                  attachments: Iterable[Attachment] = (), sender: str,
                  message_id: str | None = None) -> Message:
    """The MIME message: the text part, the HTML part as its alternative, the attachments.

    Built from the ``email.mime`` classes (the ``compat32`` policy), whose headers are stored as
    given: ``EmailMessage`` parses every header it is given and every part's MIME headers
    (about 0.9 ms a mail, against 0.1 here). Headers of non-ASCII text are encoded here
    (RFC 2047, RFC 2231 for file names) as that policy would not do it."""
    body: Message = _text_part(text, "plain")
    if html is not None:
        body = _multipart("alternative", [body, _text_part(html, "html")])
    attachments = list(attachments)
    if attachments:
        body = _multipart("mixed", [body, *map(_attachment_part, attachments)])
    body["From"] = _address_header(sender)
    body["To"] = to if isinstance(to, str) else ", ".join(to)
    body["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    body["Date"] = formatdate(localtime=False)
    if message_id:
        body["Message-ID"] = message_id
    return body


def _text_part(content: str, subtype: str) -> Message:
    """7bit where it may be (ASCII, lines within RFC 5322's 998), else UTF-8 in base64: the part
    ``MIMEText(content, subtype, "utf-8")`` makes, header for header and line for line (76
    characters), with the C base64 encoder instead of ``email``'s Python one (a quarter of the
    cost of a mail's HTML part)."""
    if content.isascii() and all(len(line) <= 998 for line in content.splitlines()):
        return MIMEText(content, subtype, "us-ascii")
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(content.encode("utf-8")).decode("ascii"))
    return part


def _multipart(subtype: str, parts: list[Message]) -> MIMEMultipart:
    for inner in parts:  # MIME-Version belongs to the message alone, not to its parts
        del inner["MIME-Version"]
    return MIMEMultipart(subtype, _subparts=parts)


def _attachment_part(attachment: Attachment) -> MIMEBase:
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(attachment.content)
    encoders.encode_base64(part)
    name = attachment.filename
    part.add_header("Content-Disposition", "attachment",
                    filename=name if name.isascii() else ("utf-8", "", name))
    return part


def _address_header(value: str) -> str:
    """``Name <address>`` with a non-ASCII name encoded (RFC 2047)."""
    if value.isascii():
        return value
    return formataddr(parseaddr(value), charset="utf-8")


def deliver(message: Message) -> None:
    """Hand the message to MAIL_SERVER (or the log); raise TransientMailError when a retry may
    succeed, and let permanent refusals (5xx, bad addresses) raise as they are."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        _log_message(message)
        return
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"],
                          timeout=config["MAIL_TIMEOUT_SECONDS"]) as smtp:
            if config.get("MAIL_USERNAME"):
                smtp.starttls()
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        if all(400 <= code < 500 for code, _ in exc.recipients.values()):
            raise TransientMailError(f"recipients deferred: {exc.recipients}") from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TransientMailError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        raise
    except smtplib.SMTPServerDisconnected as exc:
        raise TransientMailError(f"SMTP server disconnected: {exc}") from exc
    except smtplib.SMTPException:
        raise
    except OSError as exc:  # refused, reset, timed out, DNS
        raise TransientMailError(f"SMTP connection failed: {exc!r}") from exc
    if refused:
        log.warning("mail %s: some recipients refused: %s", message["Message-ID"], refused)


def send_mail(key: str, *, to: str | Sequence[str], subject: str, text: str,
              html: str | None = None, attachments: Iterable[Attachment] = (),
              claimant: str | None = None) -> bool:
    """Send once per ``key``: True if sent now, False if it had already been sent.

    ``claimant`` names this delivery (the task id: a message the broker redelivers after its
    worker died carries the same one and takes its own claim over at once)."""
    sender = current_app.config["MAIL_SENDER"]
    message = build_message(to=to, subject=subject, text=text, html=html,
                            attachments=attachments, sender=sender,
                            message_id=message_id_for(key, sender))
    claimant = claimant or new_id()
    if not _record_claimed(key, message, claimant) and not _claim(key, claimant):
        if db.session.execute(select(SentMail.sent_at).where(SentMail.key == key)).scalar():
            return False
        # Another worker is talking to the SMTP server about this mail: ask again later.
        raise TransientMailError(f"mail {key} is being sent by another delivery")
    try:
        deliver(message)
    except Exception as exc:
        _record_failure(key, exc)
        raise
    _mark_sent(key)
    return True


@use_case
def _claim(key: str, claimant: str) -> bool:
    now = utcnow()
    return db.session.execute(
        update(SentMail).where(SentMail.key == key, SentMail.sent_at.is_(None),
                               or_(SentMail.claimed_at.is_(None),
                                   SentMail.claimed_by == claimant,
                                   SentMail.claimed_at < now - CLAIM_LEASE))
        .values(attempts=SentMail.attempts + 1, claimed_at=now, claimed_by=claimant)
    ).rowcount == 1


@use_case
def _mark_sent(key: str) -> None:
    db.session.execute(_MARK_SENT, {"mail_key": key, "now": utcnow()})


# --- mails people read: one Jinja template each, rendered in the recipient's language ------------

MAIL_LANGUAGES = ("kk", "ru", "en")
_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def mail_language(locale: str | None) -> str:
    """The recipient's language for a mail: one of kk, ru, en (else English)."""
    language = (locale or "").replace("-", "_").split("_")[0].lower()
    return language if language in MAIL_LANGUAGES else "en"


def short_number(record_id: str | None) -> str:
    """The 8 characters pages show for an order (or batch) id."""
    return (record_id or "")[-8:]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    language: str


def render_mail(template: str, *, locale: str | None, **context) -> RenderedMail:
    """Render ``templates/mail/<template>.html`` in ``locale``: its ``subject`` and ``text``
    blocks, and the whole page as HTML with the layout's CSS moved into style attributes.

    Dates and money go through the app's Babel filters (``date``, ``datetime``, ``money``), so
    they are written the recipient's way, whatever the language of the request or task."""
    language = mail_language(locale)
    env = current_app.jinja_env
    page = env.get_template(f"mail/{template}.html")
    values = {"public_url": current_app.config["PUBLIC_URL"].rstrip("/"),
              "language": language, "short_number": short_number, **context}
    with force_locale(language):
        # One run of the page: the HTML, then the ``subject`` and ``text`` blocks called in the
        # same context (what rendering the page with part="subject" and part="text" outputs,
        # without running the page and its imports twice more).
        context = page.new_context({**values, "part": "html"})
        html = env.concat(page.root_render_func(context))
        subject = " ".join(html_lib.unescape(_block(env, context, "subject")).split())
        text = _block(env, context, "text")
    text = "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return RenderedMail(subject=subject, text=text, html=_inliner.inline(html),
                        language=language)


def _block(env, context, name: str) -> str:
    """A block of the page rendered in ``context`` (its own template's, the most derived)."""
    return env.concat(context.blocks[name][0](context))


def queue_template(template: str, *, to: str | Sequence[str], locale: str | None,
                   attachments: Iterable[Attachment | LaterAttachment] = (),
                   session: Session | None = None, **context) -> str:
    """Render a mail template in the recipient's language and queue it (``queue_mail``)."""
    rendered = render_mail(template, locale=locale, **context)
    return queue_mail(to=to, subject=rendered.subject, text=rendered.text, html=rendered.html,
                      attachments=attachments, session=session)


def queue_mail(*, to: str | Sequence[str], subject: str, text: str, html: str | None = None,
               attachments: Iterable[Attachment | LaterAttachment] = (),
               session: Session | None = None) -> str:
    """Send this mail after the caller's transaction commits (never if it rolls back); returns the
    outbox event id, which is also the mail's idempotency key."""
    payload = mail_payload(to=to, subject=subject, text=text, html=html, attachments=attachments)
    return outbox.emit(MAIL_REQUESTED, payload, session=session).id


def mail_payload(*, to: str | Sequence[str], subject: str, text: str, html: str | None = None,
                 attachments: Iterable[Attachment | LaterAttachment] = ()) -> dict:
    """The JSON form of a mail, as carried by the outbox event and the task."""
    return {
        "to": [to] if isinstance(to, str) else list(to),
        "subject": subject,
        "text": text,
        "html": html,
        "attachments": [_attachment_payload(a) for a in attachments],
    }


def _attachment_payload(attachment: Attachment | LaterAttachment) -> dict:
    if isinstance(attachment, LaterAttachment):
        if attachment.kind not in _attachment_makers:
            raise ValueError(f"no maker registered for attachments of kind {attachment.kind!r}")
        return {"filename": attachment.filename, "content_type": attachment.content_type,
                "make": attachment.kind, "args": attachment.args}
    return {"filename": attachment.filename, "content_type": attachment.content_type,
            "content_base64": base64.b64encode(attachment.content).decode("ascii")}


def _attachment(payload: dict) -> Attachment:
    if "make" in payload:
        content = _attachment_makers[payload["make"]](**payload["args"])
    else:
        content = base64.b64decode(payload["content_base64"])
    return Attachment(payload["filename"], content, payload["content_type"])


def send_mail_payload(key: str, payload: dict, *, claimant: str | None = None) -> bool:
    attachments = [_attachment(a) for a in payload.get("attachments") or ()]
    return send_mail(key, to=payload["to"], subject=payload["subject"], text=payload["text"],
                     html=payload.get("html"), attachments=attachments, claimant=claimant)


def _record_claimed(key: str, message: Message, claimant: str) -> bool:
    """The first delivery of ``key`` records the mail already claimed by ``claimant``: intent
    and claim in one commit. False if the mail was recorded before (a retry, a redelivery, a
    duplicate delivery that got there first): then ``_claim`` decides."""
    session = db.session
    now = utcnow()
    try:
        session.execute(_RECORD_CLAIMED, {
            "key": key, "message_id": message["Message-ID"], "recipients": message["To"],
            "subject": str(message["Subject"])[:500], "attempts": 1, "created_at": now,
            "claimed_at": now, "claimed_by": claimant})
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


@use_case
def _record_failure(key: str, exc: Exception) -> None:
    db.session.execute(update(SentMail).where(SentMail.key == key).values(
        last_error=f"{type(exc).__name__}: {exc}"[:2000], claimed_at=None, claimed_by=None))


def _log_message(message: Message) -> None:
    if not log.isEnabledFor(logging.INFO):  # reading the body back costs more than the log
        return
    parts = list(message.walk())
    names = [part.get_filename() for part in parts if part.get_filename()]
    body = next((part for part in parts if part.get_content_type() == "text/plain"
                 and not part.get_filename()), None)
    text = "" if body is None else body.get_payload(decode=True).decode(
        body.get_content_charset() or "utf-8")
    log.info("mail (MAIL_SERVER unset, not sent)\nMessage-ID: %s\nFrom: %s\nTo: %s\nSubject: %s\n"
             "Attachments: %s\n\n%s", message["Message-ID"], message["From"], message["To"],
             message["Subject"], ", ".join(names) or "none", text)
