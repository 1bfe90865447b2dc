"""The audit trail as FHIR AuditEvents through the FHIR API's Lambda handler: search by entity and
read by id, for the clinic's admins and (about their own record only) its patients; nobody
else, and never another clinic's trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import Cloud, caller
from tests.integration.clinical.test_chart_api import new_patient, send

AUDIT_EVENTS = "/fhir/R4/AuditEvent"


@pytest.fixture(autouse=True)
def fresh_runtime(cloud: Cloud) -> Iterator[None]:
    """Each test is a new process: the cached runtime must see this test's moto."""
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


def read_patient(patient_id: str, who: TenantContext | None = None) -> None:
    assert send("GET", f"/fhir/R4/Patient/{patient_id}", who or caller())[0] == 200


def events_about(entity: str, who: TenantContext) -> list[dict[str, Any]]:
    status, _, bundle = send("GET", AUDIT_EVENTS, who, query={"entity": [entity]})
    assert (status, bundle["type"]) == (200, "searchset"), bundle
    return [entry["resource"] for entry in bundle.get("entry", [])]


def interaction(event: dict[str, Any]) -> tuple[str, str, str]:
    """(subtype, who, what) of an AuditEvent."""
    return (event["subtype"][0]["code"], event["agent"][0]["who"]["identifier"]["value"],
            event["entity"][0]["what"]["reference"])


def test_an_admin_lists_the_reads_of_a_patient_made_through_the_api() -> None:
    patient_id, other_id = new_patient(seed=1), new_patient(seed=2)
    read_patient(patient_id, caller(Role.PHYSICIAN))
    read_patient(patient_id, caller(Role.NURSE))
    read_patient(other_id)

    events = events_about(f"Patient/{patient_id}", caller(Role.ADMIN))

    reads = [interaction(event) for event in events if event["subtype"][0]["code"] == "read"]
    assert reads == [  # newest first
        ("read", caller(Role.NURSE).user_id, f"Patient/{patient_id}"),
        ("read", caller(Role.PHYSICIAN).user_id, f"Patient/{patient_id}"),
    ]
    assert {event["entity"][0]["what"]["reference"] for event in events} == {f"Patient/{patient_id}"}
    assert all(event["resourceType"] == "AuditEvent" for event in events)


def test_an_admin_reads_one_event_by_its_id() -> None:
    patient_id = new_patient()
    read_patient(patient_id)
    (listed, *_) = events_about(f"Patient/{patient_id}", caller(Role.ADMIN))

    status, _, event = send("GET", f"{AUDIT_EVENTS}/{listed['id']}", caller(Role.ADMIN))

    assert (status, event) == (200, listed)
    assert send("GET", f"{AUDIT_EVENTS}/20261122101530123-{'0' * 8}-0000-0000-0000-{'0' * 12}",
                caller(Role.ADMIN))[0] == 404


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING],
                         ids=lambda role: role.value)
def test_staff_other_than_admins_may_not_search_or_read_the_trail(role: Role) -> None:
    patient_id = new_patient()
    read_patient(patient_id)
    (event, *_) = events_about(f"Patient/{patient_id}", caller(Role.ADMIN))

    search_status, _, outcome = send("GET", AUDIT_EVENTS, caller(role),
                                     query={"entity": [f"Patient/{patient_id}"]})
    read_status, _, _ = send("GET", f"{AUDIT_EVENTS}/{event['id']}", caller(role))

    assert (search_status, read_status) == (403, 403)
    assert outcome["issue"][0]["code"] == "forbidden"


def test_a_patient_user_sees_only_events_about_their_own_patient() -> None:
    own_id, other_id = new_patient(seed=4), new_patient(seed=5)
    read_patient(own_id)
    read_patient(other_id)
    portal = caller(Role.PATIENT, patient_id=own_id)

    own = events_about(f"Patient/{own_id}", portal)
    assert own
    assert {event["entity"][0]["what"]["reference"] for event in own} == {f"Patient/{own_id}"}
    assert events_about(f"Patient/{other_id}", portal) == []
    (theirs, *_) = events_about(f"Patient/{other_id}", caller(Role.ADMIN))
    assert send("GET", f"{AUDIT_EVENTS}/{theirs['id']}", portal)[0] == 404
    status, _, unnamed = send("GET", AUDIT_EVENTS, portal)
    assert status == 200
    assert {e["resource"]["entity"][0]["what"]["reference"] for e in unnamed["entry"]} == {
        f"Patient/{own_id}"}


def test_another_clinics_admin_finds_nothing_of_the_trail() -> None:
    patient_id = new_patient()
    read_patient(patient_id)
    (event, *_) = events_about(f"Patient/{patient_id}", caller(Role.ADMIN))
    globex = caller(Role.ADMIN, tenant="globex")

    assert events_about(f"Patient/{patient_id}", globex) == []
    assert send("GET", f"{AUDIT_EVENTS}/{event['id']}", globex)[0] == 404
    _, _, recent = send("GET", AUDIT_EVENTS, globex)
    # Only globex's own attempts, which it may see: none of acme's events.
    agents = {entry["resource"]["agent"][0]["who"]["identifier"]["value"] for entry in recent["entry"]}
    assert agents == {globex.user_id}
    assert event["id"] not in {entry["resource"]["id"] for entry in recent["entry"]}


def test_an_unknown_search_parameter_is_400_naming_the_ones_taken() -> None:
    status, _, outcome = send("GET", AUDIT_EVENTS, caller(Role.ADMIN), query={"agent-name": ["x"]})

    assert status == 400
    assert "entity, patient, date, _count and _cursor" in outcome["issue"][0]["diagnostics"]
