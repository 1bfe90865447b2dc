"""ICD-10-CM as claims need it: is a code billable, what does it mean, and if it is not billable,
what to enter instead.

The code set is a lookup built from the CMS tabular list by scripts/build_icd10_lookup.py (`make
icd10`) into cairn/claims/data/, which the Lambda layer ships. It is read on the first call of
`icd10_codes()` and kept for the process (it is the same for every tenant), never at import: a
function that does not code claims never pays for it.
"""

from __future__ import annotations

import gzip
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from cairn.errors import ConfigurationError

LOOKUP = Path(__file__).resolve().parent / "data" / "icd10cm.txt.gz"
MAGIC = "cairn-icd10cm"  # scripts/build_icd10_lookup.py writes it first
BUILD_COMMAND = "make icd10 (.venv/bin/python scripts/build_icd10_lookup.py)"
# A letter, a digit, then up to five letters or digits: the shape of every ICD-10-CM code.
SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")
EXAMPLE = "such as E11.9 or Z00.00"


class Icd10LookupMissing(ConfigurationError):
    """The ICD-10-CM lookup was never built (or is not the shape this code reads)."""


def undotted(code: str) -> str:
    """A code as an 837P carries it: upper case, no dot, no spaces (E11.9 -> E119)."""
    return code.strip().upper().replace(".", "").replace(" ", "")


def dotted(code: str) -> str:
    """A code as FHIR writes it: the dot after the third character (E119 -> E11.9, E11 -> E11)."""
    bare = undotted(code)
    return f"{bare[:3]}.{bare[3:]}" if len(bare) > 3 else bare


@dataclass(frozen=True)
class _Category:
    first: str
    last: str
    count: int
    description: str


class Icd10Codes:
    """The ICD-10-CM code set of one release: billable codes and the categories above them."""

    def __init__(self, version: str, billable: dict[str, str], categories: dict[str, str]) -> None:
        self.version = version
        self._billable = billable  # code without dot -> description
        self._categories = categories  # code without dot -> "first\tlast\tcount\tdescription"

    def __len__(self) -> int:
        return len(self._billable)

    @staticmethod
    def normalize(code: str) -> str:
        """Upper case, trimmed, the dot after the third character: " e119 " and "E1.19" -> "E11.9"."""
        return dotted(code)

    def billable(self, code: str) -> bool:
        """A code a claim may carry: a leaf of the tabular list (wherever its dot was written)."""
        return undotted(code) in self._billable

    def describe(self, code: str) -> str | None:
        """The code's description (a category's too); None if it is not in ICD-10-CM."""
        bare = undotted(code)
        found = self._billable.get(bare)
        if found is not None:
            return found
        category = self._category(bare)
        return category.description if category else None

    def problem(self, code: str) -> str | None:
        """None if `code` is billable; otherwise what is wrong with it and what to enter instead."""
        bare = undotted(code)
        if bare in self._billable:
            return None
        if not bare:
            return f"is empty: enter an ICD-10-CM code {EXAMPLE}"
        shown = dotted(bare)
        if not SHAPE.match(bare):
            return (
                f"{shown} is not an ICD-10-CM code: a code is a letter, a digit, a letter or digit, "
                f"then up to four more after a dot ({EXAMPLE})"
            )
        category = self._category(bare)
        if category is not None:
            kind = "category" if len(bare) == 3 else "subcategory"
            return f"{shown} is a {kind} ({category.description}), not a billable code: " + _choices(category)
        for length in range(len(bare) - 1, 2, -1):
            billable = self._billable.get(bare[:length])
            if billable is not None:
                prefix = dotted(bare[:length])
                return f"{shown} is not in {self.version}: {prefix} ({billable}) is billable as it is"
            parent = self._category(bare[:length])
            if parent is not None:
                under = f"{dotted(bare[:length])} ({parent.description})"
                return f"{shown} is not in {self.version}: " + _choices(parent, under)
        return f"{shown} is not in {self.version}: check the code ({EXAMPLE})"

    def _category(self, bare: str) -> _Category | None:
        row = self._categories.get(bare)
        if row is None:
            return None
        first, last, count, description = row.split("\t", 3)
        return _Category(first, last, int(count), description)


def _choices(category: _Category, under: str = "it") -> str:
    if category.count == 1:
        return f"the billable code under {under} is {dotted(category.first)}"
    return (
        f"choose the most specific of the {category.count:,} billable codes under {under}, "
        f"{dotted(category.first)} to {dotted(category.last)}"
    )


def load(path: Path = LOOKUP) -> Icd10Codes:
    """Reads a lookup written by scripts/build_icd10_lookup.py."""
    try:
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    except FileNotFoundError:
        raise Icd10LookupMissing(
            f"the ICD-10-CM lookup {path} is missing: build it with {BUILD_COMMAND}"
        ) from None
    header = lines[0].split("\t")
    if len(header) != 4 or header[0] != MAGIC:
        raise Icd10LookupMissing(
            f"{path} is not an ICD-10-CM lookup Cairn reads: rebuild it with {BUILD_COMMAND}"
        )
    version, billable, categories = header[1], int(header[2]), int(header[3])
    codes_end = 1 + billable
    categories_end = codes_end + billable + categories
    return Icd10Codes(
        version,
        dict(zip(lines[1:codes_end], lines[codes_end : codes_end + billable], strict=True)),
        dict(
            zip(
                lines[codes_end + billable : categories_end],
                lines[categories_end : categories_end + categories],
                strict=True,
            )
        ),
    )


_loaded: list[Icd10Codes] = []
_loading = threading.Lock()


def icd10_codes() -> Icd10Codes:
    """The ICD-10-CM code set, read on the first call and kept for the process (all tenants share
    it: it is public reference data, the same for every clinic)."""
    if not _loaded:
        with _loading:
            if not _loaded:
                _loaded.append(load())
    return _loaded[0]


__all__ = ["Icd10Codes", "Icd10LookupMissing", "dotted", "icd10_codes", "load", "undotted"]
