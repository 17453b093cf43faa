"""Paid orders per second through the whole order pipeline on a real worker.

    python -m bench.order_pipeline [--orders 200] [--concurrency 2] [--database-url URL]
                                   [--profile PATH]

For each broker (the embedded filesystem broker, and Redis when it answers) it starts a real
``celery -A workers worker`` and pays N two-artisan orders through the paid transition
(``checkout.payments.apply_payment_intent`` with the PaymentIntent as Stripe reports a succeeded
one; the Stripe API itself is not called). Each order then costs six tasks: the fulfilments and
the order to fulfilling (with the artisans' mails queued), the buyer's receipt mail queued, the
payouts ledger, and three mails sent (two artisans, the buyer; logged, MAIL_SERVER is unset).
The receipt PDF is not among them: the receipt mail links it and it is rendered on its first
download (``orders.receipt.stored_receipt``). The clock stops when every order is fulfilling,
every mail is sent and every ledger line is written. Beside the rates it prints the CPU time per
task of the worker's processes and this one, for the no-op tasks and the pipeline's (less the
CPU this process spends asking whether the pipeline is done): on a machine that other work
saturates, the tasks/s ratio tends to the ratio of those, which the other work does not change.
No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline import (
    Completions,
    broker_settings,
    brokers_to_measure,
    cpu_seconds,
    drop_redis_prefix,
    noop_rate,
    start_worker,
    stop_worker,
)

TASKS_PER_ORDER = 6
# where checkout ships it: the paid transaction issues the invoice, which names the buyer's address
ADDRESS = {"name": "Anna Schmidt", "line1": "Invalidenstrasse 1", "city": "Berlin",
           "postal_code": "10115", "country": "DE"}


@dataclass
class Result:
    broker: str
    orders: int
    seconds: float
    baseline: float  # no-op tasks/s through the same broker and worker
    # CPU per task (worker processes + this one, which sends the no-op tasks and pays the
    # orders), the load of a shared machine left out: no-op, pipeline
    noop_cpu: float = 0.0
    pipeline_cpu: float = 0.0

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds

    @property
    def tasks_per_second(self) -> float:
        return self.orders * TASKS_PER_ORDER / self.seconds


def _orders(count: int) -> tuple[str, list[str]]:
    """``count`` unpaid orders from a new buyer, each with pieces by two new artisans; returns
    (buyer id, order ids)."""
    from marketplace.accounts import service as accounts
    from marketplace.catalog.models import ArtisanProfile, Product
    from marketplace.extensions import db
    from marketplace.ids import new_id, utcnow
    from marketplace.orders import service as orders_service
    from marketplace.orders.models import Order, OrderLine

    run = new_id().lower()  # a scratch database may hold an earlier run

    def user(role: str, name: str):
        return accounts.create_user(email=f"{name.lower()}-{run}@bench.test",
                                    password="bench-pass-1",
                                    role=role, name=name, country="KZ", locale="en",
                                    currency="KZT")

    buyer = user("buyer", "Buyer")
    products = []
    for name, price in (("Aigerim", 1_500_000), ("Nurlan", 4_500_000)):
        artisan = user("artisan", name)
        db.session.add(ArtisanProfile(user_id=artisan.id, workshop_name=f"{name} workshop",
                                      payout_iban="KZ75125KZT2069100100", payout_bic="KCJBKZKX"))
        product = Product(artisan_id=artisan.id, title={"en": f"{name}'s piece"}, craft="ceramics",
                          price_amount=price, price_currency="KZT", price_base=price,
                          stock=10**6)
        db.session.add(product)
        products.append(product)
    db.session.commit()
    ids = []
    for _ in range(count):
        order_id = new_id()
        order = Order(id=order_id, buyer_id=buyer.id, currency="EUR", listing_currency="KZT",
                      fx_rate="0.0018", items_amount=10_800, shipping_amount=1_500,
                      duties_amount=0, total_amount=12_300, shipping_address=ADDRESS,
                      shipping_option={"service_name": "EMS"}, duties_mode="DDP",
                      payment_intent_id=f"pi_bench_{order_id}",
                      reservation_expires_at=utcnow())
        db.session.add(order)
        db.session.flush()
        # the PaymentIntent checkout would have created for it (only those act on an order)
        orders_service.record_attempt(order_id, 1, f"pi_bench_{order_id}", 12_300, "EUR")
        for position, (product, unit) in enumerate(zip(products, (2_700, 8_100), strict=True)):
            db.session.add(OrderLine(
                order_id=order.id, position=position, product_id=product.id,
                artisan_id=product.artisan_id, title=product.title, quantity=1,
                unit_price_amount=product.price_amount, unit_price_currency="KZT",
                unit_presentment_amount=unit, fx_rate="0.0018", serials=[]))
        ids.append(order.id)
    db.session.commit()
    return buyer.id, ids


def _done(buyer_id: str, count: int, since) -> bool:
    """Every order fulfilling, its three mails sent (mails queued ``since`` the first payment)
    and its four ledger lines written."""
    from sqlalchemy import func, select

    from marketplace.extensions import db
    from marketplace.mail import SentMail
    from marketplace.orders.models import Order, OrderStatus
    from marketplace.outbox import OutboxEvent
    from marketplace.payouts.models import LedgerEntry

    def rows(query) -> int:
        return db.session.execute(query).scalar_one()

    orders = select(Order.id).where(Order.buyer_id == buyer_id)
    mails = select(OutboxEvent.id).where(OutboxEvent.type == "mail.requested",
                                         OutboxEvent.created_at >= since)
    done = (rows(select(func.count()).select_from(Order)
                 .where(Order.buyer_id == buyer_id, Order.status == OrderStatus.FULFILLING))
            == count
            and rows(select(func.count()).select_from(SentMail)
                     .where(SentMail.key.in_(mails), SentMail.sent_at.is_not(None))) == 3 * count
            and rows(select(func.count()).select_from(LedgerEntry)
                     .where(LedgerEntry.order_id.in_(orders))) == 4 * count)
    db.session.rollback()
    return done


def measure(broker: str, count: int, concurrency: int, database_url: str | None,
            profile: Path | None = None) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"sheber-bench-orders-{broker}-"))
    settings = broker_settings(broker, workdir)
    settings["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.db'}"
    os.environ.update(settings)
    for key in ("MAIL_SERVER",):
        os.environ.pop(key, None)

    from flask_migrate import upgrade

    from marketplace import create_app
    from marketplace.checkout import payments
    from marketplace.extensions import db
    from marketplace.ids import utcnow

    app = create_app()
    with app.app_context():
        upgrade(revision="heads")
        buyer_id, order_ids = _orders(count)
    worker = start_worker({**os.environ, "PYTHONUNBUFFERED": "1"}, concurrency,
                          workdir / "worker.log",
                          profile=None if profile is None else Path(f"{profile}.{broker}"))
    try:
        with app.app_context():
            completions = Completions()
            celery = app.extensions["celery"]
            celery.send_task("bench.tasks.noop_task", args=[completions.port])
            completions.wait(1, timeout=120)  # booted: its start-up is no task's CPU
            cpu_before = cpu_seconds(worker.pid) + time.process_time()
            baseline = noop_rate(celery, completions, count * TASKS_PER_ORDER)
            cpu_noop = cpu_seconds(worker.pid) + time.process_time()
            completions.socket.close()
            since = utcnow()
            started = time.perf_counter()
            for order_id in order_ids:
                outcome = payments.apply_payment_intent({
                    "id": f"pi_bench_{order_id}", "status": "succeeded",
                    "amount_received": 12_300, "currency": "eur",
                    "metadata": {"order_id": order_id}})
                assert outcome == "paid", outcome
            deadline = time.monotonic() + 900
            polling = 0.0  # CPU spent asking, not the pipeline's
            while True:
                asked = time.process_time()
                done = _done(buyer_id, count, since)
                polling += time.process_time() - asked
                if done:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the pipeline did not finish {count} orders on {broker}")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            cpu_pipeline = cpu_seconds(worker.pid) + time.process_time() - polling
            db.session.remove()
            db.engine.dispose()
    except BaseException:
        print(f"--- {broker} worker log (tail) ---\n{(workdir / 'worker.log').read_text()[-4000:]}")
        raise
    finally:
        stop_worker(worker)
        if "CELERY_BROKER_KEY_PREFIX" in settings:
            drop_redis_prefix(settings["CELERY_BROKER_KEY_PREFIX"])
        shutil.rmtree(workdir, ignore_errors=True)
        for key in settings:
            os.environ.pop(key, None)
    tasks = count * TASKS_PER_ORDER
    return Result(broker, count, seconds, baseline,
                  noop_cpu=(cpu_noop - cpu_before) / (tasks + 1),  # with the warm-up task
                  pipeline_cpu=(cpu_pipeline - cpu_noop) / tasks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database-url", help="an empty scratch database (default: SQLite)")
    parser.add_argument("--profile", type=Path, metavar="PATH",
                        help="run the worker under py-spy and write its samples (collapsed "
                             "stacks) to PATH.<broker>; the figures then include py-spy's cost")
    args = parser.parse_args(argv)

    brokers = brokers_to_measure()

    results = [measure(broker, args.orders, args.concurrency, args.database_url, args.profile)
               for broker in brokers]
    database = "SQLite" if args.database_url is None else args.database_url.split(":")[0]
    print(f"\nOrder pipeline: {args.orders} paid two-artisan orders ({TASKS_PER_ORDER} tasks "
          f"each), one worker with {args.concurrency} processes, {database}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'broker':<12}{'seconds':>9}{'orders/s':>10}{'tasks/s':>9}{'no-op task/s':>14}"
          f"{'ratio':>7}{'CPU ms/task: no-op':>20}{'pipeline':>10}{'ratio':>7}")
    for result in results:
        cpu_ratio = result.noop_cpu / result.pipeline_cpu if result.pipeline_cpu else 0.0
        print(f"{result.broker:<12}{result.seconds:>9.1f}{result.orders_per_second:>10.1f}"
              f"{result.tasks_per_second:>9.1f}{result.baseline:>14.0f}"
              f"{result.tasks_per_second / result.baseline:>7.2f}"
              f"{result.noop_cpu * 1000:>20.1f}{result.pipeline_cpu * 1000:>10.1f}"
              f"{cpu_ratio:>7.2f}")
    print(f"(load average {os.getloadavg()[0]:.1f}; the CPU ratio is no-op CPU per task over "
          "the pipeline's: what the tasks/s ratio tends to once the machine is saturated)")


if __name__ == "__main__":
    main()
