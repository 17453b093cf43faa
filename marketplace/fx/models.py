from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.ids import utcnow


class FxRate(db.Model):
    """Units of ``currency`` per one US dollar (a decimal string, never a float).

    ``override`` set by an operator wins over ``rate`` from the source until cleared.
    """

    __tablename__ = "fx_rate"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime]
    override: Mapped[str | None] = mapped_column(String(40))
    override_by: Mapped[str | None] = mapped_column(String(26))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FxRateHistory(db.Model):
    """The source's rate of ``currency`` per US dollar as published for ``day`` (the source's
    own date, not the day we fetched it): what a tax return converts at when the law names a
    day (the ECB rate of a period's last day). Every ``fx refresh`` records its day; operator
    overrides are never recorded here."""

    __tablename__ = "fx_rate_history"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
