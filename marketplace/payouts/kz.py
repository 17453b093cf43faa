"""What a Kazakh bank checks in a beneficiary's details before it credits a tenge transfer.

- **IIN / BIN** (ЖСН / БСН): 12 digits; the 12th is a check digit over the first 11 (Law of the
  Republic of Kazakhstan No. 223 of 12 January 2007 "On national registers of identification
  numbers", art. 1 "control bit"): the sum of digit × weight (weights 1..11) modulo 11; when that
  is 10, again with weights 3..11, 1, 2; a second 10 means the number cannot be valid.
- **КБе** (beneficiary code): two digits, the first residency (1 resident, 2 non-resident), the
  second the economic sector (1..9; 7 a private non-financial company, 9 a household /
  individual entrepreneur) — the National Bank's EKNP classifier as summarised in Clearstream's
  Kazakhstan cash-instruction notes (clearstream.com, "Other services - Kazakhstan").
- **КНП** (payment purpose code): three digits from the same classifier; the payout file uses
  ``PAYOUT_KNP``.
- **IBAN**: KZ + 2 check digits + 3-digit bank code + 13 characters, 20 in all, ISO 13616 mod-97;
  the bank code must be the bank of the BIC given. Bank codes and BICs come from schwifty's bank
  registry, which carries the National Bank's directory for KZ.
"""

from __future__ import annotations

import re

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

IIN_BIN = re.compile(r"^[0-9]{12}$")
KBE = re.compile(r"^[12][1-9]$")
KNP = re.compile(r"^[0-9]{3}$")
KZ_IBAN_LENGTH = 20
_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def iin_bin_check_digit(first_eleven: str) -> int | None:
    """The check digit of an IIN/BIN's first 11 digits; None if no digit makes it valid."""
    digits = [int(char) for char in first_eleven]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if check != 10:
            return check
    return None


def iin_bin_is_valid(value: str) -> bool:
    if not IIN_BIN.match(value or ""):
        return False
    return iin_bin_check_digit(value[:11]) == int(value[11])


def kbe_is_valid(value: str) -> bool:
    return bool(KBE.match(value or ""))


def knp_is_valid(value: str) -> bool:
    return bool(KNP.match(value or ""))


def bank_bic(iban: str) -> str | None:
    """The BIC of the bank an IBAN's bank code names (schwifty's registry), None if unknown."""
    try:
        bic = IBAN(iban).bic
    except SchwiftyException:
        return None
    return str(bic) if bic else None


def bic_matches_iban(iban: str, bic: str) -> bool:
    """The IBAN's bank code belongs to the bank of ``bic`` (branch suffix ignored)."""
    expected = bank_bic(iban)
    return expected is not None and expected[:8] == (bic or "")[:8]
