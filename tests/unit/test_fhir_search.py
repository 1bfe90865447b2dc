"""Search parameter parsing and what a Patient is findable by."""

from __future__ import annotations

import pytest

from cairn.errors import InvalidSearch
from cairn.fhir.search import MAX_COUNT, SearchCriterion, index_values, parse_search

PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "van der Berg", "given": ["Anna", "Maria"]}],
    "birthDate": "1990-04-01",
    "identifier": [{"system": "urn:mrn", "value": "M-1"}, {"value": "X-9"}],
}


def test_patient_is_findable_by_each_name_part_whole_or_by_word():
    assert index_values("Patient", PATIENT)["name"] == {"van der Berg", "van", "der", "Berg", "Anna", "Maria"}


def test_patient_is_findable_by_identifier_with_and_without_system():
    assert index_values("Patient", PATIENT)["identifier"] == {"urn:mrn|M-1", "M-1", "X-9"}


def test_parse_ands_repeated_and_combined_parameters_and_bounds_count():
    query = parse_search(
        "Patient", {"name": ["Anna", "Berg"], "birthdate": ["1990-04-01"], "_count": ["500"]}
    )
    assert query.criteria == (
        SearchCriterion("name", "Anna"),
        SearchCriterion("name", "Berg"),
        SearchCriterion("birthdate", "1990-04-01"),
    )
    assert query.count == MAX_COUNT
    assert query.parameter_names == ("birthdate", "name")


@pytest.mark.parametrize(("raw", "value"), [("urn:mrn|M-1", "urn:mrn|M-1"), ("|M-1", "M-1"), ("M-1", "M-1")])
def test_identifier_query_with_system_value_or_value(raw, value):
    assert parse_search("Patient", {"identifier": [raw]}).criteria == (SearchCriterion("identifier", value),)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"family": ["Berg"]}, "unknown search parameter 'family'"),
        ({"birthdate": ["ge1990"]}, "exact date"),
        ({"name": [" "]}, "needs a value"),
        ({"_count": ["ten"]}, "whole number"),
        ({"_count": ["-1"]}, "negative"),
    ],
)
def test_bad_search_requests_say_what_to_fix(params, message):
    with pytest.raises(InvalidSearch, match=message):
        parse_search("Patient", params)
