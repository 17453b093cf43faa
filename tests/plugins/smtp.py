"""A real SMTP server (aiosmtpd) on a free local port, and the app pointed at it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """The aiosmtpd handler: keeps what it receives and can be told to refuse or stall."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.rcpt_count = 0
        self.rcpt_started = threading.Event()
        self._replies: dict[str, list[str]] = {"RCPT": [], "DATA": []}
        self._stall_next_rcpt = 0.0
        self._changed = threading.Condition()

    # scripting -------------------------------------------------------------------------------
    def reply_next(self, command: str, reply: str) -> None:
        """Answer the next ``command`` (RCPT or DATA) with ``reply``, e.g. ``451 4.3.0 later``."""
        self._replies[command].append(reply)

    def stall_next_rcpt(self, seconds: float) -> None:
        """Hold the next RCPT for ``seconds`` (a client caught mid-delivery)."""
        self._stall_next_rcpt = seconds

    def wait_for(self, count: int, timeout: float = 30.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mails, got {len(self.messages)}: "
                                         f"{[m['Subject'] for m in self.messages]}")
                self._changed.wait(left)
            return list(self.messages)

    # aiosmtpd hooks --------------------------------------------------------------------------
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_count += 1
        self.rcpt_started.set()
        if self._stall_next_rcpt:
            seconds, self._stall_next_rcpt = self._stall_next_rcpt, 0.0
            await asyncio.sleep(seconds)
        if self._replies["RCPT"]:
            return self._replies["RCPT"].pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._replies["DATA"]:
            return self._replies["DATA"].pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._changed.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(app):
    """An Inbox behind a running SMTP server; the app's MAIL_* settings point at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    saved = {key: app.config[key] for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT_SECONDS")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_TIMEOUT_SECONDS=5)
    try:
        yield inbox
    finally:
        app.config.update(saved)
        controller.stop()
