"""The claim scrubber: everything a clearinghouse or payer would reject a claim for, found before
it is sent, each named by its element and saying what to fix.

`scrub` returns every problem at once (an empty tuple: the claim may be sent). Messages say what
is missing or wrong, never the patient's or subscriber's name, birth date or member id: they go on
a billing Task and into the workflow's history. Element paths follow ClaimSubmission's fields,
with 0-based positions: "billing.npi", "coverage.subscriber.birth_date", "lines[2].units".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from cairn.claims.building import UNKNOWN_DATE
from cairn.claims.coding import MAX_DIAGNOSES, MAX_MODIFIERS, MAX_POINTERS, MAX_UNITS, PLACES_OF_SERVICE
from cairn.claims.icd10 import Icd10Codes
from cairn.claims.model import ORIGINAL, REPLACEMENT, VOID, Address, ClaimSubmission, Person, Provider
from cairn.claims.npi import npi_problem, valid_ein
from cairn.claims.settings import MAX_LINES, PayerRules

ZIP = re.compile(r"^[0-9]{5}([0-9]{4})?$")
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
CONTROL_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,20}$")
SEXES = ("F", "M", "U")
# USPS codes of the states, DC, the territories and the military post offices.
# fmt: off
STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "FM", "MH", "PW", "AA", "AE", "AP",
})
# fmt: on
_Report = Callable[[str, str], None]  # problem(element, message)
FREQUENCIES = {ORIGINAL: "an original claim", REPLACEMENT: "a replacement", VOID: "a void"}


@dataclass(frozen=True)
class ScrubProblem:
    """One reason the claim would be rejected: where (`element`) and what to fix (`message`)."""

    element: str
    message: str


def scrub(
    submission: ClaimSubmission, rules: PayerRules | None, icd10: Icd10Codes, today: date
) -> tuple[ScrubProblem, ...]:
    """Every problem `submission` has for its payer's `rules` (None: a payer the clinic has not set
    up, itself a problem) on `today`, in the order of the claim's parts."""
    found: list[ScrubProblem] = []

    def problem(element: str, message: str) -> None:
        found.append(ScrubProblem(element, message))

    _claim(submission, problem)
    _billing(submission.billing, problem)
    _payer(submission, rules, problem)
    _coverage(submission, rules, today, problem)
    _rendering(submission.rendering, rules, problem)
    _diagnoses(submission.diagnoses, icd10, problem)
    _lines(submission, rules, today, problem)
    return tuple(found)


def _claim(submission: ClaimSubmission, problem: _Report) -> None:
    if not CONTROL_NUMBER.match(submission.control_number):
        problem("control_number", "the claim's control number must be 1 to 20 letters, digits or '-'")
    if submission.frequency not in FREQUENCIES:
        problem("frequency", "the claim's frequency must be 1 (original), 7 (replacement) or 8 (void)")
    elif submission.frequency != ORIGINAL and not submission.payer_claim_number:
        problem(
            "payer_claim_number",
            f"{FREQUENCIES[submission.frequency]} must name the payer's claim number of the claim it "
            "changes; it is missing (the payer sends it on the 277CA or the 835)",
        )


def _address(address: Address | None, where: str, whose: str, problem: _Report) -> None:
    if address is None:
        problem(where, f"{whose} address is missing")
        return
    if not address.line1:
        problem(f"{where}.line1", f"{whose} street address is missing")
    if not address.city:
        problem(f"{where}.city", f"{whose} city is missing")
    if address.state not in STATES:
        problem(f"{where}.state", f"{whose} state must be a two-letter USPS code, e.g. NY")
    if not ZIP.match(address.postal_code):
        problem(f"{where}.postal_code", f"{whose} ZIP code must be 5 or 9 digits")


def _billing(billing: Provider, problem: _Report) -> None:
    whose = "the billing provider's"
    if not billing.name:
        problem("billing.name", f"{whose} name is missing (the billing Organization's name)")
    wrong = npi_problem(billing.npi)
    if wrong:
        problem("billing.npi", f"{whose} NPI {wrong}")
    if not billing.tax_id:
        problem(
            "billing.tax_id",
            f"{whose} EIN is missing (an identifier of system urn:oid:2.16.840.1.113883.4.4)",
        )
    elif not valid_ein(billing.tax_id):
        problem("billing.tax_id", f"{whose} EIN must be nine digits, e.g. 12-3456789")
    _address(billing.address, "billing.address", whose, problem)


def _payer(submission: ClaimSubmission, rules: PayerRules | None, problem: _Report) -> None:
    payer = submission.payer
    if not payer.name:
        problem("payer.name", "the payer's name is missing (the payer Organization's name)")
    if not payer.payer_id:
        problem(
            "payer.payer_id",
            "the payer's clearinghouse id is missing: add it to the payer Organization as an identifier "
            "of system https://cairn.health/fhir/sid/payer-id",
        )
    elif rules is None:
        problem(
            "payer.payer_id",
            f"payer {payer.payer_id} is not set up in the clinic's claims settings: add it to payers "
            "with its rules before billing it",
        )


def _person(person: Person, where: str, whose: str, today: date, problem: _Report) -> None:
    if not person.last_name:
        problem(f"{where}.last_name", f"{whose} last name is missing")
    if not person.first_name:
        problem(f"{where}.first_name", f"{whose} first name is missing")
    if person.birth_date == UNKNOWN_DATE:
        problem(f"{where}.birth_date", f"{whose} birth date is missing")
    elif person.birth_date > today:
        problem(f"{where}.birth_date", f"{whose} birth date is after today: check it")
    if not person.sex:
        problem(f"{where}.sex", f"{whose} sex is missing (administrative gender)")
    elif person.sex not in SEXES:
        problem(f"{where}.sex", f"{whose} sex must be F, M or U")


def _coverage(submission: ClaimSubmission, rules: PayerRules | None, today: date, problem: _Report) -> None:
    coverage = submission.coverage
    if not coverage.member_id:
        problem("coverage.member_id", "the subscriber's member id is missing (Coverage.subscriberId)")
    if rules is not None and rules.requires_group_number and not coverage.group_number:
        problem(
            "coverage.group_number",
            f"{rules.name} requires the group number: add it to the Coverage as a class of type group",
        )
    _person(coverage.subscriber, "coverage.subscriber", "the subscriber's", today, problem)
    if submission.patient is None:  # the subscriber is the patient: the 837P carries their address
        _address(coverage.subscriber.address, "coverage.subscriber.address", "the subscriber's", problem)
    else:
        _person(submission.patient, "patient", "the patient's", today, problem)
        _address(submission.patient.address, "patient.address", "the patient's", problem)


def _rendering(rendering: Provider | None, rules: PayerRules | None, problem: _Report) -> None:
    if rendering is None:
        if rules is not None and rules.requires_rendering_provider:
            problem(
                "rendering",
                f"{rules.name} requires the rendering provider: name the practitioner on the encounter",
            )
        return
    if not rendering.name:
        problem("rendering.name", "the rendering provider's last name is missing")
    wrong = npi_problem(rendering.npi)
    if wrong:
        problem("rendering.npi", f"the rendering provider's NPI {wrong}")


def _diagnoses(diagnoses: tuple[str, ...], icd10: Icd10Codes, problem: _Report) -> None:
    if not 1 <= len(diagnoses) <= MAX_DIAGNOSES:
        problem("diagnoses", f"a claim carries 1 to {MAX_DIAGNOSES} diagnoses; it has {len(diagnoses)}")
    seen: dict[str, int] = {}
    for index, code in enumerate(diagnoses):
        wrong = icd10.problem(code)
        if wrong:
            problem(f"diagnoses[{index}]", wrong)
        elif code in seen:
            problem(f"diagnoses[{index}]", f"repeats diagnoses[{seen[code]}]: list each diagnosis once")
        seen.setdefault(code, index)


def _lines(submission: ClaimSubmission, rules: PayerRules | None, today: date, problem: _Report) -> None:
    lines = submission.lines
    limit = min(MAX_LINES, rules.max_lines) if rules is not None else MAX_LINES
    if not lines:
        problem("lines", "the claim has no service lines: code the encounter's services")
    elif len(lines) > limit:
        whose = (
            f"{rules.name} accepts" if rules is not None and rules.max_lines < MAX_LINES else "an 837P holds"
        )
        problem(
            "lines", f"{whose} at most {limit} service lines per claim; this one has {len(lines)}: split it"
        )
    _place(submission.place_of_service, "place_of_service", rules, problem)
    born = (submission.patient or submission.coverage.subscriber).birth_date
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if line.sequence != index + 1:
            problem(
                f"{where}.sequence",
                f"service lines are numbered from 1 in order; this one should be {index + 1}",
            )
        if not line.code:
            problem(f"{where}.code", "the service code is missing")
        if line.charge_cents <= 0:
            problem(f"{where}.charge_cents", "the line's charge must be more than zero")
        if not 1 <= line.units <= MAX_UNITS:
            problem(f"{where}.units", f"units must be a whole number from 1 to {MAX_UNITS}")
        _pointers(line.diagnosis_pointers, len(submission.diagnoses), where, problem)
        if len(line.modifiers) > MAX_MODIFIERS:
            problem(f"{where}.modifiers", f"a line carries at most {MAX_MODIFIERS} modifiers")
        for position, modifier in enumerate(line.modifiers):
            if not MODIFIER.match(modifier):
                problem(
                    f"{where}.modifiers[{position}]", "a modifier is two capital letters or digits, e.g. 25"
                )
        if line.place_of_service:
            _place(line.place_of_service, f"{where}.place_of_service", rules, problem)
        _service_date(line.service_date, born, rules, today, f"{where}.service_date", problem)
    total = sum(line.charge_cents for line in lines)
    if submission.claim_total_cents is not None and submission.claim_total_cents != total:
        problem(
            "claim_total_cents",
            f"the claim's total (${submission.claim_total_cents / 100:,.2f}) is not the sum of its lines "
            f"(${total / 100:,.2f}): code the encounter again",
        )
    elif lines and total <= 0:
        problem("claim_total_cents", "the claim's total charge must be more than zero")


def _pointers(pointers: tuple[int, ...], diagnoses: int, where: str, problem: _Report) -> None:
    element = f"{where}.diagnosis_pointers"
    if not pointers:
        problem(element, "the line points at no diagnosis: point it at 1 to 4 of the claim's diagnoses")
        return
    if len(pointers) > MAX_POINTERS:
        problem(element, f"a line points at most at {MAX_POINTERS} diagnoses; this one at {len(pointers)}")
    for position, pointer in enumerate(pointers):
        if not 1 <= pointer <= diagnoses:
            problem(f"{element}[{position}]", f"points at diagnosis {pointer}; the claim has {diagnoses}")
        elif pointer in pointers[:position]:
            problem(f"{element}[{position}]", f"repeats diagnosis {pointer}")


def _place(place: str, element: str, rules: PayerRules | None, problem: _Report) -> None:
    if place not in PLACES_OF_SERVICE:
        problem(element, "the place of service must be a CMS place of service code, e.g. 11 (office)")
    elif (
        rules is not None and rules.allowed_places_of_service and place not in rules.allowed_places_of_service
    ):
        problem(
            element,
            f"{rules.name} does not accept place of service {place} ({PLACES_OF_SERVICE[place]}); "
            f"it accepts {', '.join(rules.allowed_places_of_service)}",
        )


def _service_date(
    served: date, born: date, rules: PayerRules | None, today: date, element: str, problem: _Report
) -> None:
    if served == UNKNOWN_DATE:
        problem(element, "the date of service is missing")
    elif served > today:
        problem(element, "the date of service is after today: bill a service once it is rendered")
    elif born != UNKNOWN_DATE and served < born:
        problem(element, "the date of service is before the patient's birth date: check both")
    elif rules is not None and (today - served).days > rules.timely_filing_days:
        problem(
            element,
            f"the service was more than {rules.timely_filing_days} days ago: past {rules.name}'s "
            "timely filing limit (appeal with proof of timely filing, or write it off)",
        )


__all__ = ["ScrubProblem", "scrub"]
