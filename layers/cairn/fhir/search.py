"""FHIR search over the whole chart: a query string parsed into criteria, and the in-memory check.

The parameters themselves (what each type is findable by, and their documentation) are declared
in cairn.fhir.search_parameters and re-exported here. A query is parsed into criteria holding the
same normal forms a resource is indexed by, so `SearchCriterion.matches` (in memory) and the blind
index the planner queries (cairn.records.dynamodb) give the same answer. Several parameters, or
one repeated, AND; a comma inside one value ORs. Messages never repeat a submitted value (it may
be PHI): they name the parameter and say what it takes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cairn.crypto.blind_index import normalize
from cairn.errors import InvalidSearch
from cairn.fhir.resource_types import PATIENT, STORED_TYPES
from cairn.fhir.search_parameters import (
    DATE_FORM,
    EXACT_DATE,
    ID_PARAMETER,
    SEARCH_PARAMETERS,
    TIMELINE,
    DateRange,
    ParameterType,
    SearchParameter,
    date_range,
    reference_forms,
)

__all__ = [
    "ANDED_DOCUMENTATION", "CONTROL_PARAMETERS", "COUNT_DOCUMENTATION", "COUNT_PARAMETER",
    "CURSOR_PARAMETER", "DEFAULT_COUNT", "MAX_COUNT", "SEARCH_PARAMETERS", "TIMELINE", "DateComparison",
    "DateRange", "Include", "ParameterType", "SearchCriterion", "SearchParameter", "SearchQuery",
    "SortKey", "compartment_criterion", "date_values", "index_values", "parse_search", "timeline_start",
]

DEFAULT_COUNT = 20
MAX_COUNT = 100
COUNT_PARAMETER = "_count"
CURSOR_PARAMETER = "_cursor"
SORT_PARAMETER = "_sort"
INCLUDE_PARAMETER = "_include"
REVINCLUDE_PARAMETER = "_revinclude"
TOTAL_PARAMETER = "_total"
COUNT_DOCUMENTATION = (
    f"The page size: {DEFAULT_COUNT} by default, at most {MAX_COUNT} (more is capped); 0 is allowed."
)
ANDED_DOCUMENTATION = (
    "Search parameters, several or one repeated, are combined with AND; comma-separated values of one "
    "parameter are alternatives, combined with OR (write a literal comma as \\,). Modifiers other than "
    "a reference's :Type (:exact, :contains, :missing, :not, :text, ...) are not supported."
)
CONTROL_PARAMETERS: Mapping[str, str] = {
    COUNT_PARAMETER: COUNT_DOCUMENTATION,
    SORT_PARAMETER: (
        "Comma-separated sort keys, each optionally prefixed by '-' for descending: _id, _lastUpdated "
        "or a date parameter of the type."
    ),
    INCLUDE_PARAMETER: (
        "SourceType:parameter[:TargetType] with SourceType the searched type and parameter one of its "
        "reference parameters: adds the resources it points to. '*' is not supported."
    ),
    REVINCLUDE_PARAMETER: (
        "SourceType:parameter[:TargetType] with parameter a reference parameter of SourceType that can "
        "point to the searched type: adds the resources pointing to the matches. '*' is not supported."
    ),
    CURSOR_PARAMETER: "The opaque page token of a searchset's next link; send it back unchanged.",
    TOTAL_PARAMETER: "Accepted and ignored: Cairn decides whether a searchset states Bundle.total.",
}
SUPPORTED_PREFIXES = ("eq", "lt", "le", "gt", "ge")
FHIR_PREFIXES = (*SUPPORTED_PREFIXES, "ne", "sa", "eb", "ap")
PREFIX_HINT = ", ".join(SUPPORTED_PREFIXES)
# Sort before / after every "YYYY-MM-DDTHH:MM:SSZ" stamp: the bounds of lt 0001 and gt 9999.
BEFORE_ALL_TIME = "0000-12-31T23:59:59Z"
AFTER_ALL_TIME = "9999-12-31T23:59:60Z"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
NAME_LIKE = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def _shown(name: str) -> str:
    """A submitted parameter name fit for a message: quoted if it looks like one, else withheld."""
    return repr(name) if NAME_LIKE.fullmatch(name) else "a parameter"


@dataclass(frozen=True)
class DateComparison:
    """A date query value: its prefix and the range its precision covers (2024 -> the whole year).

    Cairn compares the START of a resource's date or period: eq = the start lies within the
    range; lt/ge compare it with the range's start, le/gt with its end.
    """

    prefix: str
    range: DateRange

    def __post_init__(self) -> None:
        if self.prefix not in SUPPORTED_PREFIXES:
            raise InvalidSearch(f"date prefixes supported are {PREFIX_HINT}")

    def key_bounds(self) -> tuple[str | None, str | None]:
        """Inclusive bounds on a resource range's start that can match (None = open)."""
        if self.prefix == "eq":
            return self.range.start, self.range.end
        if self.prefix == "lt":
            return None, _shift(self.range.start, -1, BEFORE_ALL_TIME)
        if self.prefix == "le":
            return None, self.range.end
        if self.prefix == "gt":
            return _shift(self.range.end, 1, AFTER_ALL_TIME), None
        return self.range.start, None

    def matches(self, ranges: list[DateRange]) -> bool:
        low, high = self.key_bounds()
        return any((low is None or r.start >= low) and (high is None or r.start <= high) for r in ranges)

    def query_value(self) -> str:
        """The comparison in FHIR syntax, at the precision it was given."""
        return ("" if self.prefix == "eq" else self.prefix) + _precise_text(self.range)


def _shift(stamp: str, seconds: int, beyond: str) -> str:
    try:
        return (datetime.strptime(stamp, STAMP) + timedelta(seconds=seconds)).strftime(STAMP)
    except OverflowError:
        return beyond


def _precise_text(covered: DateRange) -> str:
    """The shortest FHIR date or dateTime covering exactly `covered` (ranges come from date_range)."""
    start = covered.start
    for width in (4, 7, 10):
        text = start[:width]
        if date_range(text) == covered:
            return text
    minute = f"{start[:16]}Z"
    return minute if date_range(minute) == covered else start


@dataclass(frozen=True)
class SearchCriterion:
    """One search parameter's condition; its values are alternatives (OR)."""

    parameter: str
    type: ParameterType
    values: tuple[str, ...] = ()
    date: DateComparison | None = None

    def matches(self, resource: Mapping[str, Any]) -> bool:
        """Whether `resource` meets the criterion, with the same semantics as the index."""
        resource_type = resource.get("resourceType")
        declared = SEARCH_PARAMETERS.get(resource_type, {}) if isinstance(resource_type, str) else {}
        parameter = declared.get(self.parameter)
        if parameter is None:
            return False
        if self.type is ParameterType.DATE and not parameter.blind:
            return self.date is not None and self.date.matches(parameter.ranges(resource))
        return not parameter.values(resource).isdisjoint(self.values)

    def query_value(self) -> str:
        if self.date is not None:
            return self.date.query_value()
        return ",".join(value.replace(",", "\\,") for value in self.values)


@dataclass(frozen=True)
class SortKey:
    parameter: str  # "_lastUpdated", "_id" or a DATE parameter of the type
    descending: bool


@dataclass(frozen=True)
class Include:
    source_type: str
    parameter: str
    target_type: str | None

    def query_value(self) -> str:
        return ":".join(p for p in (self.source_type, self.parameter, self.target_type) if p)


@dataclass(frozen=True)
class SearchQuery:
    """A parsed search: criteria ANDed, page size, order, includes and the paging cursor."""

    resource_type: str
    criteria: tuple[SearchCriterion, ...] = ()
    count: int = DEFAULT_COUNT
    sort: tuple[SortKey, ...] = ()
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    cursor: str | None = None
    ignored: tuple[str, ...] = ()

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters used, sorted and without values: what the audit trail may record."""
        controls = {SORT_PARAMETER: self.sort, INCLUDE_PARAMETER: self.includes,
                    REVINCLUDE_PARAMETER: self.revincludes}
        used = {c.parameter for c in self.criteria} | {name for name, given in controls.items() if given}
        return tuple(sorted(used))

    def with_cursor(self, cursor: str | None) -> SearchQuery:
        return dataclasses.replace(self, cursor=cursor)

    def query_params(self) -> list[tuple[str, str]]:
        """The query in FHIR syntax, for a searchset's self and next links (no _cursor, nothing ignored)."""
        params = [(c.parameter, c.query_value()) for c in self.criteria]
        if self.sort:
            keys = [("-" if key.descending else "") + key.parameter for key in self.sort]
            params.append((SORT_PARAMETER, ",".join(keys)))
        params += [(INCLUDE_PARAMETER, include.query_value()) for include in self.includes]
        params += [(REVINCLUDE_PARAMETER, include.query_value()) for include in self.revincludes]
        params.append((COUNT_PARAMETER, str(self.count)))
        return params


# ---- parsing ----------------------------------------------------------------------------------


def parse_search(
    resource_type: str, params: Mapping[str, Sequence[str]], *, lenient: bool = False
) -> SearchQuery:
    """A SearchQuery from query-string parameters (each name to all its values).

    Unknown parameters and unsupported modifiers raise InvalidSearch, or under `lenient`
    (FHIR's Prefer: handling=lenient) are dropped and named in `ignored`.
    """
    declared = SEARCH_PARAMETERS.get(resource_type)
    if declared is None:
        supported = ", ".join(STORED_TYPES)
        raise InvalidSearch(f"{_shown(resource_type)} cannot be searched; search one of {supported}")
    criteria: list[SearchCriterion] = []
    ignored: list[str] = []
    query = SearchQuery(resource_type)
    for name, values in params.items():
        if not values or any(not value.strip() for value in values):
            raise InvalidSearch(f"search parameter {_shown(name)} needs a value")
        if name in CONTROL_PARAMETERS:
            query = _control(query, name, values)
            continue
        base, _, modifier = name.partition(":")
        parameter = declared.get(base)
        if parameter is None or (modifier and not _is_type_modifier(parameter, modifier)):
            if lenient:
                ignored.append(name)
                continue
            if parameter is None:
                known = ", ".join([*sorted(declared), *CONTROL_PARAMETERS])
                raise InvalidSearch(
                    f"unknown search parameter {_shown(name)} for {resource_type}; use one of {known}"
                )
            raise InvalidSearch(
                f"search parameter {_shown(name)}: modifiers are not supported (only a reference's :Type, "
                "as in subject:Patient); search without the modifier"
            )
        criteria += [_criterion(parameter, modifier, value) for value in values]
    return dataclasses.replace(query, criteria=tuple(criteria), ignored=tuple(ignored))


def _is_type_modifier(parameter: SearchParameter, modifier: str) -> bool:
    return parameter.type is ParameterType.REFERENCE and modifier[:1].isupper() and modifier.isalpha()


def _alternatives(value: str) -> list[str]:
    return [part.replace("\\,", ",") for part in UNESCAPED_COMMA.split(value)]


def _criterion(parameter: SearchParameter, modifier: str, value: str) -> SearchCriterion:
    name = parameter.name
    if parameter.type is ParameterType.DATE:
        return _date_criterion(parameter, value)
    alternatives = _alternatives(value)
    if any(not alternative.strip() for alternative in alternatives):
        raise InvalidSearch(f"search parameter {name!r} has an empty alternative between commas")
    if parameter.type is ParameterType.REFERENCE:
        forms = [form for alt in alternatives for form in _reference_query(parameter, modifier, alt)]
    elif name == ID_PARAMETER:
        forms = [alternative.strip() for alternative in alternatives]
    else:
        forms = [normalize(alternative) for alternative in alternatives]
    return SearchCriterion(name, parameter.type, tuple(dict.fromkeys(forms)))


def _reference_query(parameter: SearchParameter, modifier: str, value: str) -> list[str]:
    targets = parameter.targets
    if modifier:
        if modifier not in targets:
            raise InvalidSearch(f"{parameter.name!r} can point to {', '.join(targets)}; use one as :Type")
        targets = (modifier,)
    if "/" not in value:
        return [normalize(f"{target}/{value.strip()}") for target in targets]
    forms = sorted(reference_forms(value.strip(), targets, canonical=True))
    if not forms:
        raise InvalidSearch(
            f"{parameter.name!r} takes an id, or Type/id with Type one of {', '.join(targets)}"
        )
    return forms


def _date_criterion(parameter: SearchParameter, value: str) -> SearchCriterion:
    name = parameter.name
    text = value.strip()
    prefix = "eq"
    if text[:2] in FHIR_PREFIXES:
        prefix, text = text[:2], text[2:]
    if prefix not in SUPPORTED_PREFIXES:
        raise InvalidSearch(f"{name!r}: date prefixes supported are {PREFIX_HINT}")
    if "," in text:
        raise InvalidSearch(f"{name!r} takes one date per value; repeat the parameter to combine dates (AND)")
    if parameter.blind:
        if prefix != "eq" or not EXACT_DATE.fullmatch(text):
            raise InvalidSearch(f"{name!r} takes an exact date, YYYY-MM-DD, YYYY-MM or YYYY, no prefix")
        covered = date_range(text)
        if covered is None:
            raise InvalidSearch(f"{name!r} takes a real calendar date: YYYY-MM-DD, YYYY-MM or YYYY")
        return SearchCriterion(name, ParameterType.DATE, (normalize(text),), DateComparison("eq", covered))
    covered = date_range(text)
    if covered is None:
        raise InvalidSearch(f"{name!r} takes {DATE_FORM}, optionally prefixed by {PREFIX_HINT} (ge2024-01)")
    return SearchCriterion(name, ParameterType.DATE, date=DateComparison(prefix, covered))


def _control(query: SearchQuery, name: str, values: Sequence[str]) -> SearchQuery:
    if name == COUNT_PARAMETER:
        return dataclasses.replace(query, count=_count(values[-1]))
    if name == CURSOR_PARAMETER:
        return dataclasses.replace(query, cursor=values[-1])
    if name == SORT_PARAMETER:
        keys = [_sort_key(query.resource_type, key) for value in values for key in value.split(",")]
        return dataclasses.replace(query, sort=tuple(keys))
    if name == INCLUDE_PARAMETER:
        return dataclasses.replace(query, includes=tuple(_include(query.resource_type, v) for v in values))
    if name == REVINCLUDE_PARAMETER:
        revincludes = tuple(_revinclude(query.resource_type, v) for v in values)
        return dataclasses.replace(query, revincludes=revincludes)
    return query  # _total: accepted, ignored


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise InvalidSearch("_count must be a whole number") from None
    if count < 0:
        raise InvalidSearch("_count must not be negative")
    return min(count, MAX_COUNT)


def sortable(resource_type: str) -> tuple[str, ...]:
    """What `_sort` accepts for a type: _id, _lastUpdated and its (non-blind) date parameters."""
    dates = [p.name for p in SEARCH_PARAMETERS[resource_type].values()
             if p.type is ParameterType.DATE and not p.blind and p.name != "_lastUpdated"]
    return (ID_PARAMETER, "_lastUpdated", *dates)


def _sort_key(resource_type: str, key: str) -> SortKey:
    key = key.strip()
    descending = key.startswith("-")
    parameter = key.removeprefix("-")
    if parameter not in sortable(resource_type):
        raise InvalidSearch(
            f"_sort takes comma-separated keys, each optionally prefixed by '-': "
            f"{', '.join(sortable(resource_type))}"
        )
    return SortKey(parameter, descending)


def _include_parts(control: str, value: str) -> tuple[str, SearchParameter, str | None]:
    parts = value.split(":")
    form = f"{control} takes SourceType:parameter or SourceType:parameter:TargetType"
    if "*" in parts:
        raise InvalidSearch(f"{control}=* is not supported; name the reference parameter ({form})")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidSearch(form)
    source, name, target = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    parameter = SEARCH_PARAMETERS.get(source, {}).get(name)
    if parameter is None or parameter.type is not ParameterType.REFERENCE:
        raise InvalidSearch(f"{form}, with parameter a reference search parameter of SourceType")
    if target is not None and target not in parameter.targets:
        raise InvalidSearch(f"{control}: {source}:{name} can point to {', '.join(parameter.targets)}")
    return source, parameter, target


def _include(resource_type: str, value: str) -> Include:
    source, parameter, target = _include_parts(INCLUDE_PARAMETER, value)
    if source != resource_type:
        raise InvalidSearch(f"_include must start with the searched type, {resource_type}")
    return Include(source, parameter.name, target)


def _revinclude(resource_type: str, value: str) -> Include:
    source, parameter, target = _include_parts(REVINCLUDE_PARAMETER, value)
    if resource_type not in parameter.targets or target not in (None, resource_type):
        raise InvalidSearch(f"_revinclude: {source}:{parameter.name} cannot point to {resource_type}")
    return Include(source, parameter.name, target)


# ---- what a resource is findable by -----------------------------------------------------------


def index_values(resource_type: str, resource: Mapping[str, Any]) -> dict[str, set[str]]:
    """Every TOKEN/STRING/REFERENCE parameter of the type -> the normal forms `resource` has.

    Blind DATE parameters (birthdate) are here too, as their YYYY / YYYY-MM / YYYY-MM-DD tokens,
    and never in date_values: a plaintext range index would expose them.
    """
    return {
        name: parameter.values(resource)
        for name, parameter in SEARCH_PARAMETERS.get(resource_type, {}).items()
        if parameter.type is not ParameterType.DATE or parameter.blind
    }


def date_values(resource_type: str, resource: Mapping[str, Any]) -> dict[str, list[DateRange]]:
    """Every (non-blind) DATE parameter of the type -> the UTC ranges of `resource`."""
    return {
        name: parameter.ranges(resource)
        for name, parameter in SEARCH_PARAMETERS.get(resource_type, {}).items()
        if parameter.type is ParameterType.DATE and not parameter.blind
    }


def timeline_start(resource_type: str, resource: Mapping[str, Any]) -> str | None:
    """When the resource starts on the clinical timeline (earliest start of its TIMELINE date)."""
    name = TIMELINE.get(resource_type)
    if name is None:
        return None
    ranges = SEARCH_PARAMETERS[resource_type][name].ranges(resource)
    return min((r.start for r in ranges), default=None)


def compartment_criterion(resource_type: str, patient_id: str) -> SearchCriterion:
    """The criterion selecting one patient's resources of a type (for Patient itself: its _id)."""
    if resource_type == PATIENT:
        return SearchCriterion(ID_PARAMETER, ParameterType.TOKEN, (patient_id,))
    if "patient" not in SEARCH_PARAMETERS.get(resource_type, {}):
        raise InvalidSearch(f"{_shown(resource_type)} resources are not in a patient's compartment")
    return SearchCriterion("patient", ParameterType.REFERENCE, (normalize(f"{PATIENT}/{patient_id}"),))
