"""Where exchange rates come from: adapters returning rates per US dollar as ``Decimal``.

Every source parses JSON numbers straight into ``Decimal`` so that no rate is ever a float.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

from marketplace.money import EXPONENTS

DEFAULT_RATES_FILE = Path(__file__).resolve().parents[2] / "data" / "fx_rates.json"


class RateSourceError(RuntimeError):
    """A rate source gave nothing usable."""


@dataclass(frozen=True)
class RateSnapshot:
    per_usd: dict[str, Decimal]  # units of each currency per one US dollar
    source: str
    as_of: datetime  # naive UTC


class RateSource(Protocol):
    def fetch(self) -> RateSnapshot: ...


def _parse_moment(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def snapshot_from_document(document: dict, default_source: str) -> RateSnapshot:
    """Read ``{"base", "rates": {CUR: rate}, "source"?, "as_of"?}`` (also the common
    ``base_code`` / ``time_last_update_unix`` spelling) and rebase it on USD."""
    if not isinstance(document, dict) or not isinstance(document.get("rates"), dict):
        raise RateSourceError("no 'rates' object in the rates document")
    base = str(document.get("base") or document.get("base_code") or "USD").upper()
    rates: dict[str, Decimal] = {}
    for code, raw in document["rates"].items():
        code = str(code).upper()
        if code not in EXPONENTS or isinstance(raw, bool | float):  # a float is already rounded
            continue
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            continue
        if value.is_finite() and value > 0:
            rates[code] = value
    rates.setdefault(base, Decimal(1))
    if "USD" not in rates:
        raise RateSourceError("the rates document has no US dollar rate")
    usd = rates["USD"]
    per_usd = {code: value / usd for code, value in rates.items()}
    as_of = _parse_moment(
        document.get("as_of") or document.get("date") or document.get("time_last_update_unix")
    )
    return RateSnapshot(
        per_usd=per_usd,
        source=str(document.get("source") or default_source)[:200],
        as_of=as_of or datetime.now(UTC).replace(tzinfo=None),
    )


class FileRateSource:
    """The offline default: the rates file shipped with the project."""

    def __init__(self, path: str | Path = DEFAULT_RATES_FILE):
        self.path = Path(path)

    def fetch(self) -> RateSnapshot:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise RateSourceError(f"cannot read {self.path}: {exc}") from exc
        return snapshot_from_document(document, default_source=f"file {self.path.name}")


class HttpJsonRateSource:
    """A JSON endpoint (set ``FX_SOURCE_URL``) answering in the same shape as the rates file."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        self.timeout = timeout

    def fetch(self) -> RateSnapshot:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                document = json.loads(response.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the open response
            raise RateSourceError(f"cannot fetch rates from {self.url}: HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise RateSourceError(f"cannot fetch rates from {self.url}: {exc}") from exc
        return snapshot_from_document(document, default_source=self.url)
