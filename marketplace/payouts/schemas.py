from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.ids import isoformat
from marketplace.payouts import rails
from marketplace.payouts.models import BatchStatus, Payout, PayoutBatch, PayoutStatus
from marketplace.payouts.service import Balance, order_shares
from marketplace.schemas import Day, MoneyOut, OutModel, Timestamp, build, dump


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=24, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class PayoutAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    iban: str = Field(min_length=15, max_length=42)  # 34 characters, with print spaces
    bic: str = Field(min_length=8, max_length=11)
    holder_name: str | None = Field(None, max_length=140,
                                    description="The holder's legal name (Kazakh accounts).")
    iin_bin: str | None = Field(None, max_length=20,
                                description="The holder's IIN or BIN (Kazakh accounts).")
    kbe: str | None = Field(None, max_length=2,
                            description="Beneficiary code КБе (Kazakh accounts).")


class PayoutAccountOut(OutModel):
    iban: str | None
    bic: str | None
    holder_name: str | None = None
    iin_bin: str | None = None
    kbe: str | None = None
    rail: Literal["bank_transfer", "stripe_connect"]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rail: Literal["bank_transfer", "stripe_connect"] = "bank_transfer"
    execution_date: date | None = None


class ExecutedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    bank_reference: str | None = Field(default=None, max_length=100)


class OrderShareOut(OutModel):
    order_id: str | None
    sale: MoneyOut
    commission: MoneyOut
    refunded: MoneyOut
    clawed_back: MoneyOut
    net: MoneyOut


class PayoutOut(OutModel):
    id: str
    status: PayoutStatus = Field(strict=False)
    rail: Literal["bank_transfer", "stripe_connect"]
    amount: MoneyOut
    commission: MoneyOut
    orders: list[OrderShareOut]
    batch_id: str
    created_at: Timestamp
    paid_at: Timestamp | None


class BalanceOut(OutModel):
    currency: str
    pending: MoneyOut
    payable: MoneyOut


class ArtisanPayoutsOut(OutModel):
    items: list[PayoutOut]
    next_cursor: str | None
    balances: list[BalanceOut] = Field(description="Per currency: not paid out yet, and of "
                                                   "that what the next run would pay.")
    hold_days: int = Field(description="Days after delivery before a sale is payable.")


class BatchFileOut(OutModel):
    name: str
    content_type: str
    sha256: str
    url: str


class BatchPayoutOut(OutModel):
    id: str
    artisan_id: str
    amount: MoneyOut
    beneficiary_name: str
    iban: str
    bic: str
    status: PayoutStatus = Field(strict=False)


class BatchSummaryOut(OutModel):
    id: str
    rail: Literal["bank_transfer", "stripe_connect"]
    status: BatchStatus = Field(strict=False)
    execution_date: Day
    totals: list[MoneyOut] = Field(description="One per currency.")
    payout_count: int
    created_at: Timestamp
    executed_at: Timestamp | None


class BatchOut(BatchSummaryOut):
    payouts: list[BatchPayoutOut]
    files: list[BatchFileOut]
    bank_reference: str | None


class BatchListOut(OutModel):
    items: list[BatchSummaryOut]
    next_cursor: str | None


class SkippedOut(OutModel):
    artisan_id: str
    amount: MoneyOut
    reason: str


class RunOut(OutModel):
    batch: BatchOut
    skipped: list[SkippedOut] = Field(description="Balances the run could not pay, and why.")


def payout_out(payout: Payout) -> dict:
    shares = order_shares(payout.entries)
    commission = sum(share.commission for share in shares)
    return build(
        PayoutOut, id=payout.id, status=payout.status, rail=payout.rail,
        amount=payout.money.to_dict(),
        commission=MoneyOut(amount=commission, currency=payout.currency),
        orders=[share.to_dict() for share in shares],
        batch_id=payout.batch_id, created_at=isoformat(payout.created_at),
        paid_at=isoformat(payout.paid_at),
    )


def balance_out(balance: Balance) -> dict:
    return dump(BalanceOut, balance.to_dict())


def _totals(batch: PayoutBatch) -> list[dict]:
    totals: dict[str, int] = {}
    for payout in batch.payouts:
        totals[payout.currency] = totals.get(payout.currency, 0) + payout.amount
    return [{"amount": amount, "currency": currency} for currency, amount in sorted(totals.items())]


def _summary_fields(batch: PayoutBatch) -> dict:
    return {"id": batch.id, "rail": batch.rail, "status": batch.status,
            "execution_date": batch.execution_date.isoformat(), "totals": _totals(batch),
            "payout_count": len(batch.payouts), "created_at": isoformat(batch.created_at),
            "executed_at": isoformat(batch.executed_at)}


def batch_summary_out(batch: PayoutBatch) -> dict:
    return build(BatchSummaryOut, **_summary_fields(batch))


def batch_out(batch: PayoutBatch) -> dict:
    return build(
        BatchOut, **_summary_fields(batch),
        payouts=[BatchPayoutOut(id=p.id, artisan_id=p.artisan_id, amount=p.money.to_dict(),
                                beneficiary_name=p.beneficiary_name, iban=p.iban, bic=p.bic,
                                status=p.status) for p in batch.payouts],
        files=[BatchFileOut(
            name=f.name, content_type=f.content_type, sha256=f.sha256,
            url=f"/api/v1/operator/payouts/batches/{batch.id}/files/{f.name}")
            for f in batch.files],
        bank_reference=batch.bank_reference,
    )


def account_out(profile) -> dict:
    return build(PayoutAccountOut, iban=profile.payout_iban, bic=profile.payout_bic,
                 holder_name=profile.payout_holder_name, iin_bin=profile.payout_iin_bin,
                 kbe=profile.payout_kbe,
                 rail=rails.BANK_TRANSFER)
