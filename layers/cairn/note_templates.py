"""The note templates Cairn ships, as FHIR R4 Questionnaires a clinic installs and then owns.

A note template is a Questionnaire whose `code` holds the note-template marker and, beside it,
the LOINC document type its notes get (progress note 11506-3 or outpatient note 34108-1). Each
top-level `item` of type "text" (or "group") is one section of the note: `text` is the section
title, `code` its LOINC section code when there is one, and the standard entryFormat extension
carries the placeholder guidance shown while writing. Clinicians edit these, or add their own,
through the ordinary FHIR Questionnaire API; cairn.notes reads whatever the clinic has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LOINC = "http://loinc.org"
NOTE_TEMPLATE_SYSTEM = "https://cairn.health/fhir/CodeSystem/note-template"
NOTE_TEMPLATE_CODE = "note-template"
NOTE_TEMPLATE_MARKER: Mapping[str, str] = {
    "system": NOTE_TEMPLATE_SYSTEM, "code": NOTE_TEMPLATE_CODE, "display": "Clinical note template",
}
TEMPLATE_URL_BASE = "https://cairn.health/fhir/Questionnaire/"
# The standard extension for "how to fill this in" hints: Cairn's placeholder guidance.
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"

PROGRESS_NOTE: Mapping[str, str] = {"system": LOINC, "code": "11506-3", "display": "Progress note"}
OUTPATIENT_NOTE: Mapping[str, str] = {"system": LOINC, "code": "34108-1", "display": "Outpatient Note"}


@dataclass(frozen=True)
class Section:
    """One section of a template: its title, LOINC section code (if any) and placeholder."""

    link_id: str
    title: str
    guidance: str
    loinc: tuple[str, str] | None = None  # (code, display)


@dataclass(frozen=True)
class DefaultTemplate:
    """A template Cairn ships; `name` is its machine name and the last segment of its url."""

    name: str
    title: str
    note_type: Mapping[str, str]
    sections: Sequence[Section]

    @property
    def url(self) -> str:
        return template_url(self.name)


def template_url(name: str) -> str:
    """The canonical url of a default template: how install_default_templates finds it again."""
    return f"{TEMPLATE_URL_BASE}{name}"


SUBJECTIVE = Section("subjective", "Subjective", "Chief complaint, history of present illness, review of "
                     "systems, in the patient's words where useful.", ("61150-9", "Subjective Narrative"))
OBJECTIVE = Section("objective", "Objective", "Vital signs, examination findings, results reviewed.",
                    ("61149-1", "Objective Narrative"))
ASSESSMENT = Section("assessment", "Assessment", "Diagnoses or problems addressed, with your reasoning.",
                     ("51848-0", "Evaluation note"))
PLAN = Section("plan", "Plan", "Orders, prescriptions, referrals, patient education and follow-up.",
               ("18776-5", "Plan of care note"))

DEFAULT_TEMPLATES: tuple[DefaultTemplate, ...] = (
    DefaultTemplate("soap", "SOAP note", PROGRESS_NOTE, (SUBJECTIVE, OBJECTIVE, ASSESSMENT, PLAN)),
    DefaultTemplate("annual-wellness-visit", "Annual wellness visit", PROGRESS_NOTE, (
        Section("health-risk-assessment", "Health risk assessment",
                "Review of the patient's health risk assessment: demographics, self-assessed health, "
                "psychosocial and behavioral risks, activities of daily living."),
        Section("history", "Medical and family history",
                "Past medical and surgical history, family history, use of providers and suppliers.",
                ("11348-0", "History of Past illness Narrative")),
        Section("medications", "Medications and supplements",
                "Current prescriptions, over-the-counter drugs and supplements, opioid use review.",
                ("10160-0", "History of Medication use Narrative")),
        Section("functional-ability", "Functional ability and safety",
                "Activities of daily living, fall risk, hearing, home safety; cognitive assessment.",
                ("47420-5", "Functional status assessment note")),
        Section("screening-schedule", "Screening schedule",
                "Written screening schedule for the next 5-10 years, per USPSTF and ACIP recommendations."),
        Section("advance-care-planning", "Advance care planning",
                "Whether an advance directive exists, discussion held (with consent), wishes documented.",
                ("42348-3", "Advance healthcare directives")),
        Section("plan", "Personalized prevention plan", "Risk factors and interventions, referrals to "
                "health education or preventive counseling, list of providers.", PLAN.loinc),
    )),
    DefaultTemplate("follow-up-visit", "Follow-up visit", PROGRESS_NOTE, (
        Section("interval-history", "Interval history",
                "Changes since the last visit: symptoms, response to treatment, adherence, side effects.",
                SUBJECTIVE.loinc),
        OBJECTIVE, ASSESSMENT, PLAN,
    )),
    DefaultTemplate("telehealth-visit", "Telehealth visit", OUTPATIENT_NOTE, (
        Section("telehealth-details", "Telehealth details",
                "Modality (video or audio only), patient's location, your location, others present, "
                "consent to a telehealth visit."),
        SUBJECTIVE,
        Section("objective", "Objective", "What could be observed or reported remotely: appearance, "
                "home vital signs, devices.", OBJECTIVE.loinc),
        ASSESSMENT, PLAN,
    )),
)


def questionnaire(template: DefaultTemplate) -> dict[str, Any]:
    """The FHIR R4 Questionnaire a default template is installed as."""
    return {
        "resourceType": "Questionnaire",
        "url": template.url,
        "name": template.name.title().replace("-", ""),  # que-0: starts upper-case, no dashes
        "title": template.title,
        "status": "active",
        "subjectType": ["Patient"],
        "code": [dict(NOTE_TEMPLATE_MARKER), dict(template.note_type)],
        "item": [_item(section) for section in template.sections],
    }


def _item(section: Section) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": section.link_id,
        "text": section.title,
        "type": "text",
        "extension": [{"url": ENTRY_FORMAT, "valueString": section.guidance}],
    }
    if section.loinc:
        code, display = section.loinc
        item["code"] = [{"system": LOINC, "code": code, "display": display}]
    return item
