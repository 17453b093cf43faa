"""The Python CPU one request of each catalogue endpoint costs, in-process, as ratios to
``/healthz`` measured in the same run.

    python -m bench.request_cpu --database-url URL [--rounds 200] [--only NAME,...]
                                [--profile NAME] [--digest]

Serves an existing bench catalogue (``python -m bench.catalog --keep`` or
``--reuse-database``; this never writes to it) with the app configured as the catalogue bench's
gunicorn workers are (no rate limiting, warnings only), and sends the endpoints of
``bench.catalog.endpoints`` through Flask's test client, one request of each in turn for
``--rounds`` rounds, timing each with ``time.process_time``: the CPU of this process (Flask, the
ORM, psycopg, pydantic, JSON) without the database server's. Printed: the median and mean CPU ms
per request, and the median's ratio to ``/healthz``'s. On a shared machine this says more than
req/s does: other processes' load barely changes a process's own CPU time.

``--only`` keeps the endpoints whose names contain one of the given words (``/healthz`` is always
measured); ``--profile NAME`` runs cProfile over that endpoint's requests and prints the top of it;
``--digest`` prints a sha256 of every response body instead (to check that a change leaves the
bodies byte-identical).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import statistics
import sys
import tempfile
import time


def _configure(database_url: str) -> None:
    os.environ.update(DATABASE_URL=database_url, RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING",
                      CELERY_BROKER_URL="filesystem://",
                      CELERY_BROKER_FOLDER=tempfile.mkdtemp(prefix="sheber-cpu-broker-"),
                      PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="sheber-cpu-metrics-"))
    os.environ.pop("REDIS_URL", None)


def _endpoints(client) -> list[tuple[str, str]]:
    from bench import catalog
    from marketplace.extensions import db

    with client.application.app_context():
        facts = catalog.catalogue_facts()
        db.session.remove()

    def get_json(url: str) -> dict:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_json()

    return catalog.endpoints("", facts, get_json=get_json)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--only", default="", help="comma-separated words of endpoint names")
    parser.add_argument("--profile", default="", help="an endpoint's name to profile")
    parser.add_argument("--digest", action="store_true", help="sha256 of each response body")
    args = parser.parse_args(argv)
    _configure(args.database_url)

    from marketplace import create_app

    client = create_app().test_client()
    named = _endpoints(client)
    words = [word for word in args.only.split(",") if word]
    if words:
        named = [(name, url) for name, url in named
                 if name == "/healthz" or any(word in name for word in words)]

    if args.digest:
        for name, url in named:
            response = client.get(url)
            body = response.get_data()
            if name == "/healthz":  # its timings and lag change from one request to the next
                continue
            print(f"{hashlib.sha256(body).hexdigest()}  {response.status_code}  {name}")
        return

    if args.profile:
        url = dict(named)[args.profile]
        for _ in range(10):
            client.get(url)
        profiler = cProfile.Profile(time.process_time)  # CPU, not wall time
        profiler.enable()
        for _ in range(args.rounds):
            client.get(url)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        print(out.getvalue())
        return

    for _name, url in named:  # warm: statements compiled, rates and served countries read
        for _ in range(3):
            client.get(url)
    spent: dict[str, list[float]] = {name: [] for name, _url in named}
    for _ in range(args.rounds):
        for name, url in named:
            started = time.process_time()
            response = client.get(url)
            spent[name].append((time.process_time() - started) * 1000)
            if response.status_code != 200:
                sys.exit(f"{name}: {response.status_code}")
    baseline = statistics.median(spent["/healthz"])
    print(f"{'endpoint':44} {'median ms':>10} {'mean ms':>9} {'× /healthz':>11}")
    for name, values in spent.items():
        median = statistics.median(values)
        print(f"{name:44} {median:10.2f} {statistics.fmean(values):9.2f} "
              f"{median / baseline:11.2f}")


if __name__ == "__main__":
    main()
