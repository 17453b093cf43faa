"""Stripe without the internet, for tests: the real ``localstripe`` emulator, the app on a live
port so that webhooks travel over HTTP, and events signed exactly as Stripe signs them.

Fixtures (a pytest plugin, registered in tests/conftest.py):
- ``stripe_emulator`` (session): localstripe on a free port (``--from-scratch``); the app's
  ``STRIPE_API_BASE`` points at it for the whole session.
- ``live_server`` (session): the test app on 127.0.0.1:<free port>, served from a thread.
- ``stripe_webhooks`` (per test): empties the emulator and registers our webhook endpoint with
  it; the session's ``payments_worker`` (tests/plugins/worker.py) applies the stored events. On
  teardown it waits until every event the emulator sent has been applied, so no late delivery
  leaks into the next test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import stripe
from werkzeug.serving import make_server

WEBHOOK_PATH = "/api/v1/webhooks/stripe"
REPOSITORY = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0,
               interval: float = 0.05, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: t=<unix time>,v1=HMAC-SHA256(t.payload)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def stripe_event(type_: str, obj: dict, *, event_id: str | None = None,
                 created: int | None = None) -> dict:
    """An event object shaped like Stripe's (API version 2024-06-20)."""
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


class StripeEmulator:
    """A running localstripe process and shortcuts to what Stripe.js or the dashboard would do."""

    def __init__(self, base_url: str, secret_key: str, publishable_key: str):
        self.base_url = base_url
        self.secret_key = secret_key
        self.publishable_key = publishable_key
        self.client = stripe.StripeClient(secret_key, base_addresses={"api": base_url},
                                          http_client=stripe.new_default_http_client(timeout=10))

    def _post(self, path: str, data: dict | None = None, *, key: str | None = None):
        response = requests.post(f"{self.base_url}{path}", data=data or {}, timeout=10,
                                 auth=(key or self.secret_key, ""))
        response.raise_for_status()
        return response

    def reset(self) -> None:
        requests.delete(f"{self.base_url}/_config/data", timeout=10).raise_for_status()

    def register_webhook(self, url: str, secret: str, name: str = "sheber") -> None:
        self._post(f"/_config/webhooks/{name}", {"url": url, "secret": secret})

    def card_payment_method(self, number: str) -> str:
        method = self.client.v1.payment_methods.create(params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        return method.id

    def authenticate(self, payment_intent_id: str, client_secret: str, success: bool = True):
        """Finish 3-D Secure as the emulator's Stripe.js does (publishable key only)."""
        return self._post(f"/v1/payment_intents/{payment_intent_id}/_authenticate",
                          {"client_secret": client_secret,
                           "success": "true" if success else "false",
                           "key": self.publishable_key}, key=self.publishable_key).json()

    def confirm_as_browser(self, payment_intent_id: str, payment_method: str) -> dict:
        """What Stripe.js does with the client secret: attach the method and confirm."""
        self.client.v1.payment_intents.update(payment_intent_id,
                                              params={"payment_method": payment_method})
        return self.client.v1.payment_intents.confirm(payment_intent_id).to_dict()

    def payment_intent(self, payment_intent_id: str) -> dict:
        return self.client.v1.payment_intents.retrieve(payment_intent_id).to_dict()

    def payment_intents(self) -> list[dict]:
        page = self.client.v1.payment_intents.list(params={"limit": 100})
        return [intent.to_dict() for intent in page.data]

    def refunds(self, payment_intent_id: str) -> list[dict]:
        page = self.client.v1.refunds.list(params={"payment_intent": payment_intent_id,
                                                   "limit": 100})
        return [refund.to_dict() for refund in page.data]

    def charge(self, charge_id: str) -> dict:
        return self.client.v1.charges.retrieve(charge_id).to_dict()

    def open_dispute(self, charge_id: str, reason: str = "fraudulent",
                     amount: int | None = None) -> dict:
        """What the card holder's bank does: a dispute, its amount withdrawn (tests only)."""
        data = {"charge": charge_id, "reason": reason}
        if amount is not None:
            data["amount"] = str(amount)
        return self._post("/_config/disputes", data).json()

    def decide_dispute(self, dispute_id: str, status: str) -> dict:
        """The card network's decision: won (funds reinstated) or lost."""
        return self._post(f"/_config/disputes/{dispute_id}/close", {"status": status}).json()

    def dispute(self, dispute_id: str) -> dict:
        return self.client.v1.disputes.retrieve(dispute_id).to_dict()

    def fail_refund(self, refund_id: str, reason: str = "lost_or_stolen_card") -> dict:
        """The buyer's bank returns a refund Stripe had accepted."""
        return self._post(f"/_config/refunds/{refund_id}/fail",
                          {"failure_reason": reason}).json()

    def refund(self, refund_id: str) -> dict:
        return self.client.v1.refunds.retrieve(refund_id).to_dict()

    def events(self, type_: str | None = None) -> list[dict]:
        params: dict = {"limit": 100}
        if type_:
            params["type"] = type_
        return [event.to_dict() for event in self.client.v1.events.list(params=params).data]


def _localstripe_command() -> str:
    beside_python = Path(sys.executable).with_name("localstripe")
    found = str(beside_python) if beside_python.exists() else shutil.which("localstripe")
    if not found:
        pytest.fail("localstripe is not installed: pip install -e '.[dev]'")
    return found


@pytest.fixture(scope="session")
def stripe_emulator(app, tmp_path_factory):
    _localstripe_command()  # installed (the extension below imports it)
    port = free_port()
    workdir = tmp_path_factory.mktemp("localstripe")
    log_path = workdir / "localstripe.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.localstripe_plus", "--port", str(port),
             "--from-scratch"],
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1",
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY),
                                                             os.environ.get("PYTHONPATH")]))})
    base_url = f"http://127.0.0.1:{port}"
    emulator = StripeEmulator(base_url, app.config["STRIPE_SECRET_KEY"],
                              app.config["STRIPE_PUBLISHABLE_KEY"])

    def ready():
        if process.poll() is not None:
            raise AssertionError(f"localstripe exited: {log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"{base_url}/v1/balance", auth=(emulator.secret_key, ""),
                                timeout=1).ok
        except requests.ConnectionError:
            return False

    previous = app.config.get("STRIPE_API_BASE")
    try:
        wait_until(ready, timeout=30, interval=0.1, message="localstripe to start")
        app.config["STRIPE_API_BASE"] = base_url
        yield emulator
    finally:
        app.config["STRIPE_API_BASE"] = previous
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(app):
    """The test app on 127.0.0.1:<free port>, serving from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def stripe_webhooks(app, stripe_emulator, live_server, payments_worker):
    """A clean emulator whose webhooks reach the live app, where a real worker applies them;
    yields the emulator."""
    from marketplace.checkout.models import StripeEvent
    from marketplace.extensions import db

    stripe_emulator.reset()
    stripe_emulator.register_webhook(live_server + WEBHOOK_PATH,
                                     app.config["STRIPE_WEBHOOK_SECRET"])
    yield stripe_emulator

    sent = {event["id"] for event in stripe_emulator.events()}

    def all_arrived():
        db.session.rollback()
        stored = set(db.session.execute(
            db.select(StripeEvent.event_id).where(StripeEvent.processed_at.is_not(None))
        ).scalars())
        return sent <= stored

    # The emulator delivers about a second after each event, once: wait for the stragglers.
    wait_until(all_arrived, timeout=15, interval=0.1,
               message=f"the emulator's webhooks to arrive ({len(sent)} sent)")


def post_signed(url: str, event: dict, secret: str, *, timestamp: int | None = None,
                signature: str | None = None) -> requests.Response:
    """Deliver ``event`` to ``url`` as Stripe would (raw JSON body, Stripe-Signature)."""
    body = json.dumps(event, indent=2, sort_keys=True).encode()
    header = signature or stripe_signature(body, secret, timestamp)
    return requests.post(url, data=body, timeout=15, headers={
        "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header})
