from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
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
