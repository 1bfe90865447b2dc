"""X12 amounts, quantities and dates, exactly: money is whole cents through Decimal, never float."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from cairn.claims.x12.errors import MalformedX12
from cairn.claims.x12.segments import Segment

_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)")


def dollars(cents: int) -> str:
    """An amount (X12 type R) in dollars: no trailing zeros after the point, no point for whole dollars."""
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    whole, part = divmod(cents, 100)
    return f"{sign}{whole}" if part == 0 else f"{sign}{whole}.{part:02d}".rstrip("0")


def _decimal(segment: Segment, number: int, what: str) -> Decimal | None:
    value = segment.element(number).strip()
    if not value:
        return None
    if not _NUMBER.fullmatch(value):
        raise MalformedX12(f"{segment.id}{number:02d} ({what}) in {segment.where} is not a number")
    return Decimal(value)


def cents(segment: Segment, number: int, what: str, *, required: bool = True) -> int:
    """Element XXnn of `segment` as whole cents; MalformedX12 if it is required and missing, not a
    number, or finer than a cent. An optional missing amount is 0."""
    amount = _decimal(segment, number, what)
    if amount is None:
        if required:
            raise MalformedX12(f"{segment.id}{number:02d} ({what}) is missing in {segment.where}")
        return 0
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise MalformedX12(f"{segment.id}{number:02d} ({what}) in {segment.where} has more than two decimals")
    return int(scaled)


def quantity(segment: Segment, number: int, what: str, default: int) -> int:
    """A quantity (units, minutes) rounded to a whole number; `default` where it is not sent."""
    amount = _decimal(segment, number, what)
    return default if amount is None else int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def d8(day: date) -> str:
    """A date as X12 CCYYMMDD."""
    return day.strftime("%Y%m%d")


def read_d8(segment: Segment, number: int, what: str) -> date:
    """Element XXnn as a CCYYMMDD date; MalformedX12 if it is missing or not a calendar date."""
    value = segment.element(number).strip()
    if not value:
        raise MalformedX12(f"{segment.id}{number:02d} ({what}) is missing in {segment.where}")
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise MalformedX12(
            f"{segment.id}{number:02d} ({what}) in {segment.where} is not a date (CCYYMMDD)"
        ) from None
