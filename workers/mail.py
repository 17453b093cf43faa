"""Mail tasks (queue ``mail``)."""

from __future__ import annotations

from celery import shared_task

from marketplace import mail
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT, max_retries=10, bind=True)
def send_mail_task(self, key: str, message: dict) -> bool:
    """Send ``message`` (``marketplace.mail.mail_payload``) once per ``key``; also the consumer of
    ``mail.requested`` outbox events, whose id is the key."""
    return mail.send_mail_payload(key, message, claimant=self.request.id)
