"""FHIR search parameters Cairn supports, what each indexes, and how a query is parsed.

Each parameter is declared once, in SEARCH_PARAMETERS, with its FHIR type and its documented
semantics; the CapabilityStatement (cairn.fhir.capability) is built from these declarations.
Every match is exact, on a normalized token (NFKD, accents stripped, casefolded, whitespace
collapsed; see cairn.crypto.blind_index.normalize): a blind index can only answer "equal".
Several parameters, or one repeated, are ANDed. `_count` bounds the page (default 20, max 100).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.errors import InvalidSearch

DEFAULT_COUNT = 20
MAX_COUNT = 100
COUNT_PARAMETER = "_count"
COUNT_DOCUMENTATION = f"The page size: {DEFAULT_COUNT} by default, at most {MAX_COUNT} (more is capped)."
ANDED_DOCUMENTATION = (
    "Search parameters, several or one repeated, are combined with AND; a comma in a value is part "
    "of the value, not an OR."
)
CORE_SEARCH_PARAMETERS = "http://hl7.org/fhir/SearchParameter"
# Every parameter is answered by a blind index: exact match of normalized values, no modifiers.
EXACT_MATCH = (
    "Values are compared exactly after normalization (case, accents and repeated whitespace are "
    "ignored); modifiers such as :exact, :contains or :missing are not supported."
)
EXACT_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

Extractor = Callable[[Mapping[str, Any]], set[str]]


def _name_parts(resource: Mapping[str, Any]) -> set[str]:
    parts: set[str] = set()
    for name in resource.get("name", []):
        for part in [name.get("family"), *name.get("given", [])]:
            if isinstance(part, str) and part.strip():
                parts.add(part)
                parts.update(part.split())
    return parts


def _birthdate(resource: Mapping[str, Any]) -> set[str]:
    birth_date = resource.get("birthDate")
    return {birth_date} if isinstance(birth_date, str) else set()


def _identifiers(resource: Mapping[str, Any]) -> set[str]:
    values: set[str] = set()
    for identifier in resource.get("identifier", []):
        value = identifier.get("value")
        if not isinstance(value, str):
            continue
        values.add(value)
        if identifier.get("system"):
            values.add(f"{identifier['system']}|{value}")
    return values


def _identifier_query(raw: str) -> str:
    system, separator, value = raw.partition("|")
    if not separator:
        return raw
    return f"{system}|{value}" if system else value


@dataclass(frozen=True)
class SearchParameter:
    """A supported search parameter: how resources are indexed for it and how it is documented."""

    name: str
    indexed_values: Extractor  # what a stored resource is findable by
    type: str  # its FHIR search parameter type: string, date, token, ...
    definition: str  # canonical URL of the FHIR core SearchParameter it narrows
    documentation: str  # Cairn's semantics, published in the CapabilityStatement
    query_value: Callable[[str], str] = str  # how a query string maps onto those values
    pattern: re.Pattern[str] | None = None
    pattern_hint: str = ""


SEARCH_PARAMETERS: Mapping[str, Mapping[str, SearchParameter]] = {
    "Patient": {
        "name": SearchParameter(
            "name", _name_parts, "string", f"{CORE_SEARCH_PARAMETERS}/Patient-name",
            "Exact match on any one part of any name: a family name or a given name, whole "
            '("van der Berg") or any single word of it ("Berg"). No prefix or substring match. '
            + EXACT_MATCH,
        ),
        "birthdate": SearchParameter(
            "birthdate", _birthdate, "date", f"{CORE_SEARCH_PARAMETERS}/individual-birthdate",
            'Exact match on the birthDate as stored: "1990-04-01", or "1990-04" / "1990" when only '
            "the month or year is known. No ranges or prefixes (eq, ge, lt, ...). " + EXACT_MATCH,
            pattern=EXACT_DATE, pattern_hint="an exact date: YYYY-MM-DD, YYYY-MM or YYYY",
        ),
        "identifier": SearchParameter(
            "identifier", _identifiers, "token", f"{CORE_SEARCH_PARAMETERS}/Patient-identifier",
            'Exact match: "system|value" matches that system and value; "value" or "|value" '
            "matches the value in any system. " + EXACT_MATCH,
            _identifier_query,
        ),
    },
}


@dataclass(frozen=True)
class SearchCriterion:
    parameter: str
    value: str


@dataclass(frozen=True)
class SearchQuery:
    """A parsed search: criteria ANDed together, and the page size."""

    resource_type: str
    criteria: tuple[SearchCriterion, ...]
    count: int = DEFAULT_COUNT

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters used, sorted and without values: what the audit trail may record."""
        return tuple(sorted({criterion.parameter for criterion in self.criteria}))


def index_values(resource_type: str, resource: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each search parameter of the type, the values `resource` can be found by."""
    return {
        name: parameter.indexed_values(resource)
        for name, parameter in SEARCH_PARAMETERS.get(resource_type, {}).items()
    }


def parse_search(resource_type: str, params: Mapping[str, Sequence[str]]) -> SearchQuery:
    """A SearchQuery from query-string parameters (each name to all its values)."""
    supported = SEARCH_PARAMETERS.get(resource_type, {})
    criteria: list[SearchCriterion] = []
    count = DEFAULT_COUNT
    for name, values in params.items():
        if name == COUNT_PARAMETER:
            count = _parse_count(values)
            continue
        parameter = supported.get(name)
        if parameter is None:
            known = ", ".join([*sorted(supported), COUNT_PARAMETER])
            raise InvalidSearch(f"unknown search parameter {name!r} for {resource_type}; use one of {known}")
        for value in values:
            if not value.strip():
                raise InvalidSearch(f"search parameter {name!r} needs a value")
            if parameter.pattern is not None and not parameter.pattern.match(value):
                raise InvalidSearch(f"search parameter {name!r} takes {parameter.pattern_hint}")
            criteria.append(SearchCriterion(name, parameter.query_value(value)))
    return SearchQuery(resource_type, tuple(criteria), count)


def _parse_count(values: Sequence[str]) -> int:
    try:
        count = int(values[-1])
    except (ValueError, IndexError):
        raise InvalidSearch("_count must be a whole number") from None
    if count < 0:
        raise InvalidSearch("_count must not be negative")
    return min(count, MAX_COUNT)
