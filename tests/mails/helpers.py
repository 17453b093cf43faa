"""Mails as people read them: queued through the outbox, delivered to the real SMTP sink."""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace import mail
from marketplace.extensions import db
from marketplace.outbox import OutboxEvent


def deliver_queued(sent: set[str] | None = None) -> int:
    """Send every queued mail (the ``mail.requested`` events) as the mail worker would."""
    db.session.rollback()
    events = db.session.execute(select(OutboxEvent).where(
        OutboxEvent.type == mail.MAIL_REQUESTED).order_by(OutboxEvent.created_at,
                                                         OutboxEvent.id)).scalars().all()
    count = 0
    for event in events:
        if mail.send_mail_payload(event.id, event.payload):
            count += 1
    return count


def to(inbox, address: str):
    return [message for message in inbox.messages if address in message["To"]]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def assert_inlined(html: str) -> None:
    """The CSS was moved into style attributes: no <style> block, the layout's styles inline."""
    assert "<style" not in html
    assert 'style="' in html
    buttons = re.findall(r'<a [^>]*class="button"[^>]*>', html)
    assert buttons and all("background-color: #8a3b12" in tag for tag in buttons), buttons
