"""Clinical notes through the FHIR API's Lambda handler: drafted from a template with
Composition/$draft, edited with PUT, signed with $sign, then immutable on every write path (PUT,
PATCH, DELETE, a transaction) until amended with $amend; and who may do which (roles, tenants)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from cairn import notes
from cairn.note_records import NoteRecords
from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import Cloud, caller
from tests.integration.clinical.test_chart_api import new_patient, send

NOTES = "/fhir/R4/Composition"
SOAP_URL_SUFFIX = "soap"
FILLED = '<div xmlns="http://www.w3.org/1999/xhtml">Cough for three days, no fever.</div>'


@pytest.fixture(autouse=True)
def fresh_runtime(cloud: Cloud) -> Iterator[None]:
    """Each test is a new process: the cached runtime must see this test's moto."""
    api.runtime.cache_clear()
    yield
    api.runtime.cache_clear()


@pytest.fixture
def soap_template(cloud: Cloud) -> str:
    """The id of acme's SOAP note template, installed as onboarding installs the defaults."""
    installed = notes.install_default_templates(NoteRecords(cloud.runtime.records(caller(Role.ADMIN))))
    return next(str(q["id"]) for q in installed if str(q["url"]).endswith(SOAP_URL_SUFFIX))


def draft_parameters(template_id: str, patient_id: str) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "template", "valueReference": {"reference": f"Questionnaire/{template_id}"}},
        {"name": "patient", "valueReference": {"reference": f"Patient/{patient_id}"}},
    ]}


def amend_parameters(reason: str = "wrong duration of the cough", kind: str = "correction") -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "reason", "valueString": reason},
        {"name": "kind", "valueCode": kind},
    ]}


def draft(
    template_id: str, who: TenantContext | None = None, patient_id: str | None = None
) -> dict[str, Any]:
    """A draft note (201) of a new acme patient, as stored."""
    status, headers, note = send("POST", f"{NOTES}/$draft", who or caller(),
                                 draft_parameters(template_id, patient_id or new_patient()))
    assert status == 201, note
    assert headers["Location"].endswith(f"{NOTES}/{note['id']}/_history/1")
    return note


def written(note: dict[str, Any], who: TenantContext | None = None) -> dict[str, Any]:
    """The draft with its first section written, stored with PUT (200)."""
    edited = copy.deepcopy(note)
    edited["section"][0]["text"] = {"status": "generated", "div": FILLED}
    edited["section"][0].pop("emptyReason", None)
    status, _, stored = send("PUT", f"{NOTES}/{note['id']}", who or caller(), edited)
    assert status == 200, stored
    return stored


def signed(template_id: str, who: TenantContext | None = None) -> dict[str, Any]:
    """A note drafted, written and signed by `who` (a physician unless named)."""
    note = written(draft(template_id, who), who)
    status, _, final = send("POST", f"{NOTES}/{note['id']}/$sign", who or caller())
    assert status == 200, final
    return final


def diagnostics(outcome: dict[str, Any]) -> str:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return " ".join(str(issue.get("diagnostics", "")) for issue in outcome["issue"])


def test_a_drafted_note_has_the_templates_sections_each_not_started(soap_template: str) -> None:
    patient_id = new_patient()

    note = draft(soap_template, patient_id=patient_id)

    assert (note["status"], note["subject"]) == ("preliminary", {"reference": f"Patient/{patient_id}"})
    assert [section["title"] for section in note["section"]] == ["Subjective", "Objective", "Assessment",
                                                                  "Plan"]
    assert all(section["emptyReason"]["coding"][0]["code"] == "notstarted" for section in note["section"])
    assert note["author"][0]["identifier"]["value"] == caller().user_id


def test_signing_a_written_draft_makes_it_final_with_the_signer_as_legal_attester(
    soap_template: str,
) -> None:
    note = written(draft(soap_template))

    status, headers, final = send("POST", f"{NOTES}/{note['id']}/$sign", caller())

    assert (status, final["status"], headers["ETag"]) == (200, "final", 'W/"3"')
    (attester,) = final["attester"]
    assert (attester["mode"], attester["party"]["identifier"]["value"]) == ("legal", caller().user_id)
    assert {"system": notes.NOTE_STATUS_SYSTEM, "code": notes.SIGNED} in [
        {k: tag[k] for k in ("system", "code")} for tag in final["meta"]["tag"]]
    assert send("GET", f"{NOTES}/{note['id']}", caller())[2] == final


def test_a_signed_note_refuses_put_patch_and_delete_with_409_saying_to_amend(soap_template: str) -> None:
    final = signed(soap_template)
    path = f"{NOTES}/{final['id']}"
    changed = copy.deepcopy(final)
    changed["section"][0]["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml">Changed.</div>'
    replace_title = [{"op": "replace", "path": "/title", "value": "Another title"}]

    answers = [
        send("PUT", path, caller(), changed),
        send("PATCH", path, caller(), replace_title, content_type="application/json-patch+json"),
        send("DELETE", path, caller()),
    ]

    for status, _, outcome in answers:
        assert status == 409, outcome
        assert outcome["issue"][0]["code"] == "business-rule"
        assert f"{path}/$amend" in diagnostics(outcome)
    assert send("GET", path, caller())[2] == final


def test_a_transaction_updating_a_signed_note_is_refused_and_changes_nothing(soap_template: str) -> None:
    final = signed(soap_template)
    changed = {**final, "title": "Quietly retitled"}
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": changed, "request": {"method": "PUT", "url": f"Composition/{final['id']}"}},
    ]}

    status, _, outcome = send("POST", "/fhir/R4", caller(), transaction)

    assert status == 409, outcome
    assert "$amend" in diagnostics(outcome)
    assert send("GET", f"{NOTES}/{final['id']}", caller())[2] == final


def test_amending_a_signed_note_drafts_a_correction_that_replaces_it_and_is_found_by_related_ref(
    soap_template: str,
) -> None:
    final = signed(soap_template)

    status, headers, amendment = send("POST", f"{NOTES}/{final['id']}/$amend", caller(), amend_parameters())

    assert status == 201, amendment
    assert headers["Location"].endswith(f"{NOTES}/{amendment['id']}/_history/1")
    assert amendment["status"] == "preliminary"
    assert amendment["relatesTo"] == [
        {"code": "replaces", "targetReference": {"reference": f"Composition/{final['id']}"}}]
    assert amendment["section"] == final["section"]  # a correction starts from the signed text
    _, _, found = send("GET", NOTES, caller(), query={"related-ref": [f"Composition/{final['id']}"]})
    assert [entry["resource"]["id"] for entry in found.get("entry", [])] == [amendment["id"]]
    assert send("GET", f"{NOTES}/{final['id']}", caller())[2] == final


def test_a_nurse_may_draft_and_sign_a_note(soap_template: str) -> None:
    nurse = caller(Role.NURSE)

    final = signed(soap_template, nurse)

    assert final["status"] == "final"
    assert final["attester"][0]["party"]["identifier"]["value"] == nurse.user_id


def test_front_desk_may_not_draft_a_note(soap_template: str) -> None:
    status, _, outcome = send("POST", f"{NOTES}/$draft", caller(Role.FRONT_DESK),
                              draft_parameters(soap_template, new_patient()))

    assert status == 403
    assert outcome["issue"][0]["code"] == "forbidden"


def test_billing_cannot_read_or_search_notes(soap_template: str) -> None:
    note = draft(soap_template)
    billing = caller(Role.BILLING)

    assert send("GET", f"{NOTES}/{note['id']}", billing)[0] == 403
    assert send("GET", NOTES, billing)[0] == 403


def test_another_tenant_cannot_sign_or_amend_a_note(soap_template: str) -> None:
    draft_note = written(draft(soap_template))
    final = signed(soap_template)
    globex = caller(Role.PHYSICIAN, tenant="globex")

    sign_status, _, _ = send("POST", f"{NOTES}/{draft_note['id']}/$sign", globex)
    amend_status, _, _ = send("POST", f"{NOTES}/{final['id']}/$amend", globex, amend_parameters())

    assert (sign_status, amend_status) == (404, 404)
    assert send("GET", f"{NOTES}/{draft_note['id']}", caller())[2] == draft_note
    _, _, found = send("GET", NOTES, caller(), query={"related-ref": [f"Composition/{final['id']}"]})
    assert found.get("entry", []) == []


def test_signing_an_empty_note_is_422_naming_its_empty_sections(soap_template: str) -> None:
    note = draft(soap_template)

    status, _, outcome = send("POST", f"{NOTES}/{note['id']}/$sign", caller())

    assert status == 422
    assert outcome["issue"][0]["expression"] == ["Composition.section"]
    assert all(title in diagnostics(outcome) for title in ("Subjective", "Objective", "Assessment", "Plan"))
    assert send("GET", f"{NOTES}/{note['id']}", caller())[2] == note


def test_an_operation_body_that_is_not_parameters_is_400(soap_template: str) -> None:
    final = signed(soap_template)
    patient = {"resourceType": "Patient", "id": "x"}

    draft_status, _, draft_outcome = send("POST", f"{NOTES}/$draft", caller(), patient)
    amend_status, _, amend_outcome = send("POST", f"{NOTES}/{final['id']}/$amend", caller(), patient)

    assert (draft_status, amend_status) == (400, 400)
    assert "Parameters" in diagnostics(draft_outcome)
    assert "Parameters" in diagnostics(amend_outcome)
