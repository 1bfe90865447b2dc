"""Clinical notes: templates, drafts, signing, the immutability guard, amendments, parameters.

The record service is faked in memory (FakeRecordService): it validates nothing but keeps
versions and meta like the real one and calls guard_note_change before every Composition update
and delete, so these tests reach the guard through the same path as PUT, PATCH and DELETE.
Resources the notes module writes are checked against Cairn's real FHIR R4 validator.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from cairn.clock import fhir_instant
from cairn.errors import (
    AccessDenied,
    ImmutableResource,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PreconditionFailed,
    ResourceNotFound,
    VersionConflict,
)
from cairn.fhir.validation import validate_resource
from cairn.note_templates import DEFAULT_TEMPLATES, template_url
from cairn.notes import (
    NOTE_STATUS_SYSTEM,
    USER_SYSTEM,
    AmendRequest,
    DraftRequest,
    Records,
    amend_note,
    amendments,
    draft_note,
    guard_note_change,
    install_default_templates,
    is_signed,
    parse_amend_parameters,
    parse_draft_parameters,
    parse_sign_parameters,
    sign_note,
)
from multitenant.context import Role, TenantContext

SIGNED_AT = datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC)
Store = dict[tuple[str, str, str], list[dict[str, Any] | None]]
Index = Callable[[Mapping[str, Any]], set[str]]


def _urls(resource: Mapping[str, Any]) -> set[str]:
    return {resource["url"]} if "url" in resource else set()


def _related_ref(resource: Mapping[str, Any]) -> set[str]:
    return {r["targetReference"]["reference"] for r in resource.get("relatesTo", [])}


# The parameters cairn.notes asks the lead to declare; FakeRecordService(..., parameters=TODAY)
# behaves like today's cairn.fhir.search, which has none for these types.
WANTED: Mapping[str, Mapping[str, Index]] = {
    "Questionnaire": {"url": _urls}, "Composition": {"related-ref": _related_ref},
}
TODAY: Mapping[str, Mapping[str, Index]] = {}


class FakeRecordService:
    """The generic record service of one tenant, in memory: every version kept, meta assigned
    on each write, the notes guard called on Composition updates and deletes."""

    def __init__(self, context: TenantContext, store: Store,
                 parameters: Mapping[str, Mapping[str, Index]] = WANTED) -> None:
        self.context = context
        self.store = store
        self.parameters = parameters

    def _key(self, resource_type: str, resource_id: str) -> tuple[str, str, str]:
        return (self.context.tenant_id, resource_type, resource_id)

    def _write(self, resource: Mapping[str, Any], resource_id: str, version: int) -> dict[str, Any]:
        stored = copy.deepcopy(dict(resource))
        stored["id"] = resource_id
        stored["meta"] = {**stored.get("meta", {}), "versionId": str(version),
                          "lastUpdated": fhir_instant(datetime.now(UTC))}
        self.store.setdefault(self._key(stored["resourceType"], resource_id), []).append(stored)
        return copy.deepcopy(stored)

    def create(self, resource: object) -> dict[str, Any]:
        assert isinstance(resource, dict)
        return self._write(resource, str(uuid.uuid4()), 1)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        versions = self.store.get(self._key(resource_type, resource_id))
        if not versions or versions[-1] is None:
            raise ResourceNotFound(resource_type, resource_id)
        return copy.deepcopy(versions[-1])

    def update(self, resource_type: str, resource_id: str, resource: object, *,
               if_match: str | None = None, signing: bool = False) -> dict[str, Any]:
        assert isinstance(resource, dict)
        assert resource.get("id") == resource_id, "the real service refuses a body whose id differs"
        current = self.read(resource_type, resource_id)
        version = current["meta"]["versionId"]
        if if_match is not None and if_match not in (f'W/"{version}"', version):
            raise PreconditionFailed("If-Match names an older version")
        if resource_type == "Composition":
            guard_note_change(current, resource, signing=signing)
        return self._write(resource, resource_id, int(version) + 1)

    def delete(self, resource_type: str, resource_id: str) -> None:
        current = self.read(resource_type, resource_id)
        if resource_type == "Composition":
            guard_note_change(current, None)
        self.store[self._key(resource_type, resource_id)].append(None)

    def search(self, resource_type: str, params: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        known = self.parameters.get(resource_type, {})
        criteria = {name: values for name, values in params.items() if name != "_count"}
        for name in criteria:
            if name not in known:
                raise InvalidSearch(f"unknown search parameter {name!r} for {resource_type}")
        found = [
            copy.deepcopy(versions[-1]) for (tenant, kind, _), versions in self.store.items()
            if tenant == self.context.tenant_id and kind == resource_type and versions[-1] is not None
            and all(set(values) <= known[name](versions[-1]) for name, values in criteria.items())
        ]
        return found[: int(params.get("_count", ["20"])[-1])]

    def versions(self, resource_type: str, resource_id: str) -> int:
        return len(self.store[self._key(resource_type, resource_id)])


def service(store: Store, role: Role = Role.PHYSICIAN, user: str = "dr-ada", tenant: str = "clinic-a",
            parameters: Mapping[str, Mapping[str, Index]] = WANTED) -> FakeRecordService:
    return FakeRecordService(TenantContext(tenant, user, role), store, parameters)


def test_the_fake_is_a_records_service() -> None:
    records: Records = service({})
    assert records.context.tenant_id == "clinic-a"


@pytest.fixture
def store() -> Store:
    return {}


@pytest.fixture
def clinic(store: Store) -> dict[str, str]:
    """A clinic with the default templates, a patient with an encounter, and another patient."""
    admin = service(store, Role.ADMIN, "admin-1")
    templates = {q["url"]: q["id"] for q in install_default_templates(admin)}
    patient = admin.create({"resourceType": "Patient", "name": [{"family": "Lovelace"}]})
    other = admin.create({"resourceType": "Patient", "name": [{"family": "Byron"}]})
    encounter = admin.create({"resourceType": "Encounter", "status": "finished",
                              "class": {"code": "AMB"}, "subject": {"reference": f"Patient/{patient['id']}"}})
    return {"soap": templates[template_url("soap")],
            "telehealth": templates[template_url("telehealth-visit")],
            "patient": patient["id"], "other": other["id"], "encounter": encounter["id"]}


def written(note: dict[str, Any], *texts: str) -> dict[str, Any]:
    """The note with its first sections written, as a clinician's editor would PUT it."""
    edited = copy.deepcopy(note)
    for section, text in zip(edited["section"], texts, strict=False):
        section.pop("emptyReason", None)
        section["text"] = {"status": "additional", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}
    return edited


def signed_soap(store: Store, clinic: dict[str, str]) -> dict[str, Any]:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"], clinic["encounter"])
    records.update("Composition", note["id"], written(note, "Cough for three days."))
    return sign_note(records, note["id"], clock=lambda: SIGNED_AT)


# --- templates -----------------------------------------------------------------------------------

def test_default_templates_install_once_as_valid_note_template_questionnaires(store: Store) -> None:
    admin = service(store, Role.ADMIN)
    created = install_default_templates(admin)
    assert [q["url"] for q in created] == [t.url for t in DEFAULT_TEMPLATES]
    for template in created:
        validate_resource(template, "Questionnaire")
        assert {"system": "https://cairn.health/fhir/CodeSystem/note-template", "code": "note-template",
                "display": "Clinical note template"} in template["code"]
    assert install_default_templates(admin) == []
    assert len(admin.search("Questionnaire", {"_count": ["100"]})) == len(DEFAULT_TEMPLATES)


def test_soap_template_has_the_four_sections_with_their_loinc_codes(store: Store) -> None:
    soap = next(q for q in install_default_templates(service(store)) if q["url"].endswith("/soap"))
    assert [(item["text"], item["code"][0]["code"]) for item in soap["item"]] == [
        ("Subjective", "61150-9"), ("Objective", "61149-1"), ("Assessment", "51848-0"), ("Plan", "18776-5")]


def test_installing_keeps_a_clinics_edited_template_and_adds_only_the_missing(store: Store) -> None:
    admin = service(store, Role.ADMIN)
    soap = next(q for q in install_default_templates(admin) if q["url"].endswith("/soap"))
    admin.update("Questionnaire", soap["id"], {**soap, "title": "Our SOAP"})
    telehealth = template_url("telehealth-visit")
    store.pop(next(k for k, v in store.items() if v[-1] and v[-1].get("url") == telehealth))
    assert [q["url"] for q in install_default_templates(admin)] == [template_url("telehealth-visit")]
    assert admin.read("Questionnaire", soap["id"])["title"] == "Our SOAP"


def test_installing_works_without_the_url_search_parameter(store: Store) -> None:
    admin = service(store, Role.ADMIN, parameters=TODAY)
    assert len(install_default_templates(admin)) == len(DEFAULT_TEMPLATES)
    assert install_default_templates(admin) == []


def test_templates_installed_in_one_clinic_are_not_found_in_another(store: Store) -> None:
    install_default_templates(service(store, Role.ADMIN, tenant="clinic-a"))
    other_clinic = service(store, Role.ADMIN, tenant="clinic-b")
    assert len(install_default_templates(other_clinic)) == len(DEFAULT_TEMPLATES)


# --- drafting ------------------------------------------------------------------------------------

def test_a_physician_drafts_a_valid_preliminary_note_with_the_templates_sections(
    store: Store, clinic: dict[str, str],
) -> None:
    note = draft_note(service(store), clinic["soap"], clinic["patient"], clinic["encounter"],
                      clock=lambda: SIGNED_AT)
    validate_resource(note, "Composition")
    assert note["status"] == "preliminary"
    assert note["type"]["coding"][0]["code"] == "11506-3"
    assert note["subject"] == {"reference": f"Patient/{clinic['patient']}"}
    assert note["encounter"] == {"reference": f"Encounter/{clinic['encounter']}"}
    assert note["date"] == "2026-11-22T10:15:30.000Z"
    assert note["author"] == [
        {"identifier": {"system": USER_SYSTEM, "value": "dr-ada"}, "display": "physician"}]
    assert note["title"] == "SOAP note"
    assert [(s["title"], s["code"]["coding"][0]["code"]) for s in note["section"]] == [
        ("Subjective", "61150-9"), ("Objective", "61149-1"), ("Assessment", "51848-0"), ("Plan", "18776-5")]
    assert all(s["emptyReason"]["coding"][0]["code"] == "notstarted" for s in note["section"])
    assert note["extension"][0]["valueReference"]["reference"] == f"Questionnaire/{clinic['soap']}"
    assert not is_signed(note)


def test_a_nurse_drafts_a_telehealth_note_as_an_outpatient_note_with_her_title(
    store: Store, clinic: dict[str, str],
) -> None:
    nurse = service(store, Role.NURSE, "rn-1")
    note = draft_note(nurse, clinic["telehealth"], clinic["patient"], None, "Video")
    validate_resource(note, "Composition")
    assert note["type"]["coding"][0]["code"] == "34108-1"
    assert note["title"] == "Video"
    assert "encounter" not in note


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.ADMIN, Role.PATIENT])
def test_only_physicians_and_nurses_draft(store: Store, clinic: dict[str, str], role: Role) -> None:
    before = len(store)
    with pytest.raises(AccessDenied, match="only physicians and nurses"):
        draft_note(service(store, role), clinic["soap"], clinic["patient"])
    assert len(store) == before


def test_drafting_from_a_questionnaire_that_is_no_note_template_is_refused(
    store: Store, clinic: dict[str, str],
) -> None:
    form = service(store).create({"resourceType": "Questionnaire", "status": "active",
                                  "item": [{"linkId": "q1", "text": "Pain?", "type": "text"}]})
    with pytest.raises(InvalidResource, match="is not a note template"):
        draft_note(service(store), form["id"], clinic["patient"])


def test_drafting_with_another_patients_encounter_is_refused(store: Store, clinic: dict[str, str]) -> None:
    with pytest.raises(InvalidResource, match="not an encounter of this patient") as caught:
        draft_note(service(store), clinic["soap"], clinic["other"], clinic["encounter"])
    assert caught.value.issues[0]["expression"] == ["Parameters.parameter.encounter"]


def test_drafting_for_an_unknown_patient_is_not_found(store: Store, clinic: dict[str, str]) -> None:
    with pytest.raises(ResourceNotFound):
        draft_note(service(store), clinic["soap"], "no-such-patient")


def test_another_clinics_template_is_not_found(store: Store, clinic: dict[str, str]) -> None:
    other_clinic = service(store, tenant="clinic-b")
    patient = other_clinic.create({"resourceType": "Patient"})
    with pytest.raises(ResourceNotFound, match="Questionnaire"):
        draft_note(other_clinic, clinic["soap"], patient["id"])


# --- editing and signing -------------------------------------------------------------------------

def test_a_draft_is_edited_with_an_ordinary_update_and_deleted_freely(
    store: Store, clinic: dict[str, str],
) -> None:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"])
    edited = records.update("Composition", note["id"], written(note, "Headache."))
    assert edited["meta"]["versionId"] == "2"
    assert "Headache." in edited["section"][0]["text"]["div"]
    records.delete("Composition", note["id"])
    with pytest.raises(ResourceNotFound):
        records.read("Composition", note["id"])


def test_signing_makes_the_note_final_with_the_signer_as_legal_attester(
    store: Store, clinic: dict[str, str],
) -> None:
    signed = signed_soap(store, clinic)
    validate_resource(signed, "Composition")
    assert signed["status"] == "final"
    assert signed["attester"] == [{"mode": "legal", "time": "2026-11-22T10:15:30.000Z", "party": {
        "identifier": {"system": USER_SYSTEM, "value": "dr-ada"}, "display": "physician"}}]
    assert {"system": NOTE_STATUS_SYSTEM, "code": "signed", "display": "Signed"} in signed["meta"]["tag"]
    assert signed["meta"]["versionId"] == "3"
    assert is_signed(service(store).read("Composition", signed["id"]))


def test_any_nurse_of_the_clinic_may_sign_a_physicians_draft_and_is_recorded(
    store: Store, clinic: dict[str, str],
) -> None:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"])
    records.update("Composition", note["id"], written(note, "Seen."))
    signed = sign_note(service(store, Role.NURSE, "rn-7"), note["id"])
    assert signed["attester"][0]["party"]["identifier"]["value"] == "rn-7"
    assert signed["author"][0]["identifier"]["value"] == "dr-ada"


def test_signing_a_note_with_every_section_empty_is_refused_naming_them(
    store: Store, clinic: dict[str, str],
) -> None:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"])
    blank = written(note, " ", "<p>  </p>")
    records.update("Composition", note["id"], blank)
    with pytest.raises(InvalidResource, match=r"nothing to sign: every section is empty \(Subjective, "
                                              r"Objective, Assessment, Plan\)"):
        sign_note(records, note["id"])
    assert records.read("Composition", note["id"])["status"] == "preliminary"


def test_signing_a_signed_note_again_is_refused(store: Store, clinic: dict[str, str]) -> None:
    signed = signed_soap(store, clinic)
    with pytest.raises(ImmutableResource, match="signed on 2026-11-22 by dr-ada"):
        sign_note(service(store, Role.NURSE, "rn-7"), signed["id"])


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.ADMIN])
def test_only_physicians_and_nurses_sign(store: Store, clinic: dict[str, str], role: Role) -> None:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"])
    records.update("Composition", note["id"], written(note, "Seen."))
    with pytest.raises(AccessDenied):
        sign_note(service(store, role), note["id"])
    assert not is_signed(records.read("Composition", note["id"]))


def test_signing_with_a_stale_if_match_is_refused(store: Store, clinic: dict[str, str]) -> None:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"])
    records.update("Composition", note["id"], written(note, "Seen."))
    with pytest.raises(PreconditionFailed):
        sign_note(records, note["id"], 'W/"1"')
    assert sign_note(records, note["id"], 'W/"2"')["status"] == "final"


# --- the guard, through the update and delete paths ----------------------------------------------

def test_a_signed_note_cannot_change_through_an_update(store: Store, clinic: dict[str, str]) -> None:
    signed = signed_soap(store, clinic)
    records = service(store)
    with pytest.raises(ImmutableResource) as caught:
        records.update("Composition", signed["id"], written(signed, "Edited after signing."))
    assert str(caught.value) == (
        f"this note was signed on 2026-11-22 by dr-ada and cannot change; amend it with "
        f"POST /fhir/R4/Composition/{signed['id']}/$amend")
    assert "Edited" not in str(caught.value)
    assert records.versions("Composition", signed["id"]) == 3


@pytest.mark.parametrize("change", [
    lambda n: n.pop("meta"),
    lambda n: n.update(status="entered-in-error"),
    lambda n: n.pop("attester"),
    lambda n: n["meta"].update(tag=[]),
])
def test_a_signed_note_cannot_be_unsigned_or_withdrawn_through_an_update(
    store: Store, clinic: dict[str, str], change: Callable[[dict[str, Any]], object],
) -> None:
    signed = signed_soap(store, clinic)
    proposed = copy.deepcopy(signed)
    change(proposed)
    with pytest.raises(ImmutableResource):
        service(store).update("Composition", signed["id"], proposed)


def test_a_signed_note_cannot_be_deleted(store: Store, clinic: dict[str, str]) -> None:
    signed = signed_soap(store, clinic)
    with pytest.raises(ImmutableResource, match=r"\$amend"):
        service(store, Role.ADMIN).delete("Composition", signed["id"])


def test_resubmitting_a_signed_note_unchanged_is_a_no_op_that_passes(
    store: Store, clinic: dict[str, str],
) -> None:
    signed = signed_soap(store, clinic)
    assert service(store).update("Composition", signed["id"], signed)["status"] == "final"


@pytest.mark.parametrize(("forgery", "element"), [
    ({"status": "final"}, "Composition.status"),
    ({"attester": [{"mode": "legal", "party": {"display": "someone"}}]}, "Composition.attester"),
    ({"meta": {"tag": [{"system": NOTE_STATUS_SYSTEM, "code": "signed"}]}},
     "Composition.meta.tag"),
])
def test_an_update_cannot_forge_a_signature_on_a_draft(
    store: Store, clinic: dict[str, str], forgery: dict[str, Any], element: str,
) -> None:
    records = service(store)
    note = draft_note(records, clinic["soap"], clinic["patient"])
    with pytest.raises(InvalidResource, match=r"\$sign") as caught:
        records.update("Composition", note["id"], {**written(note, "Seen."), **forgery})
    assert [i["expression"] for i in caught.value.issues] == [[element]]
    assert not is_signed(records.read("Composition", note["id"]))


def test_a_signing_write_that_also_changes_the_note_is_refused_as_a_race(
    store: Store, clinic: dict[str, str],
) -> None:
    records = service(store)
    note = written(draft_note(records, clinic["soap"], clinic["patient"]), "Seen.")
    signed = {**note, "status": "final", "attester": [{"mode": "legal", "party": {"display": "x"}}],
              "meta": {"tag": [{"system": NOTE_STATUS_SYSTEM, "code": "signed"}]}}
    guard_note_change(note, signed, signing=True)
    with pytest.raises(VersionConflict, match="changed while it was being signed"):
        guard_note_change(note, {**signed, "title": "Other"}, signing=True)
    with pytest.raises(VersionConflict):
        guard_note_change(note, note, signing=True)


# --- amendments ----------------------------------------------------------------------------------

def test_a_correction_replaces_the_signed_note_with_its_sections_copied(
    store: Store, clinic: dict[str, str],
) -> None:
    original = signed_soap(store, clinic)
    correction = amend_note(service(store, Role.NURSE, "rn-7"), original["id"], "wrong side documented",
                            "correction", clock=lambda: SIGNED_AT)
    validate_resource(correction, "Composition")
    assert correction["status"] == "preliminary"
    assert correction["relatesTo"] == [{"code": "replaces",
                                        "targetReference": {"reference": f"Composition/{original['id']}"}}]
    assert correction["section"] == original["section"]
    for element in ("subject", "encounter", "type"):
        assert correction[element] == original[element]
    assert correction["title"] == "Correction of SOAP note"
    assert {"url": "https://cairn.health/fhir/StructureDefinition/amendment-reason",
            "valueString": "wrong side documented"} in correction["extension"]
    assert correction["author"][0]["identifier"]["value"] == "rn-7"
    assert service(store).read("Composition", original["id"]) == original


def test_an_addendum_appends_to_the_signed_note_with_empty_sections(
    store: Store, clinic: dict[str, str],
) -> None:
    original = signed_soap(store, clinic)
    addendum = amend_note(service(store), original["id"], "lab result arrived", "addendum")
    validate_resource(addendum, "Composition")
    assert addendum["relatesTo"][0]["code"] == "appends"
    assert [s["title"] for s in addendum["section"]] == ["Subjective", "Objective", "Assessment", "Plan"]
    assert all("text" not in s and s["emptyReason"]["coding"][0]["code"] == "notstarted"
               for s in addendum["section"])


def test_a_draft_is_not_amended_but_edited(store: Store, clinic: dict[str, str]) -> None:
    draft = draft_note(service(store), clinic["soap"], clinic["patient"])
    with pytest.raises(PreconditionFailed, match="is a draft: edit it"):
        amend_note(service(store), draft["id"], "typo", "correction")


def test_an_amendment_needs_a_reason_and_a_known_kind(store: Store, clinic: dict[str, str]) -> None:
    original = signed_soap(store, clinic)
    with pytest.raises(InvalidResource, match="say why"):
        amend_note(service(store), original["id"], "  ", "correction")
    with pytest.raises(InvalidResource, match="correction or addendum"):
        amend_note(service(store), original["id"], "typo", "rewrite")  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        amend_note(service(store, Role.FRONT_DESK), original["id"], "typo", "correction")


def test_amendments_are_signed_and_amended_in_turn_and_listed_per_note(
    store: Store, clinic: dict[str, str],
) -> None:
    original = signed_soap(store, clinic)
    records = service(store)
    correction = amend_note(records, original["id"], "wrong dose", "correction", clock=lambda: SIGNED_AT)
    signed_correction = sign_note(records, correction["id"])
    with pytest.raises(ImmutableResource):
        records.update("Composition", correction["id"], written(signed_correction, "again"))
    addendum = amend_note(records, correction["id"], "follow-up call", "addendum")
    later = amend_note(records, original["id"], "patient request", "addendum",
                       clock=lambda: SIGNED_AT.replace(hour=11))
    assert [n["id"] for n in amendments(records, original["id"])] == [correction["id"], later["id"]]
    assert [n["id"] for n in amendments(records, correction["id"])] == [addendum["id"]]
    assert amendments(records, addendum["id"]) == []


def test_amendments_are_listed_without_the_related_ref_search_parameter(
    store: Store, clinic: dict[str, str],
) -> None:
    original = signed_soap(store, clinic)
    today = service(store, parameters=TODAY)
    addendum = amend_note(today, original["id"], "late result", "addendum")
    assert [n["id"] for n in amendments(today, original["id"])] == [addendum["id"]]


def test_another_clinic_neither_sees_nor_amends_a_note(store: Store, clinic: dict[str, str]) -> None:
    original = signed_soap(store, clinic)
    amend_note(service(store), original["id"], "late result", "addendum")
    elsewhere = service(store, tenant="clinic-b")
    with pytest.raises(ResourceNotFound):
        amend_note(elsewhere, original["id"], "late result", "addendum")
    assert amendments(elsewhere, original["id"]) == []


# --- operation parameters ------------------------------------------------------------------------

def parameters(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(entries)}


def test_draft_parameters_take_references_or_ids() -> None:
    assert parse_draft_parameters(parameters(
        {"name": "template", "valueReference": {"reference": "Questionnaire/soap-1"}},
        {"name": "patient", "valueId": "p-1"},
        {"name": "encounter", "valueReference": {"reference": "Encounter/e-1"}},
        {"name": "title", "valueString": "Visit"},
    )) == DraftRequest("soap-1", "p-1", "e-1", "Visit")
    assert parse_draft_parameters(parameters(
        {"name": "template", "valueId": "t"},
        {"name": "patient", "valueReference": {"reference": "Patient/p"}},
    )) == DraftRequest("t", "p")


@pytest.mark.parametrize(("body", "message"), [
    (parameters({"name": "template", "valueId": "t"}), "parameter patient is required"),
    (parameters({"name": "template", "valueId": "t"}, {"name": "patient", "valueReference": {
        "reference": "Group/secret-123"}}), "parameter patient must be a valueReference to Patient/<id>"),
    (parameters({"name": "template", "valueId": "t"}, {"name": "patient", "valueString": "Ada Lovelace"}),
     "parameter patient must be"),
    (parameters({"name": "template", "valueId": "t"}, {"name": "template", "valueId": "u"},
                {"name": "patient", "valueId": "p"}), "parameter template is given more than once"),
    (parameters({"name": "template", "valueId": "t"}, {"name": "patient", "valueId": "p"},
                {"name": "title", "valueString": ""}), "parameter title must be a non-empty valueString"),
    (parameters({"name": "mrn", "valueString": "12345"}), "takes the parameters: template, patient"),
])
def test_bad_draft_parameters_are_named_without_echoing_values(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidResource) as caught:
        parse_draft_parameters(body)
    assert message in str(caught.value)
    assert not {"secret-123", "Ada Lovelace", "12345"} & set(str(caught.value).split())


@pytest.mark.parametrize("body", [
    None, [], {"resourceType": "Bundle"}, {"resourceType": "Parameters", "parameter": {}},
])
def test_a_body_that_is_not_parameters_is_malformed(body: object) -> None:
    with pytest.raises(MalformedRequest, match=r"\$draft"):
        parse_draft_parameters(body)


def test_sign_takes_no_parameters() -> None:
    parse_sign_parameters(None)
    parse_sign_parameters({"resourceType": "Parameters"})
    with pytest.raises(InvalidResource, match="takes the parameters: none"):
        parse_sign_parameters(parameters({"name": "signer", "valueString": "dr-b"}))


def test_amend_parameters() -> None:
    assert parse_amend_parameters(parameters(
        {"name": "reason", "valueString": "typo"}, {"name": "kind", "valueCode": "addendum"},
    )) == AmendRequest("typo", "addendum")
    with pytest.raises(InvalidResource, match="parameter kind must be the code correction or addendum"):
        parse_amend_parameters(parameters(
            {"name": "reason", "valueString": "x"}, {"name": "kind", "valueCode": "redo"}))
    with pytest.raises(InvalidResource, match="parameter reason is required"):
        parse_amend_parameters(parameters({"name": "kind", "valueCode": "correction"}))
