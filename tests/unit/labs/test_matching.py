"""Matching a lab result to its order and patient: by the order when there is one, else by the
lab's identifiers; birth date and family name must agree; reasons say why not, without PHI."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.labs.matching import PatientMatch, find_order, match_patient
from cairn.labs.model import (
    FILLER_ORDER_SYSTEM,
    PLACER_ORDER_SYSTEM,
    OrderNumbers,
    PatientIdentifier,
    PatientIdentity,
)
from tests.unit.labs.test_release import Clinic

BORN = "1970-01-31"


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def order(clinic: Clinic, patient_id: str, placer: str | None = "ORD-1", filler: str | None = None,
          tenant: str = "acme") -> dict[str, Any]:
    identifiers = [{"system": PLACER_ORDER_SYSTEM, "value": placer}] if placer else []
    identifiers += [{"system": FILLER_ORDER_SYSTEM, "value": filler}] if filler else []
    request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "code": {"text": "Basic metabolic panel"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "identifier": identifiers,
    }
    return clinic.system(tenant).create("ServiceRequest", request).resource


def identity(*mrns: str, family: str = "NGUYEN", birth_date: str | None = BORN) -> PatientIdentity:
    identifiers = tuple(PatientIdentifier(mrn, "ACME", "MR") for mrn in mrns or ("MRN-1",))
    return PatientIdentity(identifiers, family, ("LAN",), birth_date)


def assert_no_phi(match: PatientMatch) -> None:
    assert match.reason is not None
    for phi in ("MRN", "Nguyen", "NGUYEN", "nguyen", "Smith", "1970", "1971", "31"):
        assert phi not in match.reason


# ---- orders -------------------------------------------------------------------------------------


def test_the_order_is_found_by_cairns_placer_number(clinic):
    placed = order(clinic, clinic.patient(), placer="ORD-1", filler="LAB-9")
    order(clinic, clinic.patient(mrn="MRN-2"), placer="ORD-2")

    found = find_order(clinic.system(), OrderNumbers(placer="ORD-1", filler="LAB-9"))

    assert found is not None
    assert found["id"] == placed["id"]


def test_without_a_placer_number_the_order_is_found_by_the_labs_filler_number(clinic):
    placed = order(clinic, clinic.patient(), placer="ORD-1", filler="LAB-9")
    found = find_order(clinic.system(), OrderNumbers(filler="LAB-9"))
    assert found is not None
    assert found["id"] == placed["id"]


def test_a_filler_number_does_not_stand_in_for_a_placer_number(clinic):
    order(clinic, clinic.patient(), placer="ORD-1", filler="LAB-9")
    assert find_order(clinic.system(), OrderNumbers(placer="LAB-9")) is None


@pytest.mark.parametrize(
    "numbers", [OrderNumbers(), OrderNumbers(placer="ORD-404"), OrderNumbers(filler="X")]
)
def test_no_order_when_the_numbers_name_none(clinic, numbers):
    order(clinic, clinic.patient(), placer="ORD-1", filler="LAB-9")
    assert find_order(clinic.system(), numbers) is None


def test_two_orders_with_one_placer_number_are_no_order(clinic):
    order(clinic, clinic.patient(), placer="ORD-1")
    order(clinic, clinic.patient(mrn="MRN-2"), placer="ORD-1")
    assert find_order(clinic.system(), OrderNumbers(placer="ORD-1")) is None


def test_another_clinics_order_is_never_found(clinic):
    order(clinic, clinic.patient(), placer="ORD-1", tenant="acme")
    assert find_order(clinic.system("globex"), OrderNumbers(placer="ORD-1")) is None


# ---- the patient, by the order ------------------------------------------------------------------


def test_the_patient_is_the_orders_subject_when_birth_date_and_family_name_agree(clinic):
    ordered = clinic.patient(family="Nguyễn")
    other = clinic.patient(family="Nguyen", mrn="MRN-1")  # the lab's MRN names someone else

    match = match_patient(clinic.system(), identity("MRN-1", family="  NGUYEN "), order(clinic, ordered))

    assert match == PatientMatch(ordered)
    assert match.patient_id != other


def test_the_ordered_patient_with_another_birth_date_is_no_match(clinic):
    ordered = clinic.patient()
    match = match_patient(clinic.system(), identity(birth_date="1971-01-31"), order(clinic, ordered))
    assert match == PatientMatch(None, "the ordered patient's birth date differs from the lab's")
    assert_no_phi(match)


def test_the_ordered_patient_with_another_family_name_is_no_match(clinic):
    ordered = clinic.patient()
    match = match_patient(clinic.system(), identity(family="SMITH"), order(clinic, ordered))
    assert match == PatientMatch(None, "the ordered patient's family name differs from the lab's")
    assert_no_phi(match)


def test_a_former_family_name_of_the_ordered_patient_agrees(clinic):
    system = clinic.system()
    ordered = clinic.patient(family="Nguyen")
    patient = system.read("Patient", ordered)
    patient["name"].append({"use": "maiden", "family": "Tran"})
    system.update("Patient", ordered, patient)

    assert match_patient(system, identity(family="TRAN"), order(clinic, ordered)) == PatientMatch(ordered)


# ---- the patient, by the lab's identifiers ------------------------------------------------------


def test_without_an_order_the_one_patient_with_the_identifier_birth_date_and_name_matches(clinic):
    wanted = clinic.patient(mrn="MRN-1")
    clinic.patient(mrn="MRN-2")
    assert match_patient(clinic.system(), identity("MRN-1"), None) == PatientMatch(wanted)


def test_any_of_the_labs_identifiers_may_find_the_patient(clinic):
    wanted = clinic.patient(mrn="MRN-1")
    assert match_patient(clinic.system(), identity("LAB-77", "MRN-1"), None) == PatientMatch(wanted)


def test_an_unknown_identifier_is_no_match(clinic):
    clinic.patient(mrn="MRN-1")
    match = match_patient(clinic.system(), identity("MRN-404"), None)
    assert match == PatientMatch(None, "no patient of the clinic has the identifier the lab sent")
    assert_no_phi(match)


def test_the_patient_with_the_identifier_but_another_birth_date_is_no_match(clinic):
    clinic.patient(mrn="MRN-1", birth_date="1971-01-31")
    match = match_patient(clinic.system(), identity("MRN-1"), None)
    assert not match.matched
    assert match.reason == (
        "1 patient has the identifier the lab sent, but the birth date or family name differs from the lab's"
    )
    assert_no_phi(match)


def test_the_patient_with_the_identifier_but_another_family_name_is_no_match(clinic):
    clinic.patient(mrn="MRN-1", family="Smith")
    match = match_patient(clinic.system(), identity("MRN-1"), None)
    assert not match.matched
    assert_no_phi(match)


def test_two_patients_with_the_identifier_birth_date_and_name_are_ambiguous(clinic):
    clinic.patient(mrn="MRN-1")
    clinic.patient(mrn="MRN-1")
    match = match_patient(clinic.system(), identity("MRN-1"), None)
    assert match == PatientMatch(
        None, "2 patients have the identifier, birth date and family name the lab sent"
    )
    assert_no_phi(match)


def test_of_two_patients_with_the_identifier_the_one_whose_birth_date_agrees_matches(clinic):
    wanted = clinic.patient(mrn="MRN-1")
    clinic.patient(mrn="MRN-1", birth_date="1971-01-31")
    assert match_patient(clinic.system(), identity("MRN-1"), None) == PatientMatch(wanted)


def test_another_clinics_patient_with_the_identifier_is_never_matched(clinic):
    clinic.patient(mrn="MRN-1")
    match = match_patient(clinic.system("globex"), identity("MRN-1"), None)
    assert match == PatientMatch(None, "no patient of the clinic has the identifier the lab sent")


# ---- what the lab must send ---------------------------------------------------------------------


@pytest.mark.parametrize("with_order", [True, False])
def test_no_birth_date_from_the_lab_is_no_match_saying_so(clinic, with_order):
    patient_id = clinic.patient()
    ordered = order(clinic, patient_id) if with_order else None
    match = match_patient(clinic.system(), identity(birth_date=None), ordered)
    assert match.patient_id is None
    assert "no birth date (PID-7)" in (match.reason or "")


@pytest.mark.parametrize("with_order", [True, False])
def test_no_family_name_from_the_lab_is_no_match_saying_so(clinic, with_order):
    patient_id = clinic.patient()
    ordered = order(clinic, patient_id) if with_order else None
    match = match_patient(clinic.system(), identity(family=" "), ordered)
    assert match.patient_id is None
    assert "no family name (PID-5)" in (match.reason or "")


def test_no_identifier_and_no_order_is_no_match_saying_so(clinic):
    clinic.patient()
    bare = PatientIdentity((PatientIdentifier(" "),), "NGUYEN", (), BORN)
    match = match_patient(clinic.system(), bare, None)
    assert match.patient_id is None
    assert "no patient identifier (PID-3)" in (match.reason or "")


def test_an_order_for_a_group_is_no_patient_match(clinic):
    group = clinic.system().create("Group", {"resourceType": "Group", "type": "person", "actual": True})
    request = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
               "subject": {"reference": f"Group/{group.resource['id']}"}}
    ordered = clinic.system().create("ServiceRequest", request).resource
    match = match_patient(clinic.system(), identity(), ordered)
    assert match == PatientMatch(None, "the order the lab answered is not for a patient")
