"""Kazakh identification and bank rules, checked against numbers published by others."""

from __future__ import annotations

import pytest

from marketplace.payouts import kz

# BINs the banks publish on their own sites (Halyk Bank, Kaspi Bank): a check digit that the
# algorithm of Law No. 223 must accept, and its neighbours that it must refuse.
PUBLISHED_BINS = ("940140000385", "971240001315")


@pytest.mark.parametrize("value", PUBLISHED_BINS)
def test_published_bins_hold_and_every_other_last_digit_does_not(value):
    assert kz.iin_bin_is_valid(value)
    for digit in "0123456789":
        if digit != value[-1]:
            assert not kz.iin_bin_is_valid(value[:-1] + digit)


def test_the_second_weighting_is_used_when_the_first_gives_ten():
    # find an 11-digit prefix whose first weighted sum is 10 (mod 11) and check the fallback
    def weighted(digits: str, weights) -> int:
        return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11

    prefix = next(f"{n:011d}" for n in range(10**10, 10**10 + 10_000)
                  if weighted(f"{n:011d}", range(1, 12)) == 10)
    second = weighted(prefix, (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2))
    assert kz.iin_bin_check_digit(prefix) == (None if second == 10 else second)


@pytest.mark.parametrize("value", ["", "94014000038", "9401400003850", "94014000038a"])
def test_iin_bin_is_exactly_twelve_digits(value):
    assert not kz.iin_bin_is_valid(value)


def test_the_bank_code_of_an_iban_names_its_bank():
    assert kz.bank_bic("KZ88722KZT2069100100") == "CASPKZKA"
    assert kz.bank_bic("KZ20601KZT5004100100") == "HSBKKZKX"
    assert kz.bank_bic("KZ86125KZT5004100100") == "NBRKKZKX"  # the National Bank's code
    assert kz.bic_matches_iban("KZ20601KZT5004100100", "HSBKKZKXXXX")
    assert not kz.bic_matches_iban("KZ86125KZT5004100100", "HSBKKZKX")
