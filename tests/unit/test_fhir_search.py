"""FHIR search: declarations, normal forms (index and query agree), dates, parsing and matching."""

from __future__ import annotations

from collections import defaultdict

import pytest

from cairn.errors import InvalidSearch
from cairn.fhir.resource_types import COMPARTMENT_TYPES, PATIENT_LINKS, STORED_TYPES
from cairn.fhir.search import (
    ANDED_DOCUMENTATION,
    CONTROL_PARAMETERS,
    CURSOR_PARAMETER,
    DEFAULT_COUNT,
    MAX_COUNT,
    SEARCH_PARAMETERS,
    TIMELINE,
    DateComparison,
    DateRange,
    Include,
    ParameterType,
    SearchCriterion,
    SearchQuery,
    SortKey,
    compartment_criterion,
    date_values,
    index_values,
    parse_search,
    timeline_start,
)

P1 = {"reference": "Patient/p1"}
DR = {"reference": "Practitioner/dr1"}
ENC = {"reference": "Encounter/e1"}
LOINC = {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}], "text": "HR"}
CATEGORY = [{"coding": [{"system": "http://example.org/cat", "code": "vital-signs"}]}]
IDENTIFIER = [{"system": "urn:mrn", "value": "M-1"}]
META = {"lastUpdated": "2024-05-01T12:00:00Z"}

# One resource per stored type, giving every declared parameter at least one value.
EXAMPLES: dict[str, dict] = {
    "Patient": {
        "name": [{"family": "van der Berg", "given": ["Anna", "Maria"]}], "birthDate": "1990-04-01",
        "gender": "female", "active": True, "address": [{"postalCode": "1012 AB"}],
        "telecom": [{"system": "phone", "value": "555-0101"}],
    },
    "Practitioner": {"name": [{"family": "Osei", "given": ["Kwame"]}]},
    "Organization": {"name": "Harbour Clinic"},
    "Location": {"name": "Room 3"},
    "PractitionerRole": {"practitioner": DR, "organization": {"reference": "Organization/o1"},
                         "specialty": [{"coding": [{"code": "394814009"}]}]},
    "Encounter": {"subject": P1, "period": {"start": "2024-03-05T09:00:00Z", "end": "2024-03-05T09:30:00Z"},
                  "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                  "type": [LOINC], "status": "finished", "participant": [{"individual": DR}]},
    "Condition": {"subject": P1, "encounter": ENC, "code": LOINC,
                  "clinicalStatus": {"coding": [{"code": "active"}]},
                  "verificationStatus": {"coding": [{"code": "confirmed"}]}, "category": CATEGORY,
                  "onsetDateTime": "2023-11", "recordedDate": "2024-01-02"},
    "AllergyIntolerance": {"patient": P1, "clinicalStatus": {"coding": [{"code": "active"}]}, "code": LOINC,
                           "recordedDate": "2024-01-02"},
    "MedicationRequest": {"subject": P1, "encounter": ENC, "status": "active", "intent": "order",
                          "authoredOn": "2024-02-03T10:00:00+01:00", "medicationCodeableConcept": LOINC},
    "MedicationStatement": {"subject": P1, "status": "active", "effectivePeriod": {"start": "2024-02-01"},
                            "medicationCodeableConcept": LOINC},
    "Observation": {"subject": P1, "encounter": ENC, "code": LOINC, "category": CATEGORY,
                    "effectiveDateTime": "2024-03-05T10:00:00+01:00", "status": "final",
                    "valueCodeableConcept": {"coding": [{"code": "pos"}]}},
    "DiagnosticReport": {"subject": P1, "encounter": ENC, "code": LOINC, "category": CATEGORY,
                         "effectivePeriod": {"start": "2024-03-05", "end": "2024-03-06"}, "status": "final"},
    "ServiceRequest": {"subject": P1, "encounter": ENC, "code": LOINC, "status": "active", "intent": "order",
                       "category": CATEGORY, "authoredOn": "2024-03-01"},
    "Immunization": {"patient": P1, "occurrenceDateTime": "2024-01-15", "status": "completed",
                     "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]}},
    "Procedure": {"subject": P1, "encounter": ENC, "code": LOINC, "status": "completed", "category": LOINC,
                  "performedPeriod": {"start": "2024-03-05T08:00:00Z"}},
    "FamilyMemberHistory": {"patient": P1, "relationship": {"coding": [{"code": "MTH"}]},
                            "status": "completed",
                            "condition": [{"code": LOINC}], "date": "2024"},
    "DocumentReference": {"subject": P1, "context": {"encounter": [ENC]}, "type": LOINC, "category": CATEGORY,
                          "date": "2024-03-05T09:00:00Z", "status": "current",
                          "masterIdentifier": {"system": "urn:doc", "value": "D-1"}},
    "Coverage": {"beneficiary": P1, "subscriber": P1, "payor": [{"reference": "Organization/o1"}],
                 "status": "active"},
    "Invoice": {"subject": P1, "status": "issued", "date": "2024-03-05", "participant": [{"actor": DR}]},
    "Claim": {"patient": P1, "status": "active", "use": "claim", "created": "2024-03-05",
              "insurer": {"reference": "Organization/payer1"}, "provider": {"reference": "Organization/o1"},
              "item": [{"sequence": 1, "encounter": [ENC], "productOrService": LOINC}]},
    "ClaimResponse": {"patient": P1, "status": "active", "use": "claim", "created": "2024-04-01",
                      "outcome": "complete", "request": {"reference": "Claim/c1"},
                      "insurer": {"reference": "Organization/payer1"}},
    "Appointment": {"start": "2024-06-01T09:00:00Z", "status": "booked", "slot": [{"reference": "Slot/s1"}],
                    "participant": [{"actor": P1}, {"actor": DR}, {"actor": {"reference": "Location/l1"}}]},
    "Schedule": {"actor": [P1, DR], "active": True},
    "Slot": {"schedule": {"reference": "Schedule/sc1"}, "start": "2024-06-01T09:00:00Z", "status": "free"},
    "Communication": {"subject": P1, "encounter": ENC, "sent": "2024-03-05T11:00:00Z", "status": "completed",
                      "recipient": [P1], "sender": DR, "category": CATEGORY},
    "Task": {"for": P1, "encounter": ENC, "owner": DR, "status": "requested", "code": LOINC,
             "priority": "urgent", "authoredOn": "2024-03-05T11:00:00Z",
             "focus": {"reference": "DiagnosticReport/r1"}},
    "Questionnaire": {"name": "PHQ9", "title": "Patient Health Questionnaire", "status": "active",
                      "url": "http://example.org/Questionnaire/phq9"},
    "QuestionnaireResponse": {"subject": P1, "source": P1, "encounter": ENC, "status": "completed",
                              "questionnaire": "http://example.org/Questionnaire/phq9|1.0",
                              "authored": "2024-03-05T11:00:00Z"},
    "Composition": {"subject": P1, "encounter": ENC, "type": LOINC, "status": "final", "date": "2024-03-05",
                    "author": [DR],
                    "relatesTo": [{"code": "appends", "targetReference": {"reference": "Composition/c0"}}]},
    "Provenance": {"target": [{"reference": "Observation/o9/_history/2"}, P1], "agent": [{"who": DR}],
                   "recorded": "2024-03-05T11:00:00Z"},
    "Group": {"member": [{"entity": P1}], "type": "person", "name": "Diabetes clinic"},
}


def example(resource_type: str, **changes: object) -> dict:
    return {"resourceType": resource_type, "id": "x1", "meta": META, "identifier": IDENTIFIER,
            **EXAMPLES[resource_type], **changes}


ALL_PARAMETERS = [(t, name) for t in STORED_TYPES for name in SEARCH_PARAMETERS[t]]


def group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = defaultdict(list)
    for name, value in pairs:
        params[name].append(value)
    return dict(params)


# ---- declarations -----------------------------------------------------------------------------


def test_every_stored_type_has_id_and_last_updated_and_every_compartment_type_a_patient_parameter():
    for resource_type in STORED_TYPES:
        assert SEARCH_PARAMETERS[resource_type]["_id"].type is ParameterType.TOKEN
        assert SEARCH_PARAMETERS[resource_type]["_lastUpdated"].type is ParameterType.DATE
    for resource_type in COMPARTMENT_TYPES:
        patient = SEARCH_PARAMETERS[resource_type]["patient"]
        assert (patient.type, patient.targets) == (ParameterType.REFERENCE, ("Patient",))


@pytest.mark.parametrize(("resource_type", "name"), ALL_PARAMETERS)
def test_every_parameter_is_documented_with_a_canonical_definition(resource_type, name):
    parameter = SEARCH_PARAMETERS[resource_type][name]
    assert parameter.name == name
    assert parameter.definition.startswith("http://hl7.org/fhir/SearchParameter/")
    assert len(parameter.documentation) > 40
    if parameter.type is ParameterType.STRING:
        assert "no prefix or substring" in parameter.documentation.lower()
        assert "blind" in parameter.documentation
    if parameter.type is ParameterType.REFERENCE:
        assert parameter.targets


def test_timeline_names_a_date_parameter_of_each_type():
    assert TIMELINE["Observation"] == "date"
    assert TIMELINE["MedicationRequest"] == "authoredon"
    for resource_type, name in TIMELINE.items():
        assert SEARCH_PARAMETERS[resource_type][name].type is ParameterType.DATE
    assert "Patient" not in TIMELINE
    assert "Practitioner" not in TIMELINE


def test_control_parameters_are_documented_and_anded_documentation_says_comma_ors():
    assert set(CONTROL_PARAMETERS) == {"_count", "_sort", "_include", "_revinclude", "_cursor", "_total"}
    assert "AND" in ANDED_DOCUMENTATION
    assert "OR" in ANDED_DOCUMENTATION


# ---- index and query agree --------------------------------------------------------------------


@pytest.mark.parametrize(("resource_type", "name"), ALL_PARAMETERS)
def test_every_parameter_finds_the_example_by_each_of_its_normal_forms(resource_type, name):
    resource = example(resource_type)
    parameter = SEARCH_PARAMETERS[resource_type][name]
    if parameter.type is ParameterType.DATE and not parameter.blind:
        ranges = date_values(resource_type, resource)[name]
        assert ranges, "the example must exercise the parameter"
        for covered in ranges:
            criterion = parse_search(resource_type, {name: [covered.start]}).criteria[0]
            assert criterion.matches(resource)
        return
    values = index_values(resource_type, resource)[name]
    assert values, "the example must exercise the parameter"
    for value in values:
        (criterion,) = parse_search(resource_type, {name: [value]}).criteria
        assert value in criterion.values
        assert criterion.matches(resource)


@pytest.mark.parametrize(("resource_type", "name"), ALL_PARAMETERS)
def test_every_parameter_misses_a_resource_without_the_element(resource_type, name):
    parameter = SEARCH_PARAMETERS[resource_type][name]
    resource = example(resource_type)
    query = next(iter(date_values(resource_type, resource)[name])).start if (
        parameter.type is ParameterType.DATE and not parameter.blind
    ) else sorted(index_values(resource_type, resource)[name])[0]
    (criterion,) = parse_search(resource_type, {name: [query]}).criteria
    assert not criterion.matches({"resourceType": resource_type, "id": "other"})


def test_id_is_exact_and_case_sensitive_as_fhir_ids_are():
    resource = example("Observation", id="Obs-1")
    assert index_values("Observation", resource)["_id"] == {"Obs-1"}
    (criterion,) = parse_search("Observation", {"_id": ["Obs-1,other"]}).criteria
    assert criterion.values == ("Obs-1", "other")
    assert criterion.matches(resource)
    assert not parse_search("Observation", {"_id": ["obs-1"]}).criteria[0].matches(resource)


def test_criterion_for_another_type_or_without_resource_type_does_not_match():
    (criterion,) = parse_search("Observation", {"status": ["final"]}).criteria
    assert not criterion.matches({"status": "final"})
    assert not criterion.matches({"resourceType": "Practitioner", "status": "final"})


# ---- token ------------------------------------------------------------------------------------


def test_coding_is_findable_by_system_and_code_code_alone_and_system_alone():
    assert index_values("Observation", example("Observation"))["code"] == {
        "http://loinc.org|8867-4", "8867-4", "http://loinc.org|",
    }


def test_systemless_coding_is_findable_by_bar_code_and_a_bar_code_query_needs_no_system():
    condition = example("Condition")
    assert index_values("Condition", condition)["clinical-status"] == {"active", "|active"}
    (criterion,) = parse_search("Observation", {"code": ["|8867-4"]}).criteria
    assert criterion.values == ("|8867-4",)
    assert not criterion.matches(example("Observation"))  # that coding has a system


@pytest.mark.parametrize("query", ["http://loinc.org|8867-4", "8867-4", "http://loinc.org|", "HTTP://LOINC.org|8867-4"])
def test_token_queries_match_the_coding(query):
    (criterion,) = parse_search("Observation", {"code": [query]}).criteria
    assert criterion.matches(example("Observation"))


def test_identifier_and_booleans_and_codes_are_tokens():
    patient = example("Patient")
    values = index_values("Patient", patient)
    assert values["identifier"] == {"urn:mrn|m-1", "m-1", "urn:mrn|"}
    assert values["active"] == {"true"}
    assert values["gender"] == {"female"}
    assert parse_search("Patient", {"active": ["true"]}).criteria[0].matches(patient)
    assert not parse_search("Patient", {"active": ["false"]}).criteria[0].matches(patient)
    assert parse_search("Patient", {"telecom": ["555-0101"]}).criteria[0].matches(patient)


# ---- string -----------------------------------------------------------------------------------


def test_name_is_findable_by_each_part_whole_or_by_word_normalized():
    assert index_values("Patient", example("Patient"))["name"] == {
        "van der berg", "van", "der", "berg", "anna", "maria",
    }
    assert index_values("Patient", example("Patient"))["family"] == {"van der berg", "van", "der", "berg"}


@pytest.mark.parametrize(("query", "found"), [("BERG", True), ("van  der Berg", True), ("Ber", False),
                                               ("ánna", True), ("Anna Maria", False)])
def test_string_match_is_exact_after_normalization_no_prefix(query, found):
    (criterion,) = parse_search("Patient", {"name": [query]}).criteria
    assert criterion.matches(example("Patient")) is found


# ---- reference --------------------------------------------------------------------------------


def test_reference_values_strip_base_url_and_version():
    absolute = "https://ehr.example/fhir/R4/Patient/p1/_history/3"
    observation = example("Observation", subject={"reference": absolute})
    assert index_values("Observation", observation)["subject"] == {"patient/p1"}
    bundle_internal = example("Observation", subject={"reference": "urn:uuid:1"})
    assert index_values("Observation", bundle_internal)["subject"] == set()


def test_a_bare_id_ors_every_target_type_and_the_type_modifier_narrows():
    (criterion,) = parse_search("Observation", {"subject": ["p1"]}).criteria
    assert criterion.values == ("patient/p1", "group/p1", "location/p1")
    (narrowed,) = parse_search("Observation", {"subject:Patient": ["p1"]}).criteria
    assert narrowed.values == ("patient/p1",)
    (typed,) = parse_search("Observation", {"patient": ["Patient/p1"]}).criteria
    assert typed.values == ("patient/p1",)
    assert criterion.matches(example("Observation"))
    assert narrowed.matches(example("Observation"))
    (group_only,) = parse_search("Observation", {"subject:Group": ["p1"]}).criteria
    assert not group_only.matches(example("Observation"))


def test_reference_to_a_type_the_parameter_cannot_point_to_is_refused():
    with pytest.raises(InvalidSearch, match="can point to Patient"):
        parse_search("Observation", {"patient:Practitioner": ["dr1"]})
    with pytest.raises(InvalidSearch, match="Type/id with Type one of Patient"):
        parse_search("Observation", {"patient": ["Practitioner/dr1"]})


def test_restricted_references_index_only_their_target_type():
    values = index_values("Appointment", example("Appointment"))
    assert values["practitioner"] == {"practitioner/dr1"}
    assert values["location"] == {"location/l1"}
    assert values["patient"] == {"patient/p1"}
    assert values["actor"] == {"patient/p1", "practitioner/dr1", "location/l1"}


def test_canonical_questionnaire_is_findable_by_url_or_questionnaire_id():
    response = example("QuestionnaireResponse")
    assert index_values("QuestionnaireResponse", response)["questionnaire"] == {
        "http://example.org/questionnaire/phq9", "questionnaire/phq9",
    }
    for query in ["phq9", "Questionnaire/phq9", "http://example.org/Questionnaire/phq9|2.0"]:
        assert parse_search("QuestionnaireResponse", {"questionnaire": [query]}).criteria[0].matches(response)


# ---- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2024", "2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"),
        ("2024-02", "2024-02-01T00:00:00Z", "2024-02-29T23:59:59Z"),
        ("2024-03-05", "2024-03-05T00:00:00Z", "2024-03-05T23:59:59Z"),
        ("2024-03-05T10:15+02:00", "2024-03-05T08:15:00Z", "2024-03-05T08:15:59Z"),
        ("2024-03-05T10:15:30.123Z", "2024-03-05T10:15:30Z", "2024-03-05T10:15:30Z"),
        ("2024-03-05T10:15:30", "2024-03-05T10:15:30Z", "2024-03-05T10:15:30Z"),
        ("2024-01-01T01:00:00+05:00", "2023-12-31T20:00:00Z", "2023-12-31T20:00:00Z"),
        ("2024-12-31T22:00:00-03:00", "2025-01-01T01:00:00Z", "2025-01-01T01:00:00Z"),
    ],
)
def test_a_date_query_covers_its_precision_in_utc(value, start, end):
    (criterion,) = parse_search("Observation", {"date": [value]}).criteria
    assert criterion.date == DateComparison("eq", DateRange(start, end))


@pytest.mark.parametrize("value", ["2024-13", "2024-02-30", "24-01-01", "2024/01/01", "yesterday",
                                   "2024-01-01T25:00Z", "2024-01-01,2024-02-01"])
def test_malformed_dates_are_refused_saying_the_accepted_form(value):
    with pytest.raises(InvalidSearch, match="'date' takes"):
        parse_search("Observation", {"date": [value]})


def test_periods_have_their_own_ranges_open_end_reaching_9999_and_zones_converted():
    assert date_values("Encounter", example("Encounter"))["date"] == [
        DateRange("2024-03-05T09:00:00Z", "2024-03-05T09:30:00Z")]
    assert date_values("Procedure", example("Procedure"))["date"] == [
        DateRange("2024-03-05T08:00:00Z", "9999-12-31T23:59:59Z")]
    assert date_values("DiagnosticReport", example("DiagnosticReport"))["date"] == [
        DateRange("2024-03-05T00:00:00Z", "2024-03-06T23:59:59Z")]
    assert date_values("Observation", example("Observation"))["date"] == [
        DateRange("2024-03-05T09:00:00Z", "2024-03-05T09:00:00Z")]
    open_start = example("Encounter", period={"end": "2024-01-01"})
    assert date_values("Encounter", open_start)["date"] == [
        DateRange("0001-01-01T00:00:00Z", "2024-01-01T23:59:59Z")]
    assert date_values("Encounter", example("Encounter", period={"start": "not a date"}))["date"] == []


@pytest.mark.parametrize(
    ("query", "bounds", "found"),
    [
        ("2024-03", ("2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z"), True),
        ("eq2024-03-05", ("2024-03-05T00:00:00Z", "2024-03-05T23:59:59Z"), True),
        ("eq2024-03-06", ("2024-03-06T00:00:00Z", "2024-03-06T23:59:59Z"), False),
        ("lt2024-03-05", (None, "2024-03-04T23:59:59Z"), False),
        ("lt2024-03-06", (None, "2024-03-05T23:59:59Z"), True),
        ("le2024-03-05", (None, "2024-03-05T23:59:59Z"), True),
        ("gt2024-03-05", ("2024-03-06T00:00:00Z", None), False),
        ("gt2024-03-04", ("2024-03-05T00:00:00Z", None), True),
        ("ge2024-03-05", ("2024-03-05T00:00:00Z", None), True),
        ("ge2024-03-05T09:00:01Z", ("2024-03-05T09:00:01Z", None), False),
    ],
)
def test_prefixes_compare_the_start_of_the_resource_date(query, bounds, found):
    (criterion,) = parse_search("Observation", {"date": [query]}).criteria
    assert criterion.date is not None
    assert criterion.date.key_bounds() == bounds
    assert criterion.matches(example("Observation")) is found  # effective 2024-03-05T09:00:00Z


def test_a_period_is_compared_by_its_start():
    procedure = example("Procedure")  # performed from 2024-03-05T08:00Z, still open
    assert parse_search("Procedure", {"date": ["2024-03-05"]}).criteria[0].matches(procedure)
    assert not parse_search("Procedure", {"date": ["2025"]}).criteria[0].matches(procedure)


def test_extreme_bounds_stay_sortable():
    assert DateComparison("lt", DateRange("0001-01-01T00:00:00Z", "0001-12-31T23:59:59Z")).key_bounds() == (
        None, "0000-12-31T23:59:59Z")
    assert DateComparison("gt", DateRange("9999-01-01T00:00:00Z", "9999-12-31T23:59:59Z")).key_bounds()[0] > (
        "9999-12-31T23:59:59Z")


@pytest.mark.parametrize("prefix", ["ne", "sa", "eb", "ap"])
def test_other_prefixes_are_refused_naming_the_supported_ones(prefix):
    with pytest.raises(InvalidSearch, match="eq, lt, le, gt, ge"):
        parse_search("Observation", {"date": [f"{prefix}2024"]})
    with pytest.raises(InvalidSearch, match="eq, lt, le, gt, ge"):
        DateComparison(prefix, DateRange("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"))


def test_repeated_dates_and_to_a_range():
    query = parse_search("Observation", {"date": ["ge2024-03-01", "lt2024-04"]})
    assert all(c.matches(example("Observation")) for c in query.criteria)
    assert not all(c.matches(example("Observation", effectiveDateTime="2024-04-02")) for c in query.criteria)


# ---- birthdate: PHI, blind ---------------------------------------------------------------------


def test_birthdate_is_blind_exact_tokens_never_a_plaintext_range():
    patient = example("Patient")
    assert SEARCH_PARAMETERS["Patient"]["birthdate"].blind
    assert index_values("Patient", patient)["birthdate"] == {"1990", "1990-04", "1990-04-01"}
    assert "birthdate" not in date_values("Patient", patient)
    assert "exact day/month/year" in SEARCH_PARAMETERS["Patient"]["birthdate"].documentation


@pytest.mark.parametrize(("query", "found"), [("1990", True), ("1990-04", True), ("1990-04-01", True),
                                               ("1990-04-02", False), ("1991", False)])
def test_birthdate_matches_by_year_month_or_day(query, found):
    (criterion,) = parse_search("Patient", {"birthdate": [query]}).criteria
    assert criterion.type is ParameterType.DATE
    assert criterion.values == (query,)
    assert criterion.date is not None
    assert criterion.date.prefix == "eq"
    assert criterion.matches(example("Patient")) is found


def test_a_year_only_birthdate_is_not_found_by_a_day():
    patient = example("Patient", birthDate="1990")
    assert not parse_search("Patient", {"birthdate": ["1990-04-01"]}).criteria[0].matches(patient)
    assert parse_search("Patient", {"birthdate": ["eq1990"]}).criteria[0].matches(patient)


@pytest.mark.parametrize("value", ["ge1990", "1990-04-01T10:00Z", "1990-02-30"])
def test_birthdate_refuses_prefixes_times_and_impossible_dates(value):
    with pytest.raises(InvalidSearch, match="'birthdate' takes"):
        parse_search("Patient", {"birthdate": [value]})


# ---- parsing ----------------------------------------------------------------------------------


def test_comma_ors_within_a_parameter_and_parameters_and():
    query = parse_search("Observation",
                         {"code": ["8867-4,9279-1"], "status": ["final"], "category": ["x", "y"]})
    assert query.criteria == (
        SearchCriterion("code", ParameterType.TOKEN, ("8867-4", "9279-1")),
        SearchCriterion("status", ParameterType.TOKEN, ("final",)),
        SearchCriterion("category", ParameterType.TOKEN, ("x",)),
        SearchCriterion("category", ParameterType.TOKEN, ("y",)),
    )
    assert query.criteria[0].matches(example("Observation"))
    assert not query.criteria[2].matches(example("Observation"))


def test_an_escaped_comma_is_part_of_the_value():
    (criterion,) = parse_search("Organization", {"name": ["Smith\\, Jones"]}).criteria
    assert criterion.values == ("smith, jones",)
    assert criterion.matches(example("Organization", name="Smith, Jones"))


def test_count_defaults_caps_and_allows_zero():
    assert parse_search("Patient", {}).count == DEFAULT_COUNT
    assert parse_search("Patient", {"_count": ["500"]}).count == MAX_COUNT
    assert parse_search("Patient", {"_count": ["0"]}).count == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"nickname": ["Ann"]}, "unknown search parameter 'nickname' for Patient; use one of _id"),
        ({"name": [" "]}, "needs a value"),
        ({"name": []}, "needs a value"),
        ({"name": ["Anna,"]}, "empty alternative"),
        ({"_count": ["ten"]}, "whole number"),
        ({"_count": ["-1"]}, "negative"),
        ({"name:exact": ["Anna"]}, "modifiers are not supported"),
        ({"name:contains": ["Ann"]}, "modifiers are not supported"),
        ({"gender:not": ["male"]}, "modifiers are not supported"),
        ({"gender:missing": ["true"]}, "modifiers are not supported"),
        ({"name:text": ["Anna"]}, "modifiers are not supported"),
    ],
)
def test_bad_search_requests_say_what_to_fix(params, message):
    with pytest.raises(InvalidSearch, match=message):
        parse_search("Patient", params)


def test_unknown_type_is_refused():
    with pytest.raises(InvalidSearch, match="cannot be searched"):
        parse_search("Spaceship", {})


SECRET = "Zebediah-Quarterman-1957-03-14"


@pytest.mark.parametrize(
    "params",
    [{"birthdate": [SECRET]}, {"date": [SECRET]}, {"name": [f"{SECRET},"]},
     {"patient": [f"Practitioner/{SECRET}"]}, {"_count": [SECRET]}, {"_sort": [SECRET]},
     {"_include": [SECRET]}, {"_revinclude": [f"Observation:{SECRET}"]}, {SECRET * 3: ["x"]},
     {f"name:{SECRET * 3}": ["x"]}],
)
def test_messages_never_repeat_submitted_values(params):
    resource_type = "Patient" if "birthdate" in params or "name" in params else "Observation"
    with pytest.raises(InvalidSearch) as refused:
        parse_search(resource_type, params)
    assert SECRET not in str(refused.value)


def test_lenient_handling_drops_unknown_parameters_and_modifiers_into_ignored():
    query = parse_search("Patient", {"nickname": ["Ann"], "name:contains": ["Ann"], "family": ["Berg"]},
                         lenient=True)
    assert query.ignored == ("nickname", "name:contains")
    assert query.parameter_names == ("family",)
    assert ("nickname", "Ann") not in query.query_params()


def test_total_is_accepted_and_ignored():
    assert parse_search("Patient", {"_total": ["accurate"]}) == SearchQuery("Patient")


def test_sort_keys_parse_with_direction():
    query = parse_search("Observation", {"_sort": ["-date,_id", "_lastUpdated"]})
    assert query.sort == (SortKey("date", True), SortKey("_id", False), SortKey("_lastUpdated", False))


@pytest.mark.parametrize("value", ["code", "-status", "birthdate", ""])
def test_sort_only_on_id_last_updated_and_date_parameters(value):
    with pytest.raises(InvalidSearch, match=r"_sort takes|needs a value"):
        parse_search("Patient" if value == "birthdate" else "Observation", {"_sort": [value]})


def test_includes_and_revincludes_parse():
    query = parse_search("Observation", {
        "_include": ["Observation:patient", "Observation:subject:Group"],
        "_revinclude": ["Provenance:target", "Provenance:target:Observation"],
    })
    assert query.includes == (Include("Observation", "patient", None),
                              Include("Observation", "subject", "Group"))
    assert query.revincludes == (Include("Provenance", "target", None),
                                 Include("Provenance", "target", "Observation"))
    assert parse_search("Patient", {"_revinclude": ["Observation:patient"]}).revincludes == (
        Include("Observation", "patient", None),)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"_include": ["*"]}, "not supported"),
        ({"_include": ["Observation:*"]}, "not supported"),
        ({"_revinclude": ["*"]}, "not supported"),
        ({"_include": ["Encounter:subject"]}, "must start with the searched type, Observation"),
        ({"_include": ["Observation:code"]}, "reference search parameter"),
        ({"_include": ["Observation"]}, "SourceType:parameter"),
        ({"_include": ["Observation:patient:Practitioner"]}, "can point to Patient"),
        ({"_revinclude": ["Encounter:patient"]}, "cannot point to Observation"),
        ({"_revinclude": ["Provenance:target:Patient"]}, "cannot point to Observation"),
    ],
)
def test_bad_includes_say_what_to_fix(params, message):
    with pytest.raises(InvalidSearch, match=message):
        parse_search("Observation", params)


def test_cursor_passes_through_and_is_left_out_of_links():
    query = parse_search("Observation", {"status": ["final"], CURSOR_PARAMETER: ["opaque/+=token"]})
    assert query.cursor == "opaque/+=token"
    assert all(name != CURSOR_PARAMETER for name, _ in query.query_params())
    assert query.with_cursor("next").cursor == "next"
    assert query.with_cursor(None) == parse_search("Observation", {"status": ["final"]})


def test_query_params_round_trip():
    params = {
        "patient": ["p1"], "subject:Patient": ["p2"], "code": ["http://loinc.org|8867-4,|x\\,y", "8867-4"],
        "date": ["ge2024", "lt2024-03-05T10:15+02:00", "le2024-03-05T10:15:30Z", "2024-03-05"],
        "_lastUpdated": ["gt2024-02"], "_sort": ["-date,_id"], "_include": ["Observation:patient"],
        "_revinclude": ["Provenance:target"], "_count": ["7"], "_cursor": ["c1"],
    }
    query = parse_search("Observation", params)
    assert parse_search("Observation", group(query.query_params())) == query.with_cursor(None)
    assert ("date", "ge2024") in query.query_params()
    assert ("date", "2024-03-05") in query.query_params()
    assert ("date", "lt2024-03-05T08:15Z") in query.query_params()
    patient = parse_search("Patient", {"birthdate": ["1990-04"], "name": ["Anna"]})
    assert parse_search("Patient", group(patient.query_params())) == patient


def test_parameter_names_are_sorted_without_values_for_the_audit_trail():
    query = parse_search("Observation",
                         {"status": ["final"], "code": ["x"], "_sort": ["date"], "_count": ["5"]})
    assert query.parameter_names == ("_sort", "code", "status")


# ---- compartments and timeline ----------------------------------------------------------------


@pytest.mark.parametrize("resource_type", COMPARTMENT_TYPES)
def test_compartment_criterion_selects_the_patients_resources(resource_type):
    criterion = compartment_criterion(resource_type, "p1")
    assert criterion == SearchCriterion("patient", ParameterType.REFERENCE, ("patient/p1",))
    assert criterion.matches(example(resource_type))
    assert not compartment_criterion(resource_type, "p2").matches(example(resource_type))
    elements = PATIENT_LINKS[resource_type]
    assert criterion.values[0] in index_values(resource_type, example(resource_type))["patient"], elements


def test_compartment_of_patient_is_its_id_and_directory_types_have_none():
    criterion = compartment_criterion("Patient", "x1")
    assert criterion == SearchCriterion("_id", ParameterType.TOKEN, ("x1",))
    assert criterion.matches(example("Patient"))
    with pytest.raises(InvalidSearch, match="not in a patient's compartment"):
        compartment_criterion("Practitioner", "x1")


def test_timeline_start_is_the_earliest_start_of_the_timeline_date():
    assert timeline_start("Observation", example("Observation")) == "2024-03-05T09:00:00Z"
    assert timeline_start("Condition", example("Condition")) == "2024-01-02T00:00:00Z"
    assert timeline_start("Condition", example("Condition", recordedDate=None)) is None
    assert timeline_start("Patient", example("Patient")) is None
