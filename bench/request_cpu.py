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
req/s does: other processes' load barely changes a process's own CPU time. When PostgreSQL runs
on this machine, the CPU its backends serving this process spent on each request is added
(``server ms``, from the kernel's per-process schedstat, averaged over the rounds), with this
process's mean (``both ms``) and ``/healthz``'s ``both`` divided by the endpoint's: what the
req/s ratio of ``bench.catalog`` tends to when the two are what a request costs.

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
    os.environ["PGAPPNAME"] = APPLICATION_NAME  # libpq's: names this process's sessions


APPLICATION_NAME = "sheber-request-cpu"


def _on_cpu_ns(pids: list[int]) -> int:
    """Nanoseconds these processes have run on a CPU (the kernel's schedstat)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total


def _server_processes(app) -> list[int]:
    """The PostgreSQL backends serving this process, when the server runs on this machine and
    its processes can be read (else none: the server's column is left out)."""
    from sqlalchemy import text

    from marketplace.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return []
        pids = list(db.session.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION_NAME}).scalars())
        db.session.remove()
    try:
        _on_cpu_ns(pids)
    except OSError:
        return []
    return pids


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
    from bench.catalog import selected

    named = selected(_endpoints(client), args.only)

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
    server = _server_processes(client.application)
    spent: dict[str, list[float]] = {name: [] for name, _url in named}
    served: dict[str, int] = {name: 0 for name, _url in named}  # the server's ns, summed
    for _ in range(args.rounds):
        for name, url in named:
            before = _on_cpu_ns(server)
            started = time.process_time()
            response = client.get(url)
            spent[name].append((time.process_time() - started) * 1000)
            served[name] += _on_cpu_ns(server) - before
            if response.status_code != 200:
                sys.exit(f"{name}: {response.status_code}")
    baseline = statistics.median(spent["/healthz"])
    server_ms = {name: ns / args.rounds / 1e6 for name, ns in served.items()}
    both = {name: statistics.fmean(spent[name]) + server_ms[name] for name in spent}
    header = f"{'endpoint':44} {'median ms':>10} {'mean ms':>9} {'× /healthz':>11}"
    if server:
        header += f" {'server ms':>10} {'both ms':>8} {'/healthz ÷':>11}"
    print(header)
    for name, values in spent.items():
        median = statistics.median(values)
        line = (f"{name:44} {median:10.2f} {statistics.fmean(values):9.2f} "
                f"{median / baseline:11.2f}")
        if server:
            line += (f" {server_ms[name]:10.2f} {both[name]:8.2f} "
                     f"{both['/healthz'] / both[name]:11.3f}")
        print(line)


if __name__ == "__main__":
    main()
