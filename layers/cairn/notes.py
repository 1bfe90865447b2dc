"""Clinical notes: drafted from a clinic's templates, signed once, then amended, never edited.

A note is a FHIR R4 Composition (progress or outpatient note) of one patient, drafted from a note
template (a Questionnaire, see cairn.note_templates) by a physician or nurse. A draft is edited
with the ordinary FHIR update. Signing (any physician or nurse of the clinic may sign; the signer
is recorded as the legal attester) makes it final and immutable: `guard_note_change`, which the
record service calls before every update, patch and delete of a Composition, refuses any change
to a signed note, and refuses a plain update that tries to forge a signature. A signed note is
corrected or added to (HIPAA right to amend) by a new Composition that `replaces` or `appends` it.

Everything here runs on `Records`, the generic record service of one tenant, so the permission
table, validation, versions and the audit trail apply to every write.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import (
    AccessDenied,
    ImmutableResource,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PreconditionFailed,
    VersionConflict,
)
from cairn.fhir.outcome import issue
from cairn.fhir.search import MAX_COUNT
from cairn.note_templates import (
    DEFAULT_TEMPLATES,
    LOINC,
    NOTE_TEMPLATE_CODE,
    NOTE_TEMPLATE_SYSTEM,
    PROGRESS_NOTE,
    questionnaire,
)
from multitenant.context import Role, TenantContext

COMPOSITION = "Composition"
QUESTIONNAIRE = "Questionnaire"
USER_SYSTEM = "https://cairn.health/fhir/sid/user"
NOTE_STATUS_SYSTEM = "https://cairn.health/fhir/CodeSystem/note-status"
SIGNED = "signed"
SIGNED_TAG: Mapping[str, str] = {"system": NOTE_STATUS_SYSTEM, "code": SIGNED, "display": "Signed"}
TEMPLATE_EXTENSION = "https://cairn.health/fhir/StructureDefinition/note-template"
AMENDMENT_REASON_EXTENSION = "https://cairn.health/fhir/StructureDefinition/amendment-reason"
NOT_STARTED: Mapping[str, Any] = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "notstarted",
    "display": "Not Started",
}]}
SIGNED_STATUSES = ("final", "amended")
SECTION_ITEM_TYPES = ("text", "group")
CLINICIANS = (Role.PHYSICIAN, Role.NURSE)
SERVER_META = ("versionId", "lastUpdated")
# The search parameters these lookups use; while one is not declared (see _find), the lookup
# lists the type and filters here.
TEMPLATE_URL_PARAMETER = "url"
RELATED_REF_PARAMETER = "related-ref"  # FHIR R4 Composition-related-ref: relatesTo.targetReference
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
TAGS = re.compile(r"<[^>]*>")

AmendmentKind = Literal["correction", "addendum"]
# HIPAA right to amend: a correction replaces the signed note, an addendum adds to it.
RELATION_OF_KIND: Mapping[str, str] = {"correction": "replaces", "addendum": "appends"}
TITLE_OF_KIND: Mapping[str, str] = {"correction": "Correction of", "addendum": "Addendum to"}


class Records(Protocol):
    """The generic record service of one tenant (cairn.records.service), as notes use it.

    `update(..., signing=True)` is how sign_note marks its own write: the service passes
    `signing` unchanged to guard_note_change, and no HTTP route ever sets it.
    """

    context: TenantContext

    def create(self, resource: object) -> dict[str, Any]: ...

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]: ...

    def update(
        self, resource_type: str, resource_id: str, resource: object, *,
        if_match: str | None = None, signing: bool = False,
    ) -> dict[str, Any]: ...

    def search(self, resource_type: str, params: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]: ...


# --- templates -----------------------------------------------------------------------------------

def install_default_templates(records: Records) -> list[dict[str, Any]]:
    """Install Cairn's default note templates into the tenant; the ones created (idempotent: a
    template whose url the tenant already has, edited or not, is left alone)."""
    created = []
    for template in DEFAULT_TEMPLATES:
        if not _find(records, QUESTIONNAIRE, TEMPLATE_URL_PARAMETER, template.url, _has_url(template.url)):
            created.append(records.create(questionnaire(template)))
    return created


def _has_url(url: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda resource: resource.get("url") == url


def is_note_template(resource: Mapping[str, Any]) -> bool:
    return resource.get("resourceType") == QUESTIONNAIRE and any(
        coding.get("system") == NOTE_TEMPLATE_SYSTEM and coding.get("code") == NOTE_TEMPLATE_CODE
        for coding in resource.get("code", [])
    )


# --- drafting ------------------------------------------------------------------------------------

def draft_note(
    records: Records, template_id: str, patient_id: str, encounter_id: str | None = None,
    title: str | None = None, *, clock: Clock = utc_now,
) -> dict[str, Any]:
    """A new draft note (Composition, status preliminary) for the patient, with the template's
    sections, each empty until written. Only physicians and nurses draft notes."""
    _require_clinician(records.context, "draft notes")
    template = records.read(QUESTIONNAIRE, template_id)
    if not is_note_template(template):
        raise InvalidResource([issue(
            "invalid", f"Questionnaire/{template_id} is not a note template: its code must include "
            f"{NOTE_TEMPLATE_SYSTEM}|{NOTE_TEMPLATE_CODE}", "Parameters.parameter.template")])
    sections = [_section_from_item(item) for item in template.get("item", [])
                if item.get("type") in SECTION_ITEM_TYPES]
    if not sections:
        raise InvalidResource([issue(
            "invalid", f"Questionnaire/{template_id} has no sections: add top-level items of type "
            "text or group", "Parameters.parameter.template")])
    records.read("Patient", patient_id)
    note: dict[str, Any] = {
        "resourceType": COMPOSITION,
        "extension": [{"url": TEMPLATE_EXTENSION, "valueReference": {
            "reference": f"{QUESTIONNAIRE}/{template_id}", "display": str(template.get("title", template_id)),
        }}],
        "status": "preliminary",
        "type": {"coding": [_note_type(template)]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "date": fhir_instant(clock()),
        "author": [_user_reference(records.context)],
        "title": title or str(template.get("title", "Clinical note")),
        "section": sections,
    }
    if encounter_id:
        note["encounter"] = {"reference": f"Encounter/{_encounter_of(records, encounter_id, patient_id)}"}
    return records.create(note)


def _section_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = {"title": item.get("text") or item["linkId"]}
    if item.get("code"):
        section["code"] = {"coding": copy.deepcopy(item["code"])}
    section["emptyReason"] = copy.deepcopy(NOT_STARTED)
    return section


def _note_type(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template's LOINC document type; a progress note when the clinic's template names none."""
    for coding in template.get("code", []):
        if coding.get("system") == LOINC:
            return dict(coding)
    return dict(PROGRESS_NOTE)


def _encounter_of(records: Records, encounter_id: str, patient_id: str) -> str:
    encounter = records.read("Encounter", encounter_id)
    if encounter.get("subject", {}).get("reference") != f"Patient/{patient_id}":
        raise InvalidResource([issue(
            "invalid", f"Encounter/{encounter_id} is not an encounter of this patient; name one of theirs "
            "or none", "Parameters.parameter.encounter")])
    return encounter_id


# --- signing -------------------------------------------------------------------------------------

def sign_note(
    records: Records, composition_id: str, if_match: str | None = None, *, clock: Clock = utc_now,
) -> dict[str, Any]:
    """Sign a draft note: final, with the signer as legal attester and the signed tag. Any
    physician or nurse of the clinic may sign. After this the note can only be amended."""
    _require_clinician(records.context, "sign notes")
    note = records.read(COMPOSITION, composition_id)
    if is_signed(note):
        raise ImmutableResource(_signed_message(note))
    empty = [str(section.get("title", f"section {index + 1}"))
             for index, section in enumerate(note.get("section", [])) if not _has_text(section)]
    if len(empty) == len(note.get("section", [])):
        raise InvalidResource([issue(
            "business-rule", f"nothing to sign: every section is empty ({', '.join(empty) or 'none'}); "
            "write at least one section's text.div first", "Composition.section")])
    signed = copy.deepcopy(note)
    signed["status"] = "final"
    signed["attester"] = [{"mode": "legal", "time": fhir_instant(clock()),
                           "party": _user_reference(records.context)}]
    meta = signed.setdefault("meta", {})
    meta["tag"] = [*meta.get("tag", []), dict(SIGNED_TAG)]
    return records.update(COMPOSITION, composition_id, signed, if_match=if_match, signing=True)


def is_signed(note: Mapping[str, Any]) -> bool:
    return note.get("status") in SIGNED_STATUSES and any(_is_signed_tag(tag) for tag in _tags(note))


def _has_text(section: Mapping[str, Any]) -> bool:
    div = section.get("text", {}).get("div", "")
    return isinstance(div, str) and bool(TAGS.sub("", div).strip())


# --- the guard on every write --------------------------------------------------------------------

def guard_note_change(
    current: Mapping[str, Any], proposed: Mapping[str, Any] | None, *, signing: bool = False,
) -> None:
    """Refuse a write that would change a signed note, or forge a signature on a draft.

    The record service calls it before every update, patch and delete of a Composition, with the
    stored version and the proposed one (None for a delete), and `signing=True` only for the write
    sign_note makes. A proposal equal to a signed note (server meta aside) is allowed: a no-op.
    Creates (`current` empty) are not this guard's: a new note is a draft or an import.
    """
    if not current:
        return
    if is_signed(current):
        if proposed is not None and _content(proposed) == _content(current):
            return
        raise ImmutableResource(_signed_message(current))
    if proposed is None:
        return
    if signing:
        if not is_signed(proposed) or _unsigned_content(proposed) != _unsigned_content(current):
            raise VersionConflict(COMPOSITION, str(current.get("id")),
                                  "the note changed while it was being signed; read it again and sign it")
        return
    forged = _signature_issues(proposed, str(current.get("id")))
    if forged:
        raise InvalidResource(forged)


def _signature_issues(proposed: Mapping[str, Any], note_id: str) -> list[dict[str, Any]]:
    how = f"a note is signed only with POST /fhir/R4/Composition/{note_id}/$sign"
    issues = []
    if proposed.get("status") in SIGNED_STATUSES:
        issues.append(issue("business-rule", f"status stays preliminary in a draft; {how}",
                            "Composition.status"))
    if any(attester.get("mode") == "legal" for attester in proposed.get("attester", [])):
        issues.append(issue("business-rule", f"remove the legal attester; {how}", "Composition.attester"))
    if any(_is_signed_tag(tag) for tag in _tags(proposed)):
        issues.append(issue("business-rule", f"remove the signed tag; {how}", "Composition.meta.tag"))
    return issues


def _signed_message(note: Mapping[str, Any]) -> str:
    attester: Mapping[str, Any] = next(
        (a for a in note.get("attester", []) if a.get("mode") == "legal"), {})
    when = str(attester.get("time", "an unrecorded date"))[:10]
    who = attester.get("party", {}).get("identifier", {}).get("value", "an unrecorded user")
    return (f"this note was signed on {when} by {who} and cannot change; amend it with "
            f"POST /fhir/R4/Composition/{note.get('id')}/$amend")


def _content(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource without the meta the server assigns on every write."""
    content = copy.deepcopy(dict(resource))
    meta = {k: v for k, v in content.pop("meta", {}).items() if k not in SERVER_META}
    if meta:
        content["meta"] = meta
    return content


def _unsigned_content(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource without what signing sets: status, attester and the signed tag."""
    content = _content(resource)
    content.pop("status", None)
    content.pop("attester", None)
    meta = content.pop("meta", {})
    tags = [tag for tag in meta.pop("tag", []) if not _is_signed_tag(tag)]
    if tags:
        meta["tag"] = tags
    if meta:
        content["meta"] = meta
    return content


def _tags(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(resource.get("meta", {}).get("tag", []))


def _is_signed_tag(tag: Mapping[str, Any]) -> bool:
    return tag.get("system") == NOTE_STATUS_SYSTEM and tag.get("code") == SIGNED


# --- amendments ----------------------------------------------------------------------------------

def amend_note(
    records: Records, original_id: str, reason: str, kind: AmendmentKind, *, clock: Clock = utc_now,
) -> dict[str, Any]:
    """A new draft that corrects (replaces; sections copied to edit) or adds to (appends; sections
    empty) a signed note. The original is unchanged; the reason is kept on the amendment."""
    _require_clinician(records.context, "amend notes")
    if kind not in RELATION_OF_KIND:
        raise InvalidResource([issue("code-invalid", "kind must be correction or addendum",
                                     "Parameters.parameter.kind")])
    if not reason.strip():
        raise InvalidResource([issue("required", "say why the note is amended",
                                     "Parameters.parameter.reason")])
    original = records.read(COMPOSITION, original_id)
    if not is_signed(original):
        raise PreconditionFailed(f"Composition/{original_id} is a draft: edit it with PUT instead; only "
                                 "signed notes are amended")
    sections = [copy.deepcopy(section) if kind == "correction" else _emptied(section)
                for section in original.get("section", [])]
    amendment: dict[str, Any] = {
        "resourceType": COMPOSITION,
        "extension": [
            *(copy.deepcopy(e) for e in original.get("extension", []) if e.get("url") == TEMPLATE_EXTENSION),
            {"url": AMENDMENT_REASON_EXTENSION, "valueString": reason},
        ],
        "status": "preliminary",
        "type": copy.deepcopy(original["type"]),
        "subject": copy.deepcopy(original["subject"]),
        "date": fhir_instant(clock()),
        "author": [_user_reference(records.context)],
        "title": f"{TITLE_OF_KIND[kind]} {original.get('title', 'note')}",
        "relatesTo": [{"code": RELATION_OF_KIND[kind],
                       "targetReference": {"reference": f"{COMPOSITION}/{original_id}"}}],
    }
    for element in ("category", "encounter", "confidentiality"):
        if element in original:
            amendment[element] = copy.deepcopy(original[element])
    if sections:
        amendment["section"] = sections
    return records.create(amendment)


def amendments(records: Records, original_id: str) -> list[dict[str, Any]]:
    """The corrections and addenda of a note (drafts and signed), oldest first."""
    target = f"{COMPOSITION}/{original_id}"

    def relates(note: Mapping[str, Any]) -> bool:
        return any(relation.get("targetReference", {}).get("reference") == target
                   for relation in note.get("relatesTo", []))

    found = _find(records, COMPOSITION, RELATED_REF_PARAMETER, target, relates)
    return sorted(found, key=lambda note: str(note.get("date", "")))


def _emptied(section: Mapping[str, Any]) -> dict[str, Any]:
    emptied = {key: copy.deepcopy(section[key]) for key in ("title", "code") if key in section}
    emptied["emptyReason"] = copy.deepcopy(NOT_STARTED)
    return emptied


# --- shared --------------------------------------------------------------------------------------

def _require_clinician(context: TenantContext, action: str) -> None:
    if context.role not in CLINICIANS:
        raise AccessDenied(f"only physicians and nurses may {action}")


def _user_reference(context: TenantContext) -> dict[str, Any]:
    """A Cairn user as a FHIR Reference: users are not FHIR Practitioners (yet)."""
    return {"identifier": {"system": USER_SYSTEM, "value": context.user_id}, "display": context.role.value}


def _find(
    records: Records, resource_type: str, parameter: str, value: str,
    matches: Callable[[Mapping[str, Any]], bool],
) -> list[dict[str, Any]]:
    """Resources found by `parameter`, checked with `matches`. While the parameter is not declared
    in cairn.fhir.search (InvalidSearch), list the type (one page of MAX_COUNT) and filter here."""
    page = [str(MAX_COUNT)]
    try:
        found = records.search(resource_type, {parameter: [value], "_count": page})
    except InvalidSearch:
        found = records.search(resource_type, {"_count": page})
    return [resource for resource in found if matches(resource)]


# --- operation parameters ------------------------------------------------------------------------

@dataclass(frozen=True)
class DraftRequest:
    """POST /fhir/R4/Composition/$draft: template, patient, and optional encounter and title."""

    template_id: str
    patient_id: str
    encounter_id: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class AmendRequest:
    """POST /fhir/R4/Composition/<id>/$amend: why, and whether a correction or an addendum."""

    reason: str
    kind: AmendmentKind


def parse_draft_parameters(body: object) -> DraftRequest:
    """A DraftRequest from a FHIR Parameters body: template (valueReference Questionnaire/<id>),
    patient (valueReference Patient/<id>), encounter (valueReference Encounter/<id>, optional),
    title (valueString, optional). Ids may also be given as valueId."""
    given = _parameters(body, "$draft", ("template", "patient", "encounter", "title"))
    encounter = given.get("encounter")
    title = given.get("title")
    return DraftRequest(
        template_id=_reference_id(_required(given, "template"), "template", QUESTIONNAIRE),
        patient_id=_reference_id(_required(given, "patient"), "patient", "Patient"),
        encounter_id=_reference_id(encounter, "encounter", "Encounter") if encounter else None,
        title=_string(title, "title", "valueString") if title else None,
    )


def parse_sign_parameters(body: object) -> None:
    """$sign takes no parameters: no body, or a Parameters resource without any."""
    if body is not None:
        _parameters(body, "$sign", ())


def parse_amend_parameters(body: object) -> AmendRequest:
    """An AmendRequest from a FHIR Parameters body: reason (valueString) and kind (valueCode
    correction or addendum)."""
    given = _parameters(body, "$amend", ("reason", "kind"))
    reason = _string(_required(given, "reason"), "reason", "valueString")
    kind = _string(_required(given, "kind"), "kind", "valueCode")
    if kind == "correction":
        return AmendRequest(reason, "correction")
    if kind == "addendum":
        return AmendRequest(reason, "addendum")
    raise _invalid_parameter("kind", "must be the code correction or addendum")


def _parameters(body: object, operation: str, names: tuple[str, ...]) -> dict[str, Mapping[str, Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise MalformedRequest(f"the {operation} body must be a FHIR Parameters resource")
    entries = body.get("parameter", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedRequest(f"Parameters.parameter of {operation} must be a list of objects")
    given: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        name = entry.get("name")
        if name not in names:
            known = ", ".join(names) or "none"
            raise InvalidResource([issue("not-supported", f"{operation} takes the parameters: {known}; "
                                         "remove any other", "Parameters.parameter.name")])
        if name in given:
            raise _invalid_parameter(name, "is given more than once; give it once")
        given[name] = entry
    return given


def _required(given: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    if name not in given:
        raise InvalidResource([issue("required", f"parameter {name} is required",
                                     f"Parameters.parameter.{name}")])
    return given[name]


def _reference_id(entry: Mapping[str, Any], name: str, resource_type: str) -> str:
    reference = entry.get("valueReference", {})
    raw = entry.get("valueId")
    if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
        prefix, _, raw = reference["reference"].rpartition("/")
        if prefix != resource_type:
            raw = None
    if not isinstance(raw, str) or not FHIR_ID.match(raw):
        raise _invalid_parameter(name, f"must be a valueReference to {resource_type}/<id> or a valueId")
    return raw


def _string(entry: Mapping[str, Any], name: str, value_type: str) -> str:
    value = entry.get(value_type)
    if not isinstance(value, str) or not value.strip():
        raise _invalid_parameter(name, f"must be a non-empty {value_type}")
    return value


def _invalid_parameter(name: str, problem: str) -> InvalidResource:
    return InvalidResource([issue("invalid", f"parameter {name} {problem}", f"Parameters.parameter.{name}")])
