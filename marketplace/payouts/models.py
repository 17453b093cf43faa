"""Artisans' money: a ledger per artisan, payouts that settle it, and the batches (with their
bank files) that a rail turns them into."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.ids import new_id, utcnow
from marketplace.money import Money


class EntryKind(StrEnum):
    SALE = "sale"  # + the artisan's lines at listing price
    COMMISSION = "commission"  # - the platform's share of the sale
    REFUND = "refund"  # - the artisan's share of a refund made before payout
    COMMISSION_REFUND = "commission_refund"  # + the commission on refunded money
    CLAWBACK = "clawback"  # - a refund after payout: nets against the next payout
    REFUND_REVERSAL = "refund_reversal"  # a refund the bank failed: its entry taken back
    PAYOUT = "payout"  # - money sent to the artisan


class PayoutStatus(StrEnum):
    PENDING = "pending"  # in a batch the bank has not executed yet
    PAID = "paid"


class BatchStatus(StrEnum):
    READY = "ready"  # files written, waiting for the operator to execute them at the bank
    EXECUTED = "executed"


class LedgerEntry(db.Model):
    """One money movement for one artisan; the balance is the sum, never a stored figure.

    ``reference`` (an order or a refund, with the currency) makes recording the same movement
    twice impossible. ``after_delivery`` entries wait for the artisan's parcel to be delivered
    plus the hold period; the others (clawbacks) count at the next payout run.
    """

    __tablename__ = "payout_ledger_entry"
    __table_args__ = (
        UniqueConstraint("artisan_id", "kind", "reference"),
        Index("ix_payout_ledger_entry_open", "artisan_id", "payout_id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("order.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed minor units
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(80))
    after_delivery: Mapped[bool] = mapped_column(default=True)
    commission_bps: Mapped[int | None] = mapped_column(Integer)
    payout_id: Mapped[str | None] = mapped_column(ForeignKey("payout.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class PayoutBatch(db.Model):
    """One payout run on one rail: the files the operator takes to the bank."""

    __tablename__ = "payout_batch"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    rail: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.READY)
    execution_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by: Mapped[str | None] = mapped_column(String(26))
    executed_at: Mapped[datetime | None]
    executed_by: Mapped[str | None] = mapped_column(String(26))
    bank_reference: Mapped[str | None] = mapped_column(String(100))

    payouts: Mapped[list[Payout]] = relationship(back_populates="batch",
                                                 order_by="Payout.id")
    files: Mapped[list[PayoutFile]] = relationship(order_by="PayoutFile.name")


class Payout(db.Model):
    """Money sent to one artisan in one currency; the account is a snapshot of the profile."""

    __tablename__ = "payout"
    __table_args__ = (Index("ix_payout_artisan_created", "artisan_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    artisan_id: Mapped[str] = mapped_column(ForeignKey("user.id"))
    batch_id: Mapped[str] = mapped_column(ForeignKey("payout_batch.id"), index=True)
    rail: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=PayoutStatus.PENDING)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    beneficiary_name: Mapped[str] = mapped_column(String(140))
    beneficiary_country: Mapped[str] = mapped_column(String(2))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11))
    beneficiary_iin_bin: Mapped[str | None] = mapped_column(String(12))
    beneficiary_kbe: Mapped[str | None] = mapped_column(String(2))
    knp: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]

    batch: Mapped[PayoutBatch] = relationship(back_populates="payouts")
    entries: Mapped[list[LedgerEntry]] = relationship(order_by="LedgerEntry.created_at")

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class PayoutFile(db.Model):
    """A file a rail wrote for a batch (kept in the database: web and workers may be on
    different hosts)."""

    __tablename__ = "payout_file"
    __table_args__ = (UniqueConstraint("batch_id", "name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(ForeignKey("payout_batch.id"))
    name: Mapped[str] = mapped_column(String(100))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
