"""Provider identifiers a claim carries: the National Provider Identifier and the employer
identification number (the billing provider's tax id)."""

from __future__ import annotations

import re

NPI_PREFIX = "80840"  # the NPI's issuer prefix: the check digit is a Luhn digit over it and the NPI
NPI_SHAPE = re.compile(r"^[12][0-9]{9}$")
EIN_SHAPE = re.compile(r"^[0-9]{2}-?[0-9]{7}$")


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of 80840 followed by the NPI's first nine digits."""
    total = 0
    for position, character in enumerate(reversed(NPI_PREFIX + first_nine)):
        digit = int(character)
        if position % 2 == 0:  # the check digit would sit left of this one: double every other
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return (10 - total % 10) % 10


def valid_npi(npi: str) -> bool:
    """Ten digits, starting 1 (a person) or 2 (an organization), whose last is the check digit."""
    return bool(NPI_SHAPE.match(npi)) and npi_check_digit(npi[:9]) == int(npi[9])


def npi_problem(npi: str) -> str | None:
    """None if `npi` is a valid NPI; otherwise what is wrong with it (never its value)."""
    if not npi:
        return "is missing"
    if not NPI_SHAPE.match(npi):
        return "must be ten digits starting with 1 or 2"
    if not valid_npi(npi):
        return "fails the NPI check digit: check it against the NPPES registry"
    return None


def normalize_ein(ein: str) -> str:
    """An EIN as an 837P carries it: nine digits (12-3456789 -> 123456789)."""
    return ein.strip().replace("-", "", 1)


def valid_ein(ein: str) -> bool:
    """Nine digits, written with or without the dash after the second (12-3456789)."""
    return bool(EIN_SHAPE.match(ein.strip()))


__all__ = ["normalize_ein", "npi_check_digit", "npi_problem", "valid_ein", "valid_npi"]
