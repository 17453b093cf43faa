"""Logs you can follow: each line names its request (``X-Request-ID``, sent back to the client),
user, order and task; a request's id travels in outbox events into the log lines of the tasks
it caused, on a real worker too."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from marketplace import logs, outbox
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.mail import MAIL_REQUESTED
from marketplace.orders import service as orders_service
from marketplace.orders.lifecycle import ORDER_PAID
from marketplace.outbox import OutboxEvent
from tests.checkout.helpers import (
    buyer_with_cart,
    do_checkout,
    fixed_rates,  # noqa: F401 (a fixture)
)
from tests.factories import auth_headers, make_buyer, make_product
from tests.payouts.helpers import artisan_with_account, paid_order, piece
from tests.plugins.worker import empty_broker
from tests.stripe_emulator import WEBHOOK_PATH, stripe_event, stripe_signature, wait_until
from workers.mail import send_mail_task
from workers.orders import send_receipt_task

SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@pytest.fixture
def context_records(caplog):
    """Records of the test as our handlers see them (with the context fields on them)."""
    caplog.handler.addFilter(logs.ContextFilter())
    caplog.set_level(logging.INFO)
    return caplog


@pytest.fixture
def listing_logs(monkeypatch):
    """``GET /api/v1/orders`` logs one line from inside the request."""
    def list_orders(user, **_):
        logging.getLogger("tests.logs").info("listing orders for %s", user.id)
        return [], None

    monkeypatch.setattr(orders_service, "list_orders", list_orders)


@pytest.fixture
def json_logs(app):
    previous = app.config.get("LOG_FORMAT")
    app.config["LOG_FORMAT"] = "json"
    logs.configure(app)
    yield
    app.config["LOG_FORMAT"] = previous
    logs.configure(app)


def records(caplog, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


def test_a_client_s_request_id_comes_back_and_is_on_the_request_s_log_records(
        client, context_records, listing_logs):
    buyer = make_buyer()
    response = client.get("/api/v1/orders",
                          headers={**auth_headers(buyer), "X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc-123"
    [record] = records(context_records, "tests.logs")
    assert (record.request_id, record.user_id, record.order_id) == ("abc-123", buyer.id, None)
    assert logs.current() == {}  # nothing of the request outlives it


def test_without_a_request_id_each_request_gets_a_fresh_one(client, context_records,
                                                            listing_logs):
    headers = auth_headers(make_buyer())
    first = client.get("/api/v1/orders", headers=headers).headers["X-Request-ID"]
    second = client.get("/api/v1/orders", headers=headers).headers["X-Request-ID"]
    assert SANE.fullmatch(first) and SANE.fullmatch(second) and first != second
    assert [r.request_id for r in records(context_records, "tests.logs")] == [first, second]


@pytest.mark.parametrize("sent", ["abc 123", "a" * 129, "abc\nX-Admin: 1", "zakaz-№1", "a/b"])
def test_a_malformed_request_id_is_replaced_by_a_fresh_one(client, sent):
    response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": sent})
    answered = response.headers["X-Request-ID"]
    assert answered != sent and SANE.fullmatch(answered)


@pytest.mark.parametrize("sent", ["a" * 128, "Web.01:req_7-x"])
def test_a_sane_request_id_of_up_to_128_characters_is_kept(client, sent):
    assert client.get("/healthz", headers={"X-Request-ID": sent}
                      ).headers["X-Request-ID"] == sent


def test_problem_responses_carry_the_request_id_too(client):
    response = client.get("/api/v1/no-such-thing", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.headers["X-Request-ID"] == "lost-1"


def test_a_json_app_writes_one_parseable_line_per_record(client, json_logs, capsys,
                                                         monkeypatch):
    def list_orders(user, **_):
        raise RuntimeError("the ledger is on fire")

    monkeypatch.setattr(orders_service, "list_orders", list_orders)
    buyer = make_buyer()
    capsys.readouterr()
    response = client.get("/api/v1/orders",
                          headers={**auth_headers(buyer), "X-Request-ID": "fire-1"})
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert response.headers["X-Request-ID"] == "fire-1"

    # (other handlers, such as Alembic's console one, may write their own lines beside ours)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    [entry] = [e for e in lines if e["logger"] == "marketplace.errors"]
    assert entry["level"] == "ERROR"
    assert entry["message"] == "unhandled error on GET /api/v1/orders"
    assert (entry["request_id"], entry["user_id"], entry["order_id"]) == ("fire-1", buyer.id, None)
    assert "RuntimeError: the ledger is on fire" in entry["exc_info"]
    assert entry["ts"].endswith("Z")
    assert datetime.fromisoformat(entry["ts"]).utcoffset() == timedelta(0)


def test_the_format_is_json_in_production_and_text_elsewhere_unless_chosen():
    assert logs.log_format({"SHEBER_ENV": "production"}) == "json"
    assert logs.log_format({"SHEBER_ENV": "development"}) == "text"
    assert logs.log_format({}) == "text"
    assert logs.log_format({"SHEBER_ENV": "production", "LOG_FORMAT": "text"}) == "text"
    assert logs.log_format({"LOG_FORMAT": "json"}) == "json"
    with pytest.raises(ValueError):
        logs.log_format({"LOG_FORMAT": "xml"})


def test_an_event_emitted_in_a_request_carries_its_trace(app, client):
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    body = json.dumps(event).encode()
    signature = stripe_signature(body, app.config["STRIPE_WEBHOOK_SECRET"])
    try:
        response = client.post(WEBHOOK_PATH, data=body, content_type="application/json",
                               headers={"X-Request-ID": "hook-1", "Stripe-Signature": signature})
        assert response.status_code == 200
    finally:
        empty_broker(app)
    db.session.rollback()
    [stored] = db.session.execute(select(OutboxEvent)).scalars().all()
    assert stored.payload == {"event_id": event["id"], "_trace": {"request_id": "hook-1"}}

    outside = outbox.emit("logs_test.outside", {"n": 1})
    assert outside.payload == {"n": 1}


def test_a_request_on_an_order_traces_its_user_and_order(client, monkeypatch):
    emitted = []

    def visible_order(order_id, user):
        emitted.append(outbox.emit("logs_test.looked", {"looked_at": order_id}))
        raise NotFound("No such order.")

    monkeypatch.setattr(orders_service, "visible_order", visible_order)
    buyer = make_buyer()
    response = client.get("/api/v1/orders/01HZZORDER",
                          headers={**auth_headers(buyer), "X-Request-ID": "look-1"})
    assert response.status_code == 404
    [event] = emitted
    assert event.payload["_trace"] == {"request_id": "look-1", "user_id": buyer.id,
                                       "order_id": "01HZZORDER"}


def test_a_task_logs_under_the_trace_of_the_event_it_consumes(context_records):
    payload = {"to": ["buyer@example.test"], "subject": "Traced", "text": "-", "html": None,
               "attachments": [], "order_id": "01HZZORDER",
               "_trace": {"request_id": "req-9", "user_id": "01HZZUSER"}}
    assert send_mail_task("evt_traced_1", payload) is True
    [record] = records(context_records, "marketplace.mail")
    assert (record.request_id, record.user_id, record.order_id, record.task) == (
        "req-9", "01HZZUSER", "01HZZORDER", "workers.mail.send_mail_task")
    assert logs.current() == {}


def test_an_event_a_task_emits_carries_on_the_same_trace():
    order = paid_order((piece(artisan_with_account(), 1_500_000), 1, 2_700))
    assert send_receipt_task("evt_paid_traced", {
        "order_id": order.id, "_trace": {"request_id": "req-10", "user_id": order.buyer_id}})
    db.session.rollback()
    [receipt] = db.session.execute(select(OutboxEvent).where(
        OutboxEvent.type == MAIL_REQUESTED)).scalars().all()
    assert receipt.payload["_trace"] == {"request_id": "req-10", "user_id": order.buyer_id,
                                         "order_id": order.id}


def worker_fields(log: str, message: str) -> list[dict]:
    """The JSON objects of the worker's log lines whose message starts so (other lines, such as
    Celery's banner, are not JSON and are skipped)."""
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get("message", "")).startswith(message):
            found.append(record)
    return found


@pytest.mark.integration
@pytest.mark.usefixtures("fixed_rates")
def test_a_request_s_id_reaches_the_log_lines_of_the_tasks_it_caused(app, client,
                                                                     stripe_emulator,
                                                                     start_worker):
    product = make_product(stock=2, price_amount=1_500_000)
    buyer, headers = buyer_with_cart((product, 1))
    order_id = do_checkout(client, headers)["order"]["id"]
    worker = start_worker(LOG_FORMAT="json")  # production's format, parsed line by line

    request_id = f"pay-{uuid.uuid4().hex}"
    response = client.post(f"/api/v1/orders/{order_id}/payment",
                           headers={**headers, "X-Request-ID": request_id},
                           json={"payment_method": "pm_card_visa"})
    assert response.status_code == 200 and response.get_json()["status"] == "succeeded"
    assert response.headers["X-Request-ID"] == request_id
    db.session.rollback()
    [paid] = db.session.execute(select(OutboxEvent).where(
        OutboxEvent.type == ORDER_PAID)).scalars().all()
    assert paid.payload == {"order_id": order_id, "_trace": {
        "request_id": request_id, "user_id": buyer.id, "order_id": order_id}}

    # order.paid -> the artisan's mail and the receipt -> two mail tasks, each logging its mail
    def traced_mail_lines():
        lines = [fields for fields in worker_fields(worker.log(), "mail (MAIL_SERVER unset")
                 if fields.get("request_id") == request_id]
        return lines if len(lines) == 2 else None

    try:
        mails = wait_until(traced_mail_lines, timeout=60, message="two traced mail lines")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.log()[-4000:]}") from None
    for fields in mails:
        assert fields["user_id"] == buyer.id and fields["order_id"] == order_id
        assert fields["task"] == "workers.mail.send_mail_task" and fields["task_id"]


def test_a_migration_run_keeps_the_apps_log_handler_and_level(app):
    from flask_migrate import upgrade

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    assert logs.configured()
    with app.app_context():
        upgrade(revision="heads")  # runs migrations/env.py, which reads alembic.ini
    assert root.handlers == handlers and root.level == level
