"""/metrics and /healthz: what they report, who may read them, and that the counts of several
processes (gunicorn workers, a Celery pool) add up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from celery.utils.imports import symbol_by_name
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from marketplace import mail
from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.inventory import reservations
from marketplace.outbox import OutboxEvent
from workers.app import serve_worker_metrics

ROOT = Path(__file__).resolve().parent.parent


def samples(text: str, name: str) -> dict[tuple, float]:
    """{sorted label items: value} of every sample called ``name`` in a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def scrape_refusal(address: str, authorization: str | None) -> tuple[int, str, dict]:
    """(status, content type, problem) of a scrape of ``address`` sending ``authorization``;
    fails if the scrape is let in."""
    headers = {} if authorization is None else {"Authorization": authorization}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(address, headers=headers), timeout=5)
    with refused.value as response:
        return response.code, response.headers["Content-Type"], json.loads(response.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_healthz_reports_the_outbox_backlog_and_its_age(client):
    db.session.add(OutboxEvent(id=new_id(), type="bench.nobody", payload={},
                               created_at=utcnow() - timedelta(seconds=40)))
    db.session.commit()  # added by hand, not emitted: nothing publishes it
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["outbox"]["pending"] == 1
    assert 40 <= body["outbox"]["lag_seconds"] < 120

    scrape = client.get("/metrics").get_data(as_text=True)
    assert samples(scrape, "sheber_outbox_pending_events") == {(): 1.0}
    assert 40 <= samples(scrape, "sheber_outbox_lag_seconds")[()] < 120


def test_healthz_and_metrics_report_the_last_beat_tick(app, client):
    """The scheduler that beat would use on this broker records its tick; /healthz reads it."""
    celery = app.extensions["celery"]
    if celery.conf.broker_url.startswith("redis"):
        pytest.skip("on Redis the tick needs redbeat's lock: tests/workers/test_beat.py")
    scheduler_class = symbol_by_name(celery.conf.beat_scheduler)
    scheduler = scheduler_class(app=celery, schedule_filename=str(
        Path(celery.conf.sheber_beat_tick_file).with_name("schedule")), lazy=True)
    scheduler.setup_schedule()
    before = time.time()
    scheduler.tick()
    body = client.get("/healthz").get_json()
    assert body["beat"]["age_seconds"] is not None and body["beat"]["age_seconds"] < 5
    assert body["beat"]["last_tick"].startswith(utcnow().date().isoformat())
    scrape = client.get("/metrics").get_data(as_text=True)
    assert samples(scrape, "sheber_beat_last_tick_timestamp_seconds")[()] >= before - 1


def test_metrics_count_requests_by_endpoint_method_and_status(client):
    client.get("/healthz")
    client.get("/no/such/route")
    scrape = client.get("/metrics").get_data(as_text=True)
    counts = samples(scrape, "sheber_http_request_duration_seconds_count")
    assert counts[(("endpoint", "health.healthz"), ("method", "GET"), ("status", "200"))] >= 1
    assert counts[(("endpoint", "unmatched"), ("method", "GET"), ("status", "404"))] >= 1


def test_metrics_want_the_token_when_one_is_set(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "m" * 24)
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "auth.required"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic " + "m" * 24}
                      ).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 24})
    assert allowed.status_code == 200
    assert allowed.mimetype == "text/plain"


def test_production_without_a_token_serves_no_metrics(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SHEBER_ENV", "production")
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["code"] == "http.not_found"


def test_reservations_and_payments_are_counted_once_committed(app):
    from bench.order_pipeline import _orders  # unpaid two-artisan orders, built as checkout does
    from marketplace.checkout import payments
    from marketplace.orders.models import OrderLine

    def value(name: str, outcome: str) -> float:
        return REGISTRY.get_sample_value(name, {"outcome": outcome}) or 0

    _, (rolled_back, kept) = _orders(2)
    product_id = db.session.execute(db.select(OrderLine.product_id).where(
        OrderLine.order_id == kept)).scalars().first()
    held, converted = (value("sheber_reservations_total", "held"),
                       value("sheber_reservations_total", "converted"))
    reservations.hold(rolled_back, [(product_id, 1)], utcnow() + timedelta(minutes=5))
    assert value("sheber_reservations_total", "held") == held  # not yet committed
    db.session.rollback()
    assert value("sheber_reservations_total", "held") == held
    reservations.hold(kept, [(product_id, 1)], utcnow() + timedelta(minutes=5))
    db.session.commit()
    assert value("sheber_reservations_total", "held") == held + 1

    paid = value("sheber_payments_total", "paid")
    intent = {"id": f"pi_bench_{kept}", "status": "succeeded", "amount_received": 12_300,
              "currency": "eur", "metadata": {"order_id": kept}}
    assert payments.apply_payment_intent(intent) == "paid"
    assert value("sheber_payments_total", "paid") == paid + 1
    assert value("sheber_reservations_total", "converted") == converted + 1
    assert payments.apply_payment_intent(intent).startswith("no change")  # Stripe again
    assert value("sheber_payments_total", "paid") == paid + 1
    assert value("sheber_payments_total", "no change") >= 1


def test_a_workers_metrics_port_serves_token_holders_and_nobody_in_production_without_one(
        app, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "WORKER_METRICS_PORT", port)
    monkeypatch.setitem(app.config, "SHEBER_ENV", "production")
    monkeypatch.setitem(app.config, "METRICS_TOKEN", None)
    assert serve_worker_metrics(app) is None
    with pytest.raises(OSError):  # nothing listens
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    token = "t" * 24
    monkeypatch.setitem(app.config, "METRICS_TOKEN", token)
    server = serve_worker_metrics(app)
    try:
        address = f"http://127.0.0.1:{port}/metrics"
        assert scrape_refusal(address, None)[2]["code"] == "auth.required"
        assert scrape_refusal(address, "Bearer " + "u" * 24)[0] == 401
        with urllib.request.urlopen(urllib.request.Request(
                address, headers={"Authorization": f"Bearer {token}"}), timeout=5) as scrape:
            assert scrape.status == 200
            assert "sheber_celery_tasks" in scrape.read().decode()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_a_worker_serves_task_counts_per_queue_from_all_its_processes(app, start_worker,
                                                                     smtp_server, tmp_path):
    port = free_port()
    folder = tmp_path / "worker-metrics"
    folder.mkdir()
    token = "w" * 24
    start_worker(WORKER_METRICS_PORT=port, PROMETHEUS_MULTIPROC_DIR=folder, METRICS_TOKEN=token)
    address = f"http://127.0.0.1:{port}/metrics"
    # the port asks what the web app's /metrics asks: the token as a bearer token
    for sent in (None, "Bearer " + "x" * 24, token, "Basic " + token):
        status, content_type, problem = scrape_refusal(address, sent)
        assert (status, content_type, problem["code"]) == (
            401, "application/problem+json", "auth.required"), sent
    for n in range(3):
        mail.queue_mail(to="buyer@example.test", subject=f"Counted {n}", text="one of three")
        db.session.commit()
    smtp_server.wait_for(3, timeout=60)
    succeeded = (("queue", "mail"), ("state", "succeeded"), ("task", "workers.mail.send_mail_task"))
    timed = (("queue", "mail"), ("task", "workers.mail.send_mail_task"))
    # The pool process counts a task after it returns, the count before the duration, and a
    # scrape reads the counter's file and the histogram's at different moments: wait until one
    # scrape has both of the third task (counts only grow, so one too many fails at once).
    deadline = time.monotonic() + 30
    while True:
        scrape = urllib.request.urlopen(urllib.request.Request(
            address, headers={"Authorization": f"Bearer {token}"}), timeout=5).read()
        counts = samples(scrape.decode(), "sheber_celery_tasks_total")
        durations = samples(scrape.decode(), "sheber_celery_task_duration_seconds_count")
        if (counts.get(succeeded, 0) >= 3 and durations.get(timed, 0) >= 3
                or time.monotonic() > deadline):
            break
        time.sleep(0.2)
    assert counts.get(succeeded) == 3, counts
    assert durations.get(timed) == 3, durations


@pytest.mark.integration
def test_gunicorn_workers_add_up_in_one_scrape(app, database_url, tmp_path):
    """Two gunicorn processes, requests spread over both: any one scrape counts all of them."""
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CELERY_", "PROMETHEUS_"))}
    env.update(DATABASE_URL=database_url, WEB_WORKERS="2", WEB_BIND=f"127.0.0.1:{port}",
               CELERY_BROKER_URL=app.extensions["celery"].conf.broker_url,
               CELERY_BROKER_FOLDER=str(tmp_path / "broker"), RATELIMIT_ENABLED="0",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    if app.extensions["celery"].conf.broker_url.startswith("redis"):
        env["CELERY_BROKER_KEY_PREFIX"] = f"sheber-test-{new_id().lower()}:"
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "marketplace:create_app()"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "gunicorn.log").read_text()) from None
                time.sleep(0.2)

        def hit(path):
            return urllib.request.urlopen(base + path, timeout=30).status

        def writers() -> set[str]:
            return {path.stem.rsplit("_", 1)[-1] for path in (tmp_path / "metrics").glob("*.db")}

        # both processes up and serving: slow requests, 8 at a time, until each has counted
        deadline = time.monotonic() + 180  # a loaded machine boots the second one late
        while len(writers()) < 2 and time.monotonic() < deadline:
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(hit, ["/api/openapi.json"] * 16)) == {200}

        def healthz_count() -> float:
            scrape = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
            return samples(scrape, "sheber_http_request_duration_seconds_count").get(
                (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200")), 0)

        before = healthz_count()
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(hit, ["/healthz"] * 60)) == {200}
        after = healthz_count()
        served_by = writers()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert len(served_by) >= 2, served_by  # both processes served, each writes its own file
    assert after - before == 60
