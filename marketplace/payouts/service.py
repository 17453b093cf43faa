"""Payouts: what the marketplace owes each artisan, and the runs that pay it.

The ledger per artisan (``LedgerEntry``) is written from the order: a **sale** (the artisan's
lines at listing price, in the listing currency) and the platform's **commission**
(``PLATFORM_COMMISSION_BPS`` of the sale, rounded half-up once) when the order is paid; for each
refund the artisan's share of it (**refund**) and the commission on that share given back
(**commission_refund**), so that the commission always equals one rounding of what the artisan
finally sold. A refund after the sale was paid out becomes a **clawback**: it counts at the next
run and nets against that payout; a payout is never negative.

Entries tied to an order become payable once that artisan's parcel is delivered and
``PAYOUT_HOLD_DAYS`` have passed (not while the order is disputed). ``run_payouts`` groups the
payable balance per artisan and currency into one batch for a rail (``marketplace.payouts.rails``)
and settles the entries with a **payout** entry; the operator takes the batch's files to the bank
and marks it executed.

Public functions for other domains and tasks: ``record_order(order_id)``, ``run_payouts(...)``,
``mark_batch_executed(...)``, ``balances(artisan_id)``, ``artisan_payouts(...)``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import and_, bindparam, exists, func, or_, select, update

from marketplace.accounts.models import Role, User
from marketplace.catalog.models import ArtisanProfile
from marketplace.charts import Month, last_months, month_range, monthly_series
from marketplace.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    RequestError,
    ValidationFailed,
)
from marketplace.extensions import db
from marketplace.http import decode_cursor, encode_cursor
from marketplace.ids import new_id, utcnow
from marketplace.money import Money, round_half_up
from marketplace.orders import lifecycle, notify
from marketplace.orders.disputes import lost_disputes
from marketplace.orders.models import (
    DISPUTE_CLOSED,
    Dispute,
    Fulfilment,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
)
from marketplace.payouts import kz, rails
from marketplace.payouts.errors import PayoutError
from marketplace.payouts.models import (
    BatchStatus,
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutBatch,
    PayoutFile,
    PayoutStatus,
)
from marketplace.transaction import use_case

K = EntryKind

# Refunds that give back a second, unwanted capture: the artisans' sale never included it.
NOT_ARTISANS_MONEY = frozenset({"automatic", "foreign"})
IBAN_FORMAT = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
BIC_FORMAT = re.compile(r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$")


def commission_on(amount: int, bps: int) -> int:
    """The platform's commission on ``amount`` minor units, rounded half-up once."""
    return round_half_up(Decimal(amount) * bps / 10_000)


# --- the ledger ----------------------------------------------------------------------------

def _entry(order: Order, artisan_id: str, kind: EntryKind, amount: int, currency: str,
           reference: str, *, after_delivery: bool = True,
           commission_bps: int | None = None) -> LedgerEntry:
    entry = LedgerEntry(artisan_id=artisan_id, order_id=order.id, kind=kind, amount=amount,
                        currency=currency, reference=reference, after_delivery=after_delivery,
                        commission_bps=commission_bps)
    db.session.add(entry)
    return entry


@dataclass(frozen=True)
class Reduction:
    """Money the buyer got back that comes out of the artisans' sale: a refund Stripe accepted
    (and the bank did not fail), or a lost dispute the policy charges to the artisans."""

    id: str
    amount: int
    lines: list


_HAS_REDUCTIONS = select(exists().where(Refund.order_id == bindparam("order_id")),
                         exists().where(Dispute.order_id == bindparam("order_id")))


def _reductions(order: Order) -> tuple[list[Reduction], list[Refund]]:
    """(what reduces the artisans' sale, oldest first; refunds failed after they were booked)."""
    # one read asks whether there is anything to read: a paid order's first ledger run, the
    # pipeline's, finds neither (two reads of nothing before)
    has_refunds, has_disputes = db.session.execute(_HAS_REDUCTIONS, {"order_id": order.id}).one()
    counted: list[Reduction] = []
    failed: list[Refund] = []
    rows = () if not has_refunds else db.session.execute(
        select(Refund).where(Refund.order_id == order.id)
        .order_by(Refund.created_at, Refund.id)).scalars()
    for refund in rows:
        if refund.source in NOT_ARTISANS_MONEY or refund.stripe_refund_id is None:
            continue
        if refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
            failed.append(refund)
        elif refund.status in (RefundStatus.PENDING, RefundStatus.SUCCEEDED):
            counted.append(Reduction(refund.id, refund.amount, list(refund.lines or [])))
    if not has_disputes:
        return counted, failed
    reasons = _clawback_reasons()
    for dispute in lost_disputes(order.id):
        if dispute.reason in reasons and dispute.currency == order.currency:
            counted.append(Reduction(dispute.id, dispute.amount, []))
    return counted, failed


def _clawback_reasons() -> frozenset[str]:
    value = current_app.config.get("DISPUTE_CLAWBACK_REASONS") or ""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _refund_shares(order: Order, refund: Reduction, gross: dict, refunded: dict,
                   refunded_before: int) -> dict[tuple[str, str], int]:
    """Each (artisan, currency)'s share of ``refund``, in listing minor units.

    Line refunds take those lines at listing price. An amount refund takes the same fraction of
    what each artisan has left as it takes of what the buyer has left, so refunding everything
    left always reverses the artisans' sales exactly.
    """
    shares: dict[tuple[str, str], int] = defaultdict(int)
    if refund.lines:
        by_id = {line.id: line for line in order.lines}
        for item in refund.lines:
            line = by_id.get(item.get("line_id"))
            if line is not None:
                key = (line.artisan_id, line.unit_price_currency)
                shares[key] += line.unit_price_amount * int(item.get("quantity") or 0)
    else:
        left = order.total_amount - refunded_before
        if left <= 0:
            return {}
        for key, amount in gross.items():
            remaining = amount - refunded[key]
            shares[key] = round_half_up(Decimal(remaining) * refund.amount / left)
    return {key: max(0, min(share, gross[key] - refunded[key]))
            for key, share in shares.items() if key in gross}


_ORDER_ENTRIES = select(LedgerEntry).where(LedgerEntry.order_id == bindparam("order_id"))


@use_case
def record_order(order_id: str) -> int:
    """Bring the ledger in line with the order: sale and commission per artisan once it is paid,
    and each refund's share. Idempotent (every entry is keyed); returns how many it added."""
    order = lifecycle.lock_order(order_id)
    if order.paid_at is None:
        return 0
    have = {(e.artisan_id, e.kind, e.reference): e for e in db.session.execute(
        _ORDER_ENTRIES, {"order_id": order.id}).scalars()}
    added = 0
    gross: dict[tuple[str, str], int] = defaultdict(int)
    for line in order.lines:
        gross[(line.artisan_id, line.unit_price_currency)] += line.unit_price_amount * line.quantity
    bps: dict[tuple[str, str], int] = {}
    sales: dict[tuple[str, str], LedgerEntry] = {}
    for (artisan_id, currency), amount in sorted(gross.items()):
        reference = f"{order.id}/{currency}"
        sale = have.get((artisan_id, K.SALE, reference))
        if sale is None:
            sale = _entry(order, artisan_id, K.SALE, amount, currency, reference)
            added += 1
        commission = have.get((artisan_id, K.COMMISSION, reference))
        if commission is None:
            rate = int(current_app.config["PLATFORM_COMMISSION_BPS"])
            commission = _entry(order, artisan_id, K.COMMISSION, -commission_on(amount, rate),
                                currency, reference, commission_bps=rate)
            added += 1
        sales[(artisan_id, currency)] = sale
        bps[(artisan_id, currency)] = commission.commission_bps or 0

    refunded: dict[tuple[str, str], int] = defaultdict(int)
    refunded_before = 0
    reductions, failed = _reductions(order)
    for refund in failed:  # the bank failed it: each of its entries is taken back once
        for (artisan_id, kind, reference), entry in sorted(have.items()):
            if not reference.startswith(f"{refund.id}/") or kind not in (
                    K.REFUND, K.CLAWBACK, K.COMMISSION_REFUND):
                continue
            back = f"{reference}/{kind}"
            if (artisan_id, K.REFUND_REVERSAL, back) not in have:
                reversal = _entry(order, artisan_id, K.REFUND_REVERSAL, -entry.amount,
                                  entry.currency, back, after_delivery=entry.after_delivery)
                have[(artisan_id, K.REFUND_REVERSAL, back)] = reversal
                added += 1
    for refund in reductions:
        shares = _refund_shares(order, refund, gross, refunded, refunded_before)
        for (artisan_id, currency), share in sorted(shares.items()):
            key = (artisan_id, currency)
            reference = f"{refund.id}/{currency}"
            recorded = any((artisan_id, kind, reference) in have
                           for kind in (K.REFUND, K.CLAWBACK))
            if share and not recorded:
                paid_out = sales[key].payout_id is not None
                kind = K.CLAWBACK if paid_out else K.REFUND
                _entry(order, artisan_id, kind, -share, currency, reference,
                       after_delivery=not paid_out)
                returned = (commission_on(gross[key] - refunded[key], bps[key])
                            - commission_on(gross[key] - refunded[key] - share, bps[key]))
                if returned:
                    _entry(order, artisan_id, K.COMMISSION_REFUND, returned, currency,
                           reference, after_delivery=not paid_out)
                    added += 1
                added += 1
            refunded[key] += share
        refunded_before += refund.amount
    db.session.flush()
    return added


def entries_for_order(order_id: str, artisan_id: str | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.order_id == order_id)
    if artisan_id is not None:
        query = query.where(LedgerEntry.artisan_id == artisan_id)
    return list(db.session.execute(
        query.order_by(LedgerEntry.created_at, LedgerEntry.id)).scalars())


# --- what is payable -----------------------------------------------------------------------

def _hold() -> timedelta:
    return timedelta(days=int(current_app.config["PAYOUT_HOLD_DAYS"]))


def _disputed():
    """SQL: the entry's order has a dispute open (or is disputed with none recorded yet).
    A won dispute pays again; a lost one has claimed its share back where the policy says so."""
    open_dispute = exists().where(Dispute.order_id == LedgerEntry.order_id,
                                  Dispute.status.not_in([str(s) for s in DISPUTE_CLOSED]))
    any_dispute = exists().where(Dispute.order_id == LedgerEntry.order_id)
    return or_(open_dispute, and_(~any_dispute, exists().where(
        Order.id == LedgerEntry.order_id, Order.status == OrderStatus.DISPUTED)))


def _delivered_at():
    """SQL: when the entry's artisan's parcel of its order was first delivered (or NULL)."""
    return (select(func.min(Fulfilment.delivered_at))
            .where(Fulfilment.order_id == LedgerEntry.order_id,
                   Fulfilment.artisan_id == LedgerEntry.artisan_id,
                   Fulfilment.delivered_at.is_not(None))
            .correlate(LedgerEntry).scalar_subquery())


def payable_condition(now: datetime):
    """SQL: an open entry that the next run may pay (delivered + hold, or not tied to delivery)."""
    cutoff = now - _hold()
    delivered = exists().where(Fulfilment.order_id == LedgerEntry.order_id,
                               Fulfilment.artisan_id == LedgerEntry.artisan_id,
                               Fulfilment.delivered_at.is_not(None),
                               Fulfilment.delivered_at <= cutoff)
    # Paid out only once no dispute of the order is open.
    return or_(LedgerEntry.after_delivery.is_(False), and_(delivered, ~_disputed()))


@dataclass(frozen=True)
class Balance:
    currency: str
    pending: Money  # every entry not paid out yet
    payable: Money  # of which the next run would pay (if positive)

    def to_dict(self) -> dict:
        return {"currency": self.currency, "pending": self.pending.to_dict(),
                "payable": self.payable.to_dict()}


@dataclass(frozen=True)
class Due:
    """Part of a pending balance that falls due at one moment (delivery + the hold)."""
    due_at: datetime
    amount: Money


@dataclass(frozen=True)
class PendingBalance:
    """One artisan's open balance in one currency, and when each part of it can be paid."""
    artisan_id: str
    workshop_name: str
    currency: str
    pending: Money  # every entry not paid out yet
    due_now: Money  # of which the next run would pay (if positive)
    later: tuple[Due, ...]  # delivered, in the hold: soonest first
    awaiting_delivery: Money  # sold, the parcel not delivered yet: no date until it is
    disputed: Money  # held while a dispute of the order is open

    @property
    def balance(self) -> Balance:
        return Balance(self.currency, self.pending, self.due_now)


def pending_balances(artisan_id: str | None = None,
                     now: datetime | None = None) -> list[PendingBalance]:
    """Every open balance (of one artisan, or of all) with what is due now and when the rest
    falls due: ``PAYOUT_HOLD_DAYS`` after the artisan's parcel is delivered. The same rule as
    the payout run (``payable_condition``), so "due now" is what ``run_payouts`` would pay."""
    now = now or utcnow()
    query = (select(LedgerEntry.artisan_id, LedgerEntry.currency, LedgerEntry.amount,
                    payable_condition(now).label("payable"), _disputed().label("disputed"),
                    _delivered_at().label("delivered_at"),
                    func.coalesce(ArtisanProfile.workshop_name, User.name).label("name"))
             .join(User, User.id == LedgerEntry.artisan_id)
             .outerjoin(ArtisanProfile, ArtisanProfile.user_id == LedgerEntry.artisan_id)
             .where(LedgerEntry.payout_id.is_(None)))
    if artisan_id is not None:
        query = query.where(LedgerEntry.artisan_id == artisan_id)
    groups: dict[tuple[str, str], dict] = {}
    for row in db.session.execute(query).all():
        group = groups.setdefault((row.artisan_id, row.currency), {
            "name": row.name or "", "pending": 0, "due_now": 0, "later": defaultdict(int),
            "awaiting": 0, "disputed": 0})
        group["pending"] += row.amount
        if row.payable:
            group["due_now"] += row.amount
        elif row.disputed:
            group["disputed"] += row.amount
        elif row.delivered_at is None:
            group["awaiting"] += row.amount
        else:
            group["later"][row.delivered_at + _hold()] += row.amount
    return [PendingBalance(
        artisan_id=artisan, workshop_name=group["name"], currency=currency,
        pending=Money(group["pending"], currency), due_now=Money(group["due_now"], currency),
        later=tuple(Due(at, Money(amount, currency))
                    for at, amount in sorted(group["later"].items()) if amount),
        awaiting_delivery=Money(group["awaiting"], currency),
        disputed=Money(group["disputed"], currency))
        for (artisan, currency), group in sorted(
            groups.items(), key=lambda item: (item[1]["name"].casefold(), item[0]))]


def balances(artisan_id: str, now: datetime | None = None) -> list[Balance]:
    return [pending.balance for pending in pending_balances(artisan_id, now)]


# --- payout runs ---------------------------------------------------------------------------

@dataclass
class RunResult:
    batch: PayoutBatch | None
    skipped: list[dict] = field(default_factory=list)


def _beneficiary(artisan_id: str) -> tuple[User, ArtisanProfile | None]:
    return db.session.get(User, artisan_id), db.session.get(ArtisanProfile, artisan_id)


def run_payouts(*, rail: str = rails.BANK_TRANSFER, now: datetime | None = None,
                actor_id: str | None = None, execution_date: date | None = None) -> RunResult:
    """Pay every artisan's positive payable balance (per currency) in one batch on ``rail``.

    Safe to run concurrently: an entry is settled by a conditional update, and a run that finds
    an entry taken by another run changes nothing (409).
    """
    result = _run_payouts(rail=rail, now=now, actor_id=actor_id, execution_date=execution_date)
    if result.batch is not None:  # read afresh after the commit, with its payouts and files
        result.batch = db.session.get(PayoutBatch, result.batch.id)
    return result


@use_case
def _run_payouts(*, rail: str, now: datetime | None, actor_id: str | None,
                 execution_date: date | None) -> RunResult:
    adapter = rails.get(rail)
    now = now or utcnow()
    entries = db.session.execute(
        select(LedgerEntry).where(LedgerEntry.payout_id.is_(None), payable_condition(now))
        .order_by(LedgerEntry.artisan_id, LedgerEntry.currency, LedgerEntry.created_at,
                  LedgerEntry.id)).scalars().all()
    groups: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        groups[(entry.artisan_id, entry.currency)].append(entry)

    result = RunResult(batch=None)
    batch = PayoutBatch(id=new_id(), rail=adapter.name, status=BatchStatus.READY,
                        execution_date=execution_date or now.date(), created_by=actor_id)
    payouts: list[Payout] = []
    settle: dict[str, list[str]] = {}
    for (artisan_id, currency), group in groups.items():
        amount = sum(entry.amount for entry in group)
        if amount == 0:
            continue
        if amount < 0:
            result.skipped.append({"artisan_id": artisan_id, "amount": {
                "amount": amount, "currency": currency},
                "reason": "clawbacks and refunds leave nothing to pay"})
            continue
        user, profile = _beneficiary(artisan_id)
        problem = adapter.cannot_pay(profile)
        if problem:
            result.skipped.append({"artisan_id": artisan_id, "amount": {
                "amount": amount, "currency": currency}, "reason": problem})
            continue
        payout = Payout(id=new_id(), artisan_id=artisan_id, batch_id=batch.id, rail=adapter.name,
                        status=PayoutStatus.PENDING, amount=amount, currency=currency,
                        beneficiary_name=(profile.payout_holder_name or profile.workshop_name
                                          or user.name)[:140],
                        beneficiary_country=profile.country or user.country,
                        iban=profile.payout_iban, bic=profile.payout_bic,
                        beneficiary_iin_bin=profile.payout_iin_bin,
                        beneficiary_kbe=profile.payout_kbe,
                        knp=str(current_app.config["PAYOUT_KNP"]))
        payouts.append(payout)
        settle[payout.id] = [entry.id for entry in group]
    if not payouts:
        return result
    db.session.add(batch)
    db.session.add_all(payouts)
    db.session.flush()
    for payout in payouts:
        settled = db.session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id.in_(settle[payout.id]), LedgerEntry.payout_id.is_(None))
            .values(payout_id=payout.id).execution_options(synchronize_session=False)).rowcount
        if settled != len(settle[payout.id]):
            raise Conflict("Another payout run is settling the same balances; try again.",
                           code=PayoutError.RUN_IN_PROGRESS)
        db.session.add(LedgerEntry(artisan_id=payout.artisan_id, kind=K.PAYOUT,
                                   amount=-payout.amount, currency=payout.currency,
                                   reference=payout.id, after_delivery=False,
                                   payout_id=payout.id))
    db.session.flush()
    for name, content_type, content in adapter.files(batch, payouts, debtor=rails.debtor()):
        db.session.add(PayoutFile(batch_id=batch.id, name=name, content_type=content_type,
                                  content=content, sha256=rails.sha256(content)))
    db.session.flush()
    result.batch = db.session.get(PayoutBatch, batch.id)
    return result


@use_case
def mark_batch_executed(batch_id: str, operator: User, *,
                        bank_reference: str | None = None) -> PayoutBatch:
    """The operator has had the bank execute the batch's files: its payouts are paid."""
    if operator.role != Role.OPERATOR:
        raise Forbidden("Only operators execute payouts.", code=PayoutError.OPERATOR_ONLY)
    batch = get_batch(batch_id)
    now = utcnow()
    moved = db.session.execute(
        update(PayoutBatch)
        .where(PayoutBatch.id == batch.id, PayoutBatch.status == BatchStatus.READY)
        .values(status=BatchStatus.EXECUTED, executed_at=now, executed_by=operator.id,
                bank_reference=bank_reference)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise InvalidTransition("This batch has been marked executed already.",
                                code=PayoutError.BATCH_EXECUTED)
    db.session.execute(
        update(Payout).where(Payout.batch_id == batch.id, Payout.status == PayoutStatus.PENDING)
        .values(status=PayoutStatus.PAID, paid_at=now)
        .execution_options(synchronize_session=False))
    db.session.flush()
    db.session.expire_all()
    batch = get_batch(batch_id)
    for payout in batch.payouts:
        if payout.status == PayoutStatus.PAID:
            _mail_payout_sent(payout, bank_reference)
    return batch


def _mail_payout_sent(payout: Payout, bank_reference: str | None) -> None:
    """The artisan's "payout sent" mail, in their language."""
    artisan = db.session.get(User, payout.artisan_id)
    if artisan is None:
        return
    reader = notify.user_recipient(artisan)
    orders_count = len({entry.order_id for entry in payout.entries if entry.order_id})
    notify.queue_to(reader, "payout_sent",
                    amount=notify.money_text(Money(payout.amount, payout.currency),
                                             reader.locale),
                    account=f"•••• {payout.iban[-4:]}", paid_at=payout.paid_at,
                    bank_reference=bank_reference, orders_count=orders_count)


def get_batch(batch_id: str) -> PayoutBatch:
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound("No such payout batch.", code=PayoutError.BATCH_NOT_FOUND)
    return batch


def batch_file(batch_id: str, name: str) -> PayoutFile:
    row = db.session.execute(select(PayoutFile).where(
        PayoutFile.batch_id == batch_id, PayoutFile.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound("This batch has no such file.", code=PayoutError.FILE_NOT_FOUND)
    return row


def _page(query, order_columns, limit: int, cursor: str | None):
    created_column, id_column = order_columns
    if cursor:
        values = decode_cursor(cursor)
        try:
            created_at, row_id = datetime.fromisoformat(values[0]), str(values[1])
        except (IndexError, TypeError, ValueError):
            raise ValidationFailed("The cursor is not valid.", errors={"cursor": ["invalid"]},
                                   code=RequestError.INVALID_CURSOR) from None
        query = query.where((created_column < created_at)
                            | ((created_column == created_at) & (id_column < row_id)))
    rows = list(db.session.execute(
        query.order_by(created_column.desc(), id_column.desc()).limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id])
    return rows, next_cursor


def list_batches(*, limit: int = 24, cursor: str | None = None):
    return _page(select(PayoutBatch), (PayoutBatch.created_at, PayoutBatch.id), limit, cursor)


def artisan_payouts(artisan_id: str, *, limit: int = 24, cursor: str | None = None):
    return _page(select(Payout).where(Payout.artisan_id == artisan_id),
                 (Payout.created_at, Payout.id), limit, cursor)


# --- what a payout is made of --------------------------------------------------------------

@dataclass
class OrderShare:
    """One order's part in a payout (or in the open balance), amounts as the artisan sees them."""

    order_id: str | None
    currency: str
    sale: int = 0
    commission: int = 0  # kept by the platform (net of what refunds gave back)
    refunded: int = 0
    clawed_back: int = 0

    @property
    def net(self) -> int:
        return self.sale - self.commission - self.refunded - self.clawed_back

    def to_dict(self) -> dict:
        def money(amount: int) -> dict:
            return {"amount": amount, "currency": self.currency}

        return {"order_id": self.order_id, "sale": money(self.sale),
                "commission": money(self.commission), "refunded": money(self.refunded),
                "clawed_back": money(self.clawed_back), "net": money(self.net)}


def order_shares(entries: list[LedgerEntry]) -> list[OrderShare]:
    shares: dict[tuple[str | None, str], OrderShare] = {}
    for entry in entries:
        if entry.kind == K.PAYOUT:
            continue
        share = shares.setdefault((entry.order_id, entry.currency),
                                  OrderShare(entry.order_id, entry.currency))
        if entry.kind == K.SALE:
            share.sale += entry.amount
        elif entry.kind in (K.COMMISSION, K.COMMISSION_REFUND):
            share.commission -= entry.amount
        elif entry.kind == K.REFUND:
            share.refunded -= entry.amount
        elif entry.kind == K.CLAWBACK:
            share.clawed_back -= entry.amount
        elif entry.kind == K.REFUND_REVERSAL:
            if entry.reference.endswith(f"/{K.COMMISSION_REFUND}"):
                share.commission -= entry.amount
            elif entry.reference.endswith(f"/{K.CLAWBACK}"):
                share.clawed_back -= entry.amount
            else:
                share.refunded -= entry.amount
    return list(shares.values())


# --- the artisan's bank account ------------------------------------------------------------

def normalise_iban(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: the format and the mod-97 check digits."""
    if not IBAN_FORMAT.match(iban):
        return False
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def payout_account(user: User) -> ArtisanProfile:
    if user.role != Role.ARTISAN:
        raise Forbidden("Only artisans have a payout account.", code=PayoutError.ARTISAN_ONLY)
    profile = db.session.get(ArtisanProfile, user.id)
    if profile is None:
        raise NotFound("Create your workshop profile first (PUT /api/v1/artisans/me).",
                       code=PayoutError.PROFILE_REQUIRED)
    return profile


@use_case
def set_payout_account(user: User, *, iban: str, bic: str, holder_name: str | None = None,
                       iin_bin: str | None = None, kbe: str | None = None) -> ArtisanProfile:
    """Where bank-transfer payouts go: an IBAN (checked) and the bank's BIC. A Kazakh account
    also needs what a Kazakh bank checks before crediting it (``marketplace.payouts.kz``): the
    holder's legal name, their IIN or BIN (check digit verified), their КБе, and a BIC that is
    the bank of the IBAN's bank code."""
    profile = payout_account(user)
    iban, bic = normalise_iban(iban), re.sub(r"\s+", "", bic or "").upper()
    holder_name = (holder_name or "").strip() or None
    iin_bin = re.sub(r"\s+", "", iin_bin or "") or None
    kbe = (kbe or "").strip() or None
    errors: dict[str, list[str]] = {}
    if not iban_is_valid(iban):
        errors["iban"] = ["not a valid IBAN (format or check digits)"]
    if not BIC_FORMAT.match(bic):
        errors["bic"] = ["not a valid BIC (8 or 11 letters and digits)"]
    if iban.startswith("KZ") and "iban" not in errors:
        if len(iban) != kz.KZ_IBAN_LENGTH:
            errors["iban"] = [f"a Kazakh IBAN has {kz.KZ_IBAN_LENGTH} characters"]
        elif "bic" not in errors and not kz.bic_matches_iban(iban, bic):
            known = kz.bank_bic(iban)
            errors["bic"] = [f"the IBAN's bank code {iban[4:7]} is the bank {known}, not {bic}"
                             if known else f"no Kazakh bank has the code {iban[4:7]}"]
        if not holder_name:
            errors["holder_name"] = ["the account holder's legal name, as the bank has it"]
        if not iin_bin or not kz.iin_bin_is_valid(iin_bin):
            errors["iin_bin"] = ["12 digits with a valid check digit (IIN or BIN)"]
        if not kbe or not kz.kbe_is_valid(kbe):
            errors["kbe"] = ["two digits: residency 1 or 2, then the sector 1 to 9"]
    if errors:
        raise ValidationFailed("The bank account is not valid.", errors=errors,
                               code=PayoutError.BANK_ACCOUNT_INVALID)
    profile.payout_iban, profile.payout_bic = iban, bic
    profile.payout_holder_name, profile.payout_iin_bin, profile.payout_kbe = (
        holder_name, iin_bin, kbe)
    return profile


# --- figures for the console's chart -----------------------------------------------------------

def paid_out_by_month(*, today: date, months: int = 12
                      ) -> tuple[list[Month], dict[str, list[int]]]:
    """The months, and per currency the payouts the bank executed in each (minor units), by
    the month they were marked paid (UTC). One query."""
    axis = last_months(today, months)
    start, end = month_range(axis)
    year, month = func.extract("year", Payout.paid_at), func.extract("month", Payout.paid_at)
    rows = db.session.execute(
        select(year, month, Payout.currency, func.sum(Payout.amount))
        .where(Payout.status == PayoutStatus.PAID, Payout.paid_at >= start,
               Payout.paid_at < end)
        .group_by(year, month, Payout.currency)).all()
    return axis, monthly_series(axis, rows)
