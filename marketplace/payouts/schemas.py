from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.ids import isoformat
from marketplace.payouts import rails
from marketplace.payouts.models import Payout, PayoutBatch
from marketplace.payouts.service import Balance, order_shares


class MoneyOut(BaseModel):
    amount: int
    currency: str


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=24, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class PayoutAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    iban: str = Field(min_length=15, max_length=42)  # 34 characters, with print spaces
    bic: str = Field(min_length=8, max_length=11)


class PayoutAccountOut(BaseModel):
    iban: str | None
    bic: str | None
    rail: str


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rail: Literal["bank_transfer", "stripe_connect"] = "bank_transfer"
    execution_date: date | None = None


class ExecutedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    bank_reference: str | None = Field(default=None, max_length=100)


class OrderShareOut(BaseModel):
    order_id: str | None
    sale: MoneyOut
    commission: MoneyOut
    refunded: MoneyOut
    clawed_back: MoneyOut
    net: MoneyOut


class PayoutOut(BaseModel):
    id: str
    status: str
    rail: str
    amount: MoneyOut
    commission: MoneyOut
    orders: list[OrderShareOut]
    batch_id: str
    created_at: str
    paid_at: str | None


class BalanceOut(BaseModel):
    currency: str
    pending: MoneyOut
    payable: MoneyOut


class ArtisanPayoutsOut(BaseModel):
    items: list[PayoutOut]
    next_cursor: str | None
    balances: list[BalanceOut]
    hold_days: int


class BatchFileOut(BaseModel):
    name: str
    content_type: str
    sha256: str
    url: str


class BatchOut(BaseModel):
    id: str
    rail: str
    status: str
    execution_date: str
    totals: list[MoneyOut]
    payouts: list[dict]
    files: list[BatchFileOut]
    created_at: str
    executed_at: str | None
    bank_reference: str | None


class BatchListOut(BaseModel):
    items: list[dict]
    next_cursor: str | None


class RunOut(BaseModel):
    batch: BatchOut
    skipped: list[dict]


def payout_out(payout: Payout) -> dict:
    shares = order_shares(payout.entries)
    commission = sum(share.commission for share in shares)
    return {
        "id": payout.id, "status": payout.status, "rail": payout.rail,
        "amount": payout.money.to_dict(),
        "commission": {"amount": commission, "currency": payout.currency},
        "orders": [share.to_dict() for share in shares],
        "batch_id": payout.batch_id, "created_at": isoformat(payout.created_at),
        "paid_at": isoformat(payout.paid_at),
    }


def balance_out(balance: Balance) -> dict:
    return balance.to_dict()


def _totals(batch: PayoutBatch) -> list[dict]:
    totals: dict[str, int] = {}
    for payout in batch.payouts:
        totals[payout.currency] = totals.get(payout.currency, 0) + payout.amount
    return [{"amount": amount, "currency": currency} for currency, amount in sorted(totals.items())]


def batch_summary_out(batch: PayoutBatch) -> dict:
    return {"id": batch.id, "rail": batch.rail, "status": batch.status,
            "execution_date": batch.execution_date.isoformat(), "totals": _totals(batch),
            "payout_count": len(batch.payouts), "created_at": isoformat(batch.created_at),
            "executed_at": isoformat(batch.executed_at)}


def batch_out(batch: PayoutBatch) -> dict:
    return {
        **batch_summary_out(batch),
        "payouts": [{"id": p.id, "artisan_id": p.artisan_id, "amount": p.money.to_dict(),
                     "beneficiary_name": p.beneficiary_name, "iban": p.iban, "bic": p.bic,
                     "status": p.status} for p in batch.payouts],
        "files": [{"name": f.name, "content_type": f.content_type, "sha256": f.sha256,
                   "url": f"/api/v1/operator/payouts/batches/{batch.id}/files/{f.name}"}
                  for f in batch.files],
        "bank_reference": batch.bank_reference,
    }


def account_out(profile) -> dict:
    return {"iban": profile.payout_iban, "bic": profile.payout_bic, "rail": rails.BANK_TRANSFER}
