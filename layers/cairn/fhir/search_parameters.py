"""The FHIR search parameters of Cairn's chart: what each type is findable by, declared once.

Every TOKEN, STRING and REFERENCE parameter reduces a resource to a set of normal forms (see
`SearchParameter.values`), each passed through cairn.crypto.blind_index.normalize, so the blind
index written for a resource and the in-memory check of a query agree by construction (`_id`
alone is kept as sent: FHIR ids are case-sensitive and read directly). DATE
parameters reduce a resource to UTC ranges of fixed-width text, sortable as strings, so the
query planner can range-query on their start.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from cairn.crypto.blind_index import normalize
from cairn.fhir.resource_types import GROUP, PATIENT, PATIENT_LINKS, STORED_TYPES

CORE = "http://hl7.org/fhir/SearchParameter"
OPEN_START = "0001-01-01T00:00:00Z"
OPEN_END = "9999-12-31T23:59:59Z"
# FHIR date / dateTime / instant; seconds optional and a missing zone read as UTC, as in queries.
DATE_TIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)
EXACT_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
DATE_FORM = "a FHIR date or dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|+hh:mm|-hh:mm]"
# A resource type as it starts a relative reference ("Patient/123").
TYPE_NAME = re.compile(r"[A-Z][A-Za-z]+")


class ParameterType(StrEnum):
    TOKEN = "token"  # noqa: S105 - a FHIR parameter type, not a secret
    STRING = "string"
    DATE = "date"
    REFERENCE = "reference"


@dataclass(frozen=True)
class DateRange:
    """Inclusive UTC bounds as fixed-width "YYYY-MM-DDTHH:MM:SSZ" text, so text order is time order."""

    start: str
    end: str


Values = Callable[[Mapping[str, Any]], set[str]]
Ranges = Callable[[Mapping[str, Any]], list[DateRange]]


def _no_values(_resource: Mapping[str, Any]) -> set[str]:
    return set()


def _no_ranges(_resource: Mapping[str, Any]) -> list[DateRange]:
    return []


@dataclass(frozen=True)
class SearchParameter:
    """A supported search parameter: what a resource is findable by, and how it is documented.

    `blind` DATE parameters (birthdate: PHI, indexed blind) answer only "eq", through `values`:
    the tokens YYYY, YYYY-MM and YYYY-MM-DD of the stored date, as far as it is known.
    """

    name: str
    type: ParameterType
    definition: str
    documentation: str
    values: Values = _no_values
    ranges: Ranges = _no_ranges
    targets: tuple[str, ...] = ()
    blind: bool = False


# ---- dates ------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def date_range(text: str) -> DateRange | None:
    """The UTC range a FHIR date/dateTime/instant covers at its precision; None if malformed.

    2024 is the whole year, 2024-03-05 the whole day in UTC, a time to the minute that minute;
    times with an offset are converted to UTC, times without one are read as UTC.
    """
    match = DATE_TIME.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        if hour is not None:
            start = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                tzinfo=_zone(zone),
            ).astimezone(UTC)
            end = start + timedelta(seconds=0 if second is not None else 59)
        elif day is not None:
            start = datetime(int(year), int(month), int(day))
            end = start.replace(hour=23, minute=59, second=59)
        elif month is not None:
            last_day = calendar.monthrange(int(year), int(month))[1]
            start = datetime(int(year), int(month), 1)
            end = datetime(int(year), int(month), last_day, 23, 59, 59)
        else:
            start = datetime(int(year), 1, 1)
            end = datetime(int(year), 12, 31, 23, 59, 59)
    except (ValueError, OverflowError):
        return None
    return DateRange(_stamp(start), _stamp(end))


def _zone(zone: str | None) -> timezone:
    if zone is None or zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))


def _period_range(period: Mapping[str, Any]) -> DateRange | None:
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, str) and not isinstance(end, str):
        return None
    start_range = date_range(start) if isinstance(start, str) else None
    end_range = date_range(end) if isinstance(end, str) else None
    if (isinstance(start, str) and start_range is None) or (isinstance(end, str) and end_range is None):
        return None
    return DateRange(start_range.start if start_range else OPEN_START,
                     end_range.end if end_range else OPEN_END)


# ---- walking elements -------------------------------------------------------------------------


def elements(resource: Mapping[str, Any], path: str) -> list[Any]:
    """The values at a dotted path, lists flattened; "effective[x]" takes every effectiveXxx."""
    found: list[Any] = [resource]
    for step in path.split("."):
        following: list[Any] = []
        for node in found:
            if not isinstance(node, Mapping):
                continue
            if step.endswith("[x]"):
                prefix = step[:-3]
                children = [v for k, v in node.items()
                            if k.startswith(prefix) and k[len(prefix):][:1].isupper()]
            else:
                children = [node.get(step)]
            for child in children:
                if isinstance(child, list):
                    following.extend(child)
                elif child is not None:
                    following.append(child)
        found = following
    return found


def _coding_forms(system: Any, code: Any) -> set[str]:
    forms: set[str] = set()
    if isinstance(system, str) and system:
        forms.add(f"{system}|")
        if isinstance(code, str) and code:
            forms.update({code, f"{system}|{code}"})
    elif isinstance(code, str) and code:
        forms.update({code, f"|{code}"})
    return forms


def _token_forms(element: Any) -> set[str]:
    if isinstance(element, bool):
        return {"true" if element else "false"}
    if isinstance(element, str):
        return {element}
    if not isinstance(element, Mapping):
        return set()
    if "coding" in element:
        return {form for coding in element["coding"] if isinstance(coding, Mapping)
                for form in _coding_forms(coding.get("system"), coding.get("code"))}
    if "code" in element:
        return _coding_forms(element.get("system"), element.get("code"))
    return _coding_forms(element.get("system"), element.get("value"))  # Identifier, ContactPoint


STRING_PARTS = ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state",
                "postalCode", "country")


def _string_forms(element: Any) -> set[str]:
    parts: list[str] = []
    if isinstance(element, str):
        parts.append(element)
    elif isinstance(element, Mapping):  # HumanName, Address
        for key in STRING_PARTS:
            value = element.get(key)
            parts.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    forms: set[str] = set()
    for part in parts:
        whole = normalize(part)
        if whole:
            forms.add(whole)
            forms.update(whole.split())
    return forms


def reference_forms(reference: str, targets: Iterable[str], *, canonical: bool) -> set[str]:
    """Normal forms of a reference: "Type/id" for a target type (base URL and version stripped),
    and for a canonical (or a query, which may name one) its absolute URL without its |version."""
    without_version = reference.split("|", 1)[0]
    forms: set[str] = set()
    if canonical and "://" in without_version:
        forms.add(normalize(without_version))
    segments = without_version.split("/")
    if "_history" in segments:
        segments = segments[: segments.index("_history")]
    types = {target.casefold() for target in targets}  # normal forms are casefolded: "patient/123"
    if len(segments) >= 2 and segments[-2].casefold() in types and segments[-1]:
        forms.add(normalize(f"{segments[-2]}/{segments[-1]}"))
    return forms


def _logical_id(resource: Mapping[str, Any]) -> set[str]:
    logical_id = resource.get("id")
    return {logical_id} if isinstance(logical_id, str) and logical_id else set()


def _token(*paths: str) -> Values:
    def values(resource: Mapping[str, Any]) -> set[str]:
        return {normalize(f) for p in paths for e in elements(resource, p) for f in _token_forms(e)} - {""}
    return values


def _string(*paths: str) -> Values:
    def values(resource: Mapping[str, Any]) -> set[str]:
        return {form for p in paths for e in elements(resource, p) for form in _string_forms(e)}
    return values


def _reference(paths: tuple[str, ...], targets: tuple[str, ...]) -> Values:
    def values(resource: Mapping[str, Any]) -> set[str]:
        found: set[str] = set()
        for path in paths:
            for element in elements(resource, path):
                text = element.get("reference") if isinstance(element, Mapping) else element
                if isinstance(text, str):
                    found |= reference_forms(text, targets, canonical=isinstance(element, str))
        return found
    return values


def _dates(*paths: str) -> Ranges:
    def ranges(resource: Mapping[str, Any]) -> list[DateRange]:
        found: list[DateRange] = []
        for path in paths:
            for element in elements(resource, path):
                covered = (date_range(element) if isinstance(element, str)
                           else _period_range(element) if isinstance(element, Mapping) else None)
                if covered is not None:
                    found.append(covered)
        return sorted(set(found), key=lambda r: (r.start, r.end))
    return ranges


def _exact_date_tokens(path: str) -> Values:
    def values(resource: Mapping[str, Any]) -> set[str]:
        tokens: set[str] = set()
        for element in elements(resource, path):
            if isinstance(element, str) and EXACT_DATE.fullmatch(element):
                tokens.update(element[:width] for width in (4, 7, 10) if width <= len(element))
        return tokens
    return values


# ---- documentation ----------------------------------------------------------------------------

CODE_RULES = (
    'Exact match: "system|code" matches that code (or identifier value) in that system, "code" the '
    'code in any system, "|code" a code without a system, "system|" any code of that system. '
    "Case, accents and repeated whitespace are ignored; a comma separates alternatives (OR)."
)
# FHIR ids are case-sensitive and the repository reads them directly: the one value kept as sent.
ID_PARAMETER = "_id"
ID_RULES = "The logical id, matched exactly and case-sensitively; a comma separates alternatives (OR)."
STRING_RULES = (
    'Exact match on a whole part or on any single word of it ("van der Berg" or "Berg"), ignoring '
    "case, accents and repeated whitespace. No prefix or substring match: values are matched through "
    "blind indexes, which can only answer equal. A comma separates alternatives (OR)."
)
REFERENCE_RULES = (
    'Exact match on "Type/id"; a bare "id" matches any of the target types, and the modifier '
    '":Type" names one ("subject:Patient=123"). Base URLs and versions are ignored; a comma '
    "separates alternatives (OR)."
)
DATE_RULES = (
    f"Takes {DATE_FORM}, with an optional prefix eq, lt, le, gt or ge (eq when none). Cairn compares "
    "the START of the resource's date or period (open periods end at 9999): eq means the start falls "
    "within the query value's precision (2024-03 = the whole month, UTC), ge/lt compare it with the "
    "beginning of that range, gt/le with its end. Repeat the parameter for a range (AND)."
)
BLIND_DATE_RULES = (
    "birthdate is matched by exact day/month/year only (it is PHI, indexed blind): 1990-04-01, 1990-04 "
    "or 1990 finds birth dates within that day, month or year; no prefix other than eq, no ranges."
)


def token(name: str, definition: str, about: str, *paths: str) -> SearchParameter:
    return SearchParameter(name, ParameterType.TOKEN, f"{CORE}/{definition}", f"{about}. {CODE_RULES}",
                           values=_token(*paths))


def string(name: str, definition: str, about: str, *paths: str) -> SearchParameter:
    return SearchParameter(name, ParameterType.STRING, f"{CORE}/{definition}", f"{about}. {STRING_RULES}",
                           values=_string(*paths))


def date(name: str, definition: str, about: str, *paths: str) -> SearchParameter:
    return SearchParameter(name, ParameterType.DATE, f"{CORE}/{definition}", f"{about}. {DATE_RULES}",
                           ranges=_dates(*paths))


def reference(name: str, definition: str, about: str, paths: tuple[str, ...] | str,
              targets: tuple[str, ...]) -> SearchParameter:
    paths = (paths,) if isinstance(paths, str) else paths
    documentation = f"{about} (to {', '.join(targets)}). {REFERENCE_RULES}"
    return SearchParameter(name, ParameterType.REFERENCE, f"{CORE}/{definition}", documentation,
                           values=_reference(paths, targets), targets=targets)


# ---- declarations -----------------------------------------------------------------------------

# Core FHIR R4 shares these definitions across the clinical types that carry the element.
CLINICAL = {
    "AllergyIntolerance", "Composition", "Condition", "DiagnosticReport", "DocumentReference", "Encounter",
    "FamilyMemberHistory", "Immunization", "MedicationRequest", "MedicationStatement", "Observation",
    "Procedure", "ServiceRequest",
}
ANY_TYPE: tuple[str, ...] = STORED_TYPES
SUBJECTS: tuple[str, ...] = (PATIENT, GROUP)
PEOPLE: tuple[str, ...] = (PATIENT, "Practitioner", "PractitionerRole", "RelatedPerson", "Organization")
PROVIDERS: tuple[str, ...] = ("Practitioner", "PractitionerRole", "Organization")
NO_IDENTIFIER = {"Provenance"}


def _common(resource_type: str) -> list[SearchParameter]:
    declared = [
        SearchParameter(ID_PARAMETER, ParameterType.TOKEN, f"{CORE}/Resource-id", ID_RULES,
                        values=_logical_id),
        date("_lastUpdated", "Resource-lastUpdated", "When the resource last changed (meta.lastUpdated)",
             "meta.lastUpdated"),
    ]
    if resource_type not in NO_IDENTIFIER:
        definition = "clinical-identifier" if resource_type in CLINICAL else f"{resource_type}-identifier"
        paths = (
            ("masterIdentifier", "identifier")
            if resource_type == "DocumentReference" else ("identifier",)
        )
        declared.append(token("identifier", definition, "A business identifier", *paths))
    if resource_type in PATIENT_LINKS and resource_type != GROUP:
        definition = "clinical-patient" if resource_type in CLINICAL else f"{resource_type}-patient"
        declared.append(reference("patient", definition, "The patient the resource belongs to: "
                                  + ", ".join(PATIENT_LINKS[resource_type]),
                                  PATIENT_LINKS[resource_type], (PATIENT,)))
    return declared


def _subject(resource_type: str, targets: tuple[str, ...] = SUBJECTS) -> SearchParameter:
    return reference("subject", f"{resource_type}-subject", "Who or what the resource is about", "subject",
                     targets)


def _encounter(resource_type: str, path: str = "encounter") -> SearchParameter:
    definition = "clinical-encounter" if resource_type in CLINICAL else f"{resource_type}-encounter"
    return reference("encounter", definition, "The encounter it belongs to", path, ("Encounter",))


def _status(resource_type: str, definition: str | None = None) -> SearchParameter:
    return token("status", definition or f"{resource_type}-status", "The status", "status")


def _name(resource_type: str) -> SearchParameter:
    return string("name", f"{resource_type}-name", "Any part of a name", "name")


DECLARED: Mapping[str, list[SearchParameter]] = {
    PATIENT: [
        string("name", "Patient-name", "Any part of any name: family, given, prefix, suffix or text", "name"),
        string("family", "individual-family", "A family name", "name.family"),
        string("given", "individual-given", "A given name", "name.given"),
        SearchParameter("birthdate", ParameterType.DATE, f"{CORE}/individual-birthdate", BLIND_DATE_RULES,
                        values=_exact_date_tokens("birthDate"), ranges=_dates("birthDate"), blind=True),
        token("gender", "individual-gender", "The administrative gender", "gender"),
        token("active", "Patient-active", "Whether the record is in active use (true/false)", "active"),
        string("address-postalcode", "individual-address-postalcode", "A postal code of an address",
               "address.postalCode"),
        token("telecom", "individual-telecom", "A phone number, email or other contact point", "telecom"),
    ],
    "Practitioner": [_name("Practitioner")],
    "Organization": [_name("Organization")],
    "Location": [_name("Location")],
    "PractitionerRole": [
        reference("practitioner", "PractitionerRole-practitioner", "The practitioner", "practitioner",
                  ("Practitioner",)),
        reference("organization", "PractitionerRole-organization", "The organization", "organization",
                  ("Organization",)),
        token("specialty", "PractitionerRole-specialty", "A specialty", "specialty"),
    ],
    "Encounter": [
        _subject("Encounter"),
        date("date", "clinical-date", "The encounter's period", "period"),
        token("class", "Encounter-class", "The class (ambulatory, inpatient, ...)", "class"),
        token("type", "clinical-type", "The type", "type"),
        _status("Encounter"),
        reference("participant", "Encounter-participant", "A participant", "participant.individual",
                  ("Practitioner", "PractitionerRole", "RelatedPerson")),
        reference("practitioner", "Encounter-practitioner", "A participating practitioner",
                  "participant.individual", ("Practitioner",)),
    ],
    "Condition": [
        _subject("Condition"), _encounter("Condition"),
        token("code", "clinical-code", "The condition's code", "code"),
        token("clinical-status", "Condition-clinical-status", "The clinical status", "clinicalStatus"),
        token("verification-status", "Condition-verification-status", "The verification status",
              "verificationStatus"),
        token("category", "Condition-category", "The category (problem-list-item, encounter-diagnosis, ...)",
              "category"),
        date("onset-date", "Condition-onset-date", "The onset date or period", "onset[x]"),
        date("recorded-date", "Condition-recorded-date", "When it was recorded", "recordedDate"),
    ],
    "AllergyIntolerance": [
        token("clinical-status", "AllergyIntolerance-clinical-status", "The clinical status",
              "clinicalStatus"),
        token("code", "clinical-code", "The substance or allergy code", "code"),
        date("date", "clinical-date", "When it was recorded", "recordedDate"),
    ],
    "MedicationRequest": [
        _subject("MedicationRequest"), _encounter("MedicationRequest"),
        _status("MedicationRequest", "medications-status"),
        token("intent", "MedicationRequest-intent", "The intent (order, plan, ...)", "intent"),
        date("authoredon", "MedicationRequest-authoredon", "When it was written", "authoredOn"),
        token("code", "medications-code", "The medication's code (medicationCodeableConcept)",
              "medicationCodeableConcept"),
    ],
    "MedicationStatement": [
        _subject("MedicationStatement"),
        _status("MedicationStatement", "medications-status"),
        date("effective", "MedicationStatement-effective", "When the medication is or was taken",
             "effective[x]"),
        token("code", "medications-code", "The medication's code (medicationCodeableConcept)",
              "medicationCodeableConcept"),
    ],
    "Observation": [
        _subject("Observation", (*SUBJECTS, "Location")), _encounter("Observation"),
        token("code", "clinical-code", "The observation's code", "code"),
        token("category", "Observation-category", "The category (vital-signs, laboratory, ...)", "category"),
        date("date", "clinical-date", "The clinically relevant time (effective[x])", "effective[x]"),
        _status("Observation"),
        token("value-concept", "Observation-value-concept", "A coded value", "valueCodeableConcept"),
    ],
    "DiagnosticReport": [
        _subject("DiagnosticReport", (*SUBJECTS, "Location")), _encounter("DiagnosticReport"),
        token("code", "clinical-code", "The report's code", "code"),
        token("category", "DiagnosticReport-category", "The category", "category"),
        date("date", "clinical-date", "The clinically relevant time (effective[x])", "effective[x]"),
        _status("DiagnosticReport"),
    ],
    "ServiceRequest": [
        _subject("ServiceRequest", (*SUBJECTS, "Location")), _encounter("ServiceRequest"),
        token("code", "clinical-code", "What is requested", "code"),
        _status("ServiceRequest"),
        token("intent", "ServiceRequest-intent", "The intent (order, plan, ...)", "intent"),
        token("category", "ServiceRequest-category", "The category", "category"),
        date("authored", "ServiceRequest-authored", "When it was requested", "authoredOn"),
    ],
    "Immunization": [
        date("date", "clinical-date", "When it was given (occurrence[x])", "occurrence[x]"),
        _status("Immunization"),
        token("vaccine-code", "Immunization-vaccine-code", "The vaccine", "vaccineCode"),
    ],
    "Procedure": [
        _subject("Procedure"), _encounter("Procedure"),
        token("code", "clinical-code", "The procedure's code", "code"),
        date("date", "clinical-date", "When it was performed (performed[x])", "performed[x]"),
        _status("Procedure"),
        token("category", "Procedure-category", "The category", "category"),
    ],
    "FamilyMemberHistory": [
        token("relationship", "FamilyMemberHistory-relationship", "The relative's relationship",
              "relationship"),
        _status("FamilyMemberHistory"),
        token("code", "clinical-code", "A condition of the relative", "condition.code"),
        date("date", "clinical-date", "When it was recorded", "date"),
    ],
    "DocumentReference": [
        _subject("DocumentReference", (*SUBJECTS, "Practitioner")),
        _encounter("DocumentReference", "context.encounter"),
        token("type", "clinical-type", "The kind of document", "type"),
        token("category", "DocumentReference-category", "The category", "category"),
        date("date", "DocumentReference-date", "When the reference was created", "date"),
        _status("DocumentReference"),
    ],
    "Invoice": [
        _subject("Invoice", (PATIENT,)),
        token("identifier", "clinical-identifier", "An identifier of the invoice (its number, its encounter)",
              "identifier"),
        _status("Invoice"),
        date("date", "Invoice-date", "The date of the visit billed", "date"),
        reference("participant", "Invoice-participant", "Who took part in what was billed (the physician)",
                  "participant.actor", ("Practitioner", "PractitionerRole", "Organization")),
    ],
    "Claim": [
        _status("Claim"),
        date("created", "Claim-created", "When the claim was created", "created"),
        reference("encounter", "Claim-encounter", "The encounter the claim bills", "item.encounter",
                  ("Encounter",)),
        reference("insurer", "Claim-insurer", "The payer the claim is sent to", "insurer", ("Organization",)),
        reference("provider", "Claim-provider", "The billing provider", "provider", PROVIDERS),
    ],
    "ClaimResponse": [
        _status("ClaimResponse"),
        reference("request", "ClaimResponse-request", "The claim it answers", "request", ("Claim",)),
        token("outcome", "ClaimResponse-outcome", "The processing outcome", "outcome"),
        date("created", "ClaimResponse-created", "When the answer was created", "created"),
        reference("insurer", "ClaimResponse-insurer", "The payer that answered", "insurer",
                  ("Organization",)),
    ],
    "Coverage": [
        reference("beneficiary", "Coverage-beneficiary", "The covered patient", "beneficiary", (PATIENT,)),
        reference("payor", "Coverage-payor", "Who pays", "payor", (PATIENT, "Organization", "RelatedPerson")),
        _status("Coverage"),
    ],
    "Appointment": [
        date("date", "Appointment-date", "When the appointment starts", "start"),
        _status("Appointment"),
        reference("actor", "Appointment-actor", "Any participant", "participant.actor",
                  (PATIENT, "Practitioner", "PractitionerRole", "RelatedPerson", "Location")),
        reference("practitioner", "Appointment-practitioner", "A participating practitioner",
                  "participant.actor", ("Practitioner",)),
        reference("location", "Appointment-location", "The location", "participant.actor", ("Location",)),
        reference("slot", "Appointment-slot", "A booked slot", "slot", ("Slot",)),
    ],
    "Schedule": [
        reference("actor", "Schedule-actor", "Whose schedule it is", "actor",
                  (PATIENT, "Practitioner", "PractitionerRole", "RelatedPerson", "Location")),
        token("active", "Schedule-active", "Whether it is in active use (true/false)", "active"),
    ],
    "Slot": [
        reference("schedule", "Slot-schedule", "The schedule it belongs to", "schedule", ("Schedule",)),
        date("start", "Slot-start", "When the slot starts", "start"),
        _status("Slot"),
    ],
    "Communication": [
        _subject("Communication"), _encounter("Communication"),
        date("sent", "Communication-sent", "When it was sent", "sent"),
        _status("Communication"),
        reference("recipient", "Communication-recipient", "A recipient", "recipient", (*PEOPLE, GROUP)),
        reference("sender", "Communication-sender", "The sender", "sender", PEOPLE),
        token("category", "Communication-category", "The category", "category"),
    ],
    "Task": [
        reference("subject", "Task-subject", "Who or what the task is for (Task.for)", "for", ANY_TYPE),
        _encounter("Task"),
        reference("owner", "Task-owner", "Who is responsible", "owner", (*PEOPLE, "Location")),
        _status("Task"),
        token("code", "Task-code", "The kind of task", "code"),
        token("priority", "Task-priority", "The priority (routine, urgent, ...)", "priority"),
        date("authored-on", "Task-authored-on", "When it was created", "authoredOn"),
        reference("focus", "Task-focus", "What the task acts on (a lab result to review, ...)", "focus",
                  ANY_TYPE),
    ],
    "Questionnaire": [
        string("name", "Questionnaire-name", "The computer-friendly name", "name"),
        string("title", "Questionnaire-title", "The human-friendly title", "title"),
        _status("Questionnaire"),
        token("url", "Questionnaire-url", "The canonical URL, matched exactly like a token", "url"),
    ],
    "QuestionnaireResponse": [
        _subject("QuestionnaireResponse", ANY_TYPE), _encounter("QuestionnaireResponse"),
        reference("questionnaire", "QuestionnaireResponse-questionnaire",
                  "The questionnaire answered (its canonical URL or Questionnaire/id)", "questionnaire",
                  ("Questionnaire",)),
        _status("QuestionnaireResponse"),
        date("authored", "QuestionnaireResponse-authored", "When the answers were gathered", "authored"),
    ],
    "Composition": [
        _subject("Composition", ANY_TYPE), _encounter("Composition"),
        token("type", "clinical-type", "The kind of document", "type"),
        _status("Composition"),
        date("date", "clinical-date", "When it was edited", "date"),
        reference("author", "Composition-author", "An author", "author", (*PEOPLE, "Device")),
        reference("related-ref", "Composition-related-ref", "A note it amends (replaces or appends to)",
                  "relatesTo.targetReference", ("Composition",)),
    ],
    "Provenance": [
        reference("target", "Provenance-target", "A resource it describes", "target", ANY_TYPE),
        reference("agent", "Provenance-agent", "Who participated", "agent.who", PEOPLE),
        date("recorded", "Provenance-recorded", "When it was recorded", "recorded"),
    ],
    GROUP: [
        reference("member", "Group-member", "A member", "member.entity",
                  (PATIENT, "Practitioner", "PractitionerRole", GROUP)),
        token("type", "Group-type", "The kind of members (person, practitioner, ...)", "type"),
        string("name", "Group-name", "The group's name (as in FHIR R5)", "name"),
    ],
}

SEARCH_PARAMETERS: Mapping[str, Mapping[str, SearchParameter]] = {
    resource_type: {p.name: p for p in [*_common(resource_type), *DECLARED.get(resource_type, [])]}
    for resource_type in STORED_TYPES
}

# The DATE parameter that orders a type on the patient's clinical timeline.
TIMELINE: Mapping[str, str] = {
    "Observation": "date", "Encounter": "date", "Condition": "recorded-date", "Procedure": "date",
    "Immunization": "date", "DiagnosticReport": "date", "MedicationRequest": "authoredon",
    "MedicationStatement": "effective", "AllergyIntolerance": "date", "FamilyMemberHistory": "date",
    "ServiceRequest": "authored", "Composition": "date", "DocumentReference": "date", "Appointment": "date",
    "Slot": "start", "Communication": "sent", "Task": "authored-on", "QuestionnaireResponse": "authored",
    "Provenance": "recorded", "Invoice": "date", "Claim": "created", "ClaimResponse": "created",
}

