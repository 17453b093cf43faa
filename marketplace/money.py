"""Money: integer minor units plus an ISO 4217 code. No floats, ever.

Conversion between currencies multiplies by a ``Decimal`` rate and rounds half-up exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor-unit exponents for every currency we list, present or settle in.
EXPONENTS: dict[str, int] = {
    "KZT": 2, "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "TRY": 2, "AED": 2, "RUB": 2,
    "CHF": 2, "CAD": 2, "AUD": 2, "SGD": 2, "HKD": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "PLN": 2, "CZK": 2, "UZS": 2, "KGS": 2, "INR": 2,
    "NZD": 2, "HUF": 2, "RON": 2, "ILS": 2, "BYN": 2, "AMD": 2,
    "JPY": 0, "KRW": 0,
    "KWD": 3, "BHD": 3,
}

# What buyers may see and pay in (Stripe supports each of these as presentment currency).
PRESENTMENT_CURRENCIES: tuple[str, ...] = (
    "USD", "EUR", "GBP", "KZT", "CNY", "JPY", "KRW", "TRY", "AED", "RUB", "CHF", "CAD", "AUD",
    # every destination's own currency (data/tax/destinations.json)
    "NZD", "NOK", "SEK", "DKK", "PLN", "CZK", "HUF", "RON", "SGD", "ILS", "BYN", "AMD", "KGS",
)
LISTING_CURRENCIES: tuple[str, ...] = ("KZT", "USD", "EUR")

MAX_AMOUNT = 10**12  # a sanity bound for any single amount in minor units


class CurrencyError(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise CurrencyError(f"unsupported currency {currency!r}") from None


def round_half_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _exact(value, what: str) -> Decimal:
    # A float has already been rounded to binary; accepting one would hide a lost minor unit.
    if isinstance(value, float | bool) or not isinstance(value, int | str | Decimal):
        raise TypeError(f"{what} must be a Decimal, int or decimal string, got {value!r}")
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self):
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"Money amount must be int minor units, got {self.amount!r}")
        exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_major(cls, value: str | int | Decimal, currency: str) -> Money:
        """Parse a major-unit amount such as "12.50" exactly; rejects sub-minor precision."""
        minor = _exact(value, "an amount") * (Decimal(10) ** exponent(currency))
        if not minor.is_finite() or minor != minor.to_integral_value():
            raise CurrencyError(f"{value} has more decimals than {currency} allows")
        return cls(int(minor), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an integer")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def major(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def apply_rate(self, rate: Decimal) -> Money:
        """Multiply by a ratio in the same currency (a duty or tax rate), rounding half-up once."""
        return Money(round_half_up(Decimal(self.amount) * _exact(rate, "a rate")),
                     self.currency)

    def convert(self, currency: str, rate: Decimal) -> Money:
        """Convert with ``rate`` = units of ``currency`` per one unit of ``self.currency``."""
        shift = exponent(currency) - exponent(self.currency)
        exact = Decimal(self.amount) * _exact(rate, "a rate") * (Decimal(10) ** shift)
        return Money(round_half_up(exact), currency)

    def price_in(self, currency: str, rate: Decimal) -> Money:
        """A price shown and charged in ``currency``: converted once (half-up) and never less than
        one minor unit, so that no priced piece is ever free in another currency."""
        converted = self.convert(currency, rate)
        if self.amount > 0 and converted.amount < 1:
            return Money(1, currency)
        return converted

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` that add up exactly (largest remainder)."""
        total = sum(weights)
        if total <= 0 or any(w < 0 for w in weights):
            raise ValueError("weights must be non-negative and not all zero")
        shares = [self.amount * w // total for w in weights]
        remainders = sorted(
            range(len(weights)), key=lambda i: (-(self.amount * weights[i] % total), i)
        )
        for i in remainders[: self.amount - sum(shares)]:
            shares[i] += 1
        return [Money(s, self.currency) for s in shares]

    def to_dict(self) -> dict:
        return {"amount": self.amount, "currency": self.currency}

    def format(self) -> str:
        return f"{self.major:,.{exponent(self.currency)}f} {self.currency}"

    def __str__(self) -> str:
        return self.format()
