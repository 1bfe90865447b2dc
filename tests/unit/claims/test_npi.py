"""NPI check digits (Luhn over 80840 and the first nine digits) and the EIN's format."""

from __future__ import annotations

import pytest

from cairn.claims.npi import normalize_ein, npi_check_digit, npi_problem, valid_ein, valid_npi


def test_the_check_digit_of_the_cms_example_is_3() -> None:
    # CMS's worked example in "Requirements for the NPI check digit": 123456789 -> 3.
    assert npi_check_digit("123456789") == 3
    assert valid_npi("1234567893")


@pytest.mark.parametrize("npi", ["1245319599", "1003000126", "1234567893"])
def test_real_npis_pass(npi: str) -> None:
    assert valid_npi(npi)
    assert npi_problem(npi) is None


@pytest.mark.parametrize("wrong", ["1234567890", "1245319598", "1003000127"])
def test_one_wrong_digit_fails_the_check(wrong: str) -> None:
    assert not valid_npi(wrong)
    assert npi_problem(wrong) == "fails the NPI check digit: check it against the NPPES registry"


def test_a_transposition_fails_the_check() -> None:
    assert not valid_npi("1245315999")


@pytest.mark.parametrize("wrong", ["124531959", "12453195990", "3245319599", "12453l9599", " 1245319599"])
def test_an_npi_is_ten_digits_starting_with_1_or_2(wrong: str) -> None:
    assert not valid_npi(wrong)
    assert npi_problem(wrong) == "must be ten digits starting with 1 or 2"


def test_a_missing_npi_is_named_missing() -> None:
    assert npi_problem("") == "is missing"


@pytest.mark.parametrize("ein", ["12-3456789", "123456789", " 12-3456789 "])
def test_an_ein_is_nine_digits_with_or_without_its_dash(ein: str) -> None:
    assert valid_ein(ein)
    assert normalize_ein(ein) == "123456789"


@pytest.mark.parametrize("wrong", ["", "12345678", "1234567890", "123-456789", "12-34567-89", "AB-3456789"])
def test_anything_else_is_not_an_ein(wrong: str) -> None:
    assert not valid_ein(wrong)
