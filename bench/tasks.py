"""Tasks the pipeline benchmark loads into its worker (``-I bench.tasks``).

Each one reports completion with a UDP datagram to the benchmark: the same cheap signal for the
baseline and the outbox consumer, and independent of the broker.
"""

from __future__ import annotations

import socket

from celery import shared_task

from marketplace.outbox import run_once

_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def _done(port: int) -> None:
    _udp.sendto(b".", ("127.0.0.1", port))


@shared_task
def noop_task(port: int) -> None:
    _done(port)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def ping_consumer_task(event_id: str, payload: dict) -> None:
    run_once(event_id, "bench.ping", lambda: None)
    _done(payload["port"])
