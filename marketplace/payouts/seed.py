"""Demo payout accounts: each seeded workshop gets a (fictitious, well-formed) Kazakh IBAN so
that ``flask payouts run`` has someone to pay in ``make run``."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.catalog.models import ArtisanProfile
from marketplace.extensions import db
from marketplace.payouts import kz

DEMO_BANK_CODE = "601"  # Halyk Bank (the National Bank's directory, via schwifty)
DEMO_BIC = "HSBKKZKX"
DEMO_KBE = "19"  # resident individual entrepreneurs


def demo_iin(number: int) -> str:
    """A well-formed (fictitious) IIN: born 1 January 1990, serial ``number``, check digit."""
    for serial in range(number * 10, number * 10 + 10):
        first = f"9001013{serial % 10000:04d}"
        check = kz.iin_bin_check_digit(first)
        if check is not None:
            return f"{first}{check}"
    raise ValueError("no IIN")


def demo_iban(number: int) -> str:
    """A KZ IBAN (20 characters) with correct ISO 13616 check digits."""
    bban = f"{DEMO_BANK_CODE}KZT{number:010d}"
    digits = "".join(str(int(char, 36)) for char in bban + "KZ00")
    return f"KZ{98 - int(digits) % 97:02d}{bban}"


def seed_demo() -> str:
    profiles = db.session.execute(
        select(ArtisanProfile).order_by(ArtisanProfile.user_id)).scalars().all()
    added = 0
    for number, profile in enumerate(profiles, start=1):
        if not profile.payout_iban:
            profile.payout_iban, profile.payout_bic = demo_iban(number), DEMO_BIC
            profile.payout_holder_name = f"IE {profile.workshop_name}"[:140]
            profile.payout_iin_bin, profile.payout_kbe = demo_iin(number), DEMO_KBE
            added += 1
    db.session.commit()
    return f"{added} demo payout account(s), {len(profiles)} workshop(s)"
