"""What each step of the order pipeline costs, in-process: SQL statements and CPU time per step.

    python -m bench.order_steps [--orders 25] [--database-url URL]

Pays ``--orders`` two-artisan orders (those of ``bench.order_pipeline``) one at a time and runs
each step as its task would (``outbox.run_once`` for the pipeline steps, the mail sender for the
three mails), counting the statements each sends (SQLAlchemy's ``before_cursor_execute``) and
the process's CPU time. The first three orders warm caches and are not counted. CPU time
depends less on the load of a shared machine than wall time does, and statement counts not at
all; ``--show`` prints the statements of the last order. No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

STEPS = ("paid", "start_fulfilment", "receipt", "ledger", "mail")
WARM = 3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=25)
    parser.add_argument("--database-url", help="an empty scratch database (default: SQLite)")
    parser.add_argument("--show", action="store_true", help="print the last order's statements")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sheber-bench-steps-"))
    os.environ.update(DATABASE_URL=args.database_url or f"sqlite:///{workdir / 'bench.db'}",
                      CELERY_BROKER_URL="filesystem://localhost//",
                      CELERY_BROKER_FOLDER=str(workdir / "broker"))
    os.environ.pop("MAIL_SERVER", None)
    try:
        run(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import event, select

    from bench.order_pipeline import _orders
    from marketplace import create_app, mail
    from marketplace.checkout import payments
    from marketplace.extensions import db
    from marketplace.orders import pipeline
    from marketplace.outbox import OutboxEvent, run_once
    from marketplace.payouts import service as payouts

    app = create_app()
    statements: list[str] = []
    costs: dict[str, list[tuple[float, int]]] = defaultdict(list)
    with app.app_context():
        upgrade(revision="heads")
        _buyer, order_ids = _orders(args.orders + WARM)
        event.listen(db.engine, "before_cursor_execute",
                     lambda _c, _k, statement, *_: statements.append(statement))

        def step(name: str, work, counted: bool, shown: list) -> None:
            statements.clear()
            started = time.process_time()
            work()
            cpu = (time.process_time() - started) * 1000
            if counted:
                costs[name].append((cpu, len(statements)))
            shown.append((name, list(statements)))

        for n, order_id in enumerate(order_ids):
            counted, shown = n >= WARM, []
            step("paid", lambda order_id=order_id: payments.apply_payment_intent({
                "id": f"pi_bench_{order_id}", "status": "succeeded", "amount_received": 12_300,
                "currency": "eur", "metadata": {"order_id": order_id}}), counted, shown)
            paid = db.session.execute(select(OutboxEvent.id).where(
                OutboxEvent.type == "order.paid",
                OutboxEvent.payload["order_id"].as_string() == order_id)).scalar_one()
            db.session.rollback()
            for name, work in (("start_fulfilment", pipeline.start_fulfilment),
                               ("receipt", pipeline.send_receipt),
                               ("ledger", payouts.record_order)):
                step(name, lambda work=work, order_id=order_id, name=name, paid=paid: run_once(
                    paid, f"bench.{name}", lambda: work(order_id)), counted, shown)
            mails = db.session.execute(
                select(OutboxEvent.id, OutboxEvent.payload)
                .where(OutboxEvent.type == mail.MAIL_REQUESTED)
                .order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc()).limit(3)).all()
            db.session.rollback()
            for key, payload in mails:
                step("mail", lambda key=key, payload=payload: mail.send_mail_payload(
                    key, payload), counted, shown)
            db.session.remove()
        database = db.engine.dialect.name
    print(f"\nOrder pipeline steps in-process: {args.orders} orders (after {WARM} warm-up), "
          f"{database}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'step':<18}{'per order':>10}{'CPU ms':>9}{'statements':>12}")
    total_cpu = total_statements = 0.0
    for name in STEPS:
        rows = costs[name]
        per_order = len(rows) / args.orders
        cpu = sum(c for c, _ in rows) / args.orders
        count = sum(s for _, s in rows) / args.orders
        total_cpu += cpu
        total_statements += count
        print(f"{name:<18}{per_order:>10.0f}{cpu:>9.1f}{count:>12.1f}")
    print(f"{'order, all steps':<28}{total_cpu:>9.1f}{total_statements:>12.1f}")
    if args.show:
        for name, sent in shown:
            print(f"\n-- {name}: {len(sent)} statements")
            for statement in sent:
                print("   ", " ".join(statement.split())[:120])


if __name__ == "__main__":
    main()
