"""Which order and which patient of the clinic a lab result belongs to. Never a guess.

A result that names a Cairn order (placer number) belongs to that order's patient, provided the
lab's birth date and family name agree with the chart. Without an order, the lab's identifiers
(PID-3) must find exactly one patient whose birth date and family name agree too. Anything less
leaves the result unmatched, with a reason a clinician reconciling it can act on: reasons name
what disagreed, never the values (they are PHI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.crypto.blind_index import normalize
from cairn.errors import ResourceNotFound
from cairn.fhir.references import relative_target
from cairn.fhir.search import MAX_COUNT, parse_search
from cairn.labs.model import FILLER_ORDER_SYSTEM, PLACER_ORDER_SYSTEM, OrderNumbers, PatientIdentity
from cairn.records.service import RecordService

SERVICE_REQUEST = "ServiceRequest"
PATIENT = "Patient"


@dataclass(frozen=True)
class PatientMatch:
    """The patient a result belongs to, or why none could be chosen (`reason` holds no PHI)."""

    patient_id: str | None
    reason: str | None = None

    @property
    def matched(self) -> bool:
        return self.patient_id is not None


def search_every_page(
    records: RecordService, resource_type: str, params: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """Every match the caller may see, following the pages: matching, the inbox and a trend
    decide on the whole set, never on its first page."""
    query = parse_search(resource_type, {**params, "_count": [str(MAX_COUNT)]})
    found: list[dict[str, Any]] = []
    while True:
        page = records.search(query)
        found += page.resources
        if page.next_cursor is None:
            return found
        query = query.with_cursor(page.next_cursor)


def find_order(records: RecordService, numbers: OrderNumbers) -> dict[str, Any] | None:
    """The ServiceRequest the lab answers: by Cairn's placer number, or, when the lab sent none,
    by the lab's filler number (recorded on the order once the lab acknowledged it). None unless
    exactly one order carries the number."""
    if numbers.placer:
        system, number = PLACER_ORDER_SYSTEM, numbers.placer
    elif numbers.filler:
        system, number = FILLER_ORDER_SYSTEM, numbers.filler
    else:
        return None
    query = parse_search(SERVICE_REQUEST, {"identifier": [_token(system, number)], "_count": ["2"]})
    orders = records.search(query).resources
    return orders[0] if len(orders) == 1 else None


def match_patient(
    records: RecordService, identity: PatientIdentity, order: Mapping[str, Any] | None
) -> PatientMatch:
    """The patient of the result: the order's subject when there is an order, else the one
    patient the lab's identifiers find; birth date and family name must agree either way."""
    missing = _missing_demographics(identity)
    if missing is not None:
        return PatientMatch(None, missing)
    if order is not None:
        return _ordered_patient(records, identity, order)
    return _identified_patient(records, identity)


def _missing_demographics(identity: PatientIdentity) -> str | None:
    if not identity.birth_date:
        return "the lab sent no birth date (PID-7), which Cairn needs to confirm the patient"
    if not normalize(identity.family):
        return "the lab sent no family name (PID-5), which Cairn needs to confirm the patient"
    return None


def _ordered_patient(
    records: RecordService, identity: PatientIdentity, order: Mapping[str, Any]
) -> PatientMatch:
    target = relative_target(str((order.get("subject") or {}).get("reference", "")))
    if target is None or target[0] != PATIENT:
        return PatientMatch(None, "the order the lab answered is not for a patient")
    try:
        patient = records.read(PATIENT, target[1])
    except ResourceNotFound:
        return PatientMatch(None, "the ordered patient is no longer in the clinic's records")
    if patient.get("birthDate") != identity.birth_date:
        return PatientMatch(None, "the ordered patient's birth date differs from the lab's")
    if not _family_agrees(patient, identity.family):
        return PatientMatch(None, "the ordered patient's family name differs from the lab's")
    return PatientMatch(target[1])


def _identified_patient(records: RecordService, identity: PatientIdentity) -> PatientMatch:
    values = list(dict.fromkeys(i.value for i in identity.identifiers if i.value.strip()))
    if not values:
        return PatientMatch(None, "the lab sent no patient identifier (PID-3) and the result names no order")
    # One search: a comma ORs the identifiers (one audited search, not one per PID-3 repetition).
    candidates = {str(patient["id"]): patient for patient in search_every_page(
        records, PATIENT, {"identifier": [",".join(_escaped(value) for value in values)]})}
    if not candidates:
        return PatientMatch(None, "no patient of the clinic has the identifier the lab sent")
    agreeing = [
        pid
        for pid, patient in candidates.items()
        if patient.get("birthDate") == identity.birth_date and _family_agrees(patient, identity.family)
    ]
    if len(agreeing) == 1:
        return PatientMatch(agreeing[0])
    if not agreeing:
        return PatientMatch(
            None,
            f"{_patients(len(candidates))} the identifier the lab sent, "
            "but the birth date or family name differs from the lab's",
        )
    return PatientMatch(
        None, f"{_patients(len(agreeing))} the identifier, birth date and family name the lab sent"
    )


def _patients(count: int) -> str:
    return "1 patient has" if count == 1 else f"{count} patients have"


def _family_agrees(patient: Mapping[str, Any], family: str) -> bool:
    """Whether any of the patient's names has the lab's family name, ignoring case, accents and
    spacing (labs often send names upper-case and unaccented)."""
    wanted = normalize(family)
    return any(
        isinstance(name, Mapping) and normalize(str(name.get("family", ""))) == wanted
        for name in patient.get("name") or ()
    )


def _token(system: str, value: str) -> str:
    return f"{system}|{_escaped(value)}"


def _escaped(value: str) -> str:
    """A value as one search alternative: a comma in it must not split it into two (OR)."""
    return value.replace(",", "\\,")
