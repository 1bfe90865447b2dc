"""The chart's newer endpoints across clinics, against a running `cairn dev`: second-clinic's
physician and admin, holding real tokens, aim at demo-clinic's Observation (read, search,
history, vread), a patient's $everything, the audit trail, a bulk export job and a draft note's
$sign. Every attempt is refused (403/404) or answers an empty search; none answers with
demo-clinic's data, and nothing of demo-clinic changes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from cairn.note_templates import template_url
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e

VICTIM = "demo-clinic"
ATTACKER = "second-clinic"
ATTACKERS = ("physician", "admin")
REFUSED = {403, 404}
FHIR = "/fhir/R4"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
WRITTEN = '<div xmlns="http://www.w3.org/1999/xhtml">Knee pain after a fall, no swelling.</div>'


@dataclass(frozen=True)
class VictimChart:
    """demo-clinic records made for this module: a patient, their Observation (two versions), a
    written draft note, and a bulk export job; and what demo-clinic's trail says about the patient
    (its events' ids and the users who acted)."""

    patient_id: str
    observation_id: str
    note_id: str
    job_id: str
    audit_event_ids: tuple[str, ...]
    audit_agents: tuple[str, ...]

    def ids(self) -> list[str]:
        return [self.patient_id, self.observation_id, self.note_id, self.job_id]

    def trail(self) -> list[str]:
        """What only demo-clinic's trail holds. (The attacker's own trail rightly names the ids
        it sent, so an AuditEvent answer is judged by these instead.)"""
        return [*self.audit_event_ids, *self.audit_agents]


def _request(cairn_dev: CairnDev, method: str, path: str, tenant: str, role: str, *,
             body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
    return requests.request(
        method, f"{cairn_dev.api_url}{path}", params=params, timeout=60,
        headers={**cairn_dev.auth(tenant, role), **FHIR_JSON, **(headers or {})},
        data=None if body is None else json.dumps(body),
    )


def _as_victim(cairn_dev: CairnDev, method: str, path: str, role: str, expected: int,
               **kwargs: Any) -> dict[str, Any]:
    response = _request(cairn_dev, method, path, VICTIM, role, **kwargs)
    assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer if expected != 202 else {"Content-Location": response.headers["Content-Location"]}


def _soap_template(cairn_dev: CairnDev) -> str:
    found = _as_victim(cairn_dev, "GET", f"{FHIR}/Questionnaire", "physician", 200,
                       params={"url": template_url("soap")})
    (entry,) = found["entry"]
    return str(entry["resource"]["id"])


@pytest.fixture(scope="module")
def victim(cairn_dev: CairnDev) -> VictimChart:
    """The victim's records, made through the API by demo-clinic's own physician and admin."""
    patient = _as_victim(cairn_dev, "POST", f"{FHIR}/Patient", "physician", 201, body={
        "resourceType": "Patient", "name": [{"family": f"Isolde{uuid.uuid4().hex[:6]}", "given": ["Ann"]}],
        "gender": "female", "birthDate": "1971-04-09",
    })
    observation = _as_victim(cairn_dev, "POST", f"{FHIR}/Observation", "physician", 201, body={
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient['id']}"}, "effectiveDateTime": "2026-11-01T09:00:00Z",
        "valueQuantity": {"value": 64, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    })
    _as_victim(cairn_dev, "PUT", f"{FHIR}/Observation/{observation['id']}", "physician", 200,
               body={**observation, "status": "amended"})
    template = f"Questionnaire/{_soap_template(cairn_dev)}"
    note = _as_victim(cairn_dev, "POST", f"{FHIR}/Composition/$draft", "physician", 201, body={
        "resourceType": "Parameters", "parameter": [
            {"name": "template", "valueReference": {"reference": template}},
            {"name": "patient", "valueReference": {"reference": f"Patient/{patient['id']}"}},
        ]})
    note["section"][0]["text"] = {"status": "generated", "div": WRITTEN}
    note["section"][0].pop("emptyReason", None)
    written = _as_victim(cairn_dev, "PUT", f"{FHIR}/Composition/{note['id']}", "physician", 200, body=note)
    job = _as_victim(cairn_dev, "GET", f"{FHIR}/$export", "admin", 202, headers={"Prefer": "respond-async"})
    trail = _as_victim(cairn_dev, "GET", f"{FHIR}/AuditEvent", "admin", 200,
                       params={"entity": f"Patient/{patient['id']}"})
    events = [entry["resource"] for entry in trail["entry"]]
    assert events, "demo-clinic's trail should hold the patient's creation"
    return VictimChart(
        patient_id=str(patient["id"]), observation_id=str(observation["id"]), note_id=str(written["id"]),
        job_id=job["Content-Location"].rsplit("/", 1)[1],
        audit_event_ids=tuple(str(event["id"]) for event in events),
        audit_agents=tuple({str(event["agent"][0]["who"]["identifier"]["value"]) for event in events}),
    )


def _names_the_victim(response: requests.Response, markers: list[str]) -> bool:
    """Whether an answer carries any of `markers` outside the links that echo the query."""
    try:
        body = response.json()
    except ValueError:
        return any(marker in response.text for marker in markers)
    if isinstance(body, dict):
        body = {**body, "link": []}
        body["entry"] = [{k: v for k, v in entry.items() if k != "fullUrl"}
                         for entry in body.get("entry", [])]
    return any(marker in json.dumps(body) for marker in markers)


def _probes(chart: VictimChart) -> list[tuple[str, str, dict[str, str] | None, dict[str, Any] | None]]:
    """(method, path, query, body) of each attempt on the victim's records."""
    observation = f"{FHIR}/Observation/{chart.observation_id}"
    return [
        ("GET", observation, None, None),
        ("GET", f"{observation}/_history", None, None),
        ("GET", f"{observation}/_history/1", None, None),
        ("GET", f"{observation}/_history/2", None, None),
        ("GET", f"{FHIR}/Observation", {"_id": chart.observation_id}, None),
        ("GET", f"{FHIR}/Observation", {"patient": chart.patient_id}, None),
        ("GET", f"{FHIR}/Observation/_history", None, None),
        ("GET", f"{FHIR}/Patient/{chart.patient_id}/$everything", None, None),
        ("GET", f"{FHIR}/AuditEvent", {"entity": f"Patient/{chart.patient_id}"}, None),
        ("GET", f"{FHIR}/AuditEvent", {"patient": chart.patient_id}, None),
        ("GET", f"{FHIR}/AuditEvent", None, None),
        ("GET", f"{FHIR}/$export-status/{chart.job_id}", None, None),
        ("DELETE", f"{FHIR}/$export-status/{chart.job_id}", None, None),
        ("POST", f"{FHIR}/Composition/{chart.note_id}/$sign", None, None),
        ("POST", f"{FHIR}/Composition/{chart.note_id}/$amend", None, {
            "resourceType": "Parameters", "parameter": [
                {"name": "reason", "valueString": "isolation"}, {"name": "kind", "valueCode": "addendum"}]}),
    ]


@pytest.mark.parametrize("role", ATTACKERS)
def test_another_clinic_reaches_none_of_the_charts_new_endpoints(
    cairn_dev: CairnDev, victim: VictimChart, role: str
) -> None:
    failures = []
    for method, path, query, body in _probes(victim):
        response = _request(cairn_dev, method, path, ATTACKER, role, params=query, body=body)
        label = f"{ATTACKER} {role}: {method} {path} {query or ''} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(f"{label}: server error")
        elif any(victim_id in path for victim_id in victim.ids()):
            if response.status_code not in REFUSED:
                failures.append(f"{label}: another clinic's id in the path was not refused")
        elif response.status_code not in REFUSED | {200}:
            failures.append(f"{label}: neither refused nor an empty answer")
        markers = victim.trail() if path.startswith(f"{FHIR}/AuditEvent") else victim.ids()
        if response.ok and _names_the_victim(response, markers):
            failures.append(f"{label}: the answer names demo-clinic's records")
    assert failures == [], "\n".join(failures)


def test_the_victims_records_are_unchanged_after_the_attempts(
    cairn_dev: CairnDev, victim: VictimChart
) -> None:
    for role in ATTACKERS:  # the attempts, even when this test runs alone
        _request(cairn_dev, "POST", f"{FHIR}/Composition/{victim.note_id}/$sign", ATTACKER, role)
        _request(cairn_dev, "DELETE", f"{FHIR}/$export-status/{victim.job_id}", ATTACKER, role)

    note = _as_victim(cairn_dev, "GET", f"{FHIR}/Composition/{victim.note_id}", "physician", 200)
    observation = _as_victim(cairn_dev, "GET", f"{FHIR}/Observation/{victim.observation_id}", "physician",
                             200)
    job = _request(cairn_dev, "GET", f"{FHIR}/$export-status/{victim.job_id}", VICTIM, "admin")

    assert (note["status"], note["meta"]["versionId"], note.get("attester")) == ("preliminary", "2", None)
    assert observation["meta"]["versionId"] == "2"
    assert job.status_code in (200, 202), job.text  # still demo-clinic's: in progress or complete
