"""A clinic's claims settings in one typed value: its clearinghouse enrolment, the Organization
that bills, each payer's rules, and how long the workflow waits for what comes back.

`ClaimsSettings.parse` reads the clinic's settings (the keys in CLAIMS_SETTINGS; others are
ignored, so it may be given the clinic's whole settings item). Absent settings take their
defaults; present but wrong ones are refused with every problem named (InvalidClaimsSettings),
so an admin fixes them in one pass. `as_dict` writes what `parse` reads back to the same value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.claims.coding import PLACES_OF_SERVICE
from cairn.claims.model import Submitter

SUBMITTER = "submitter"
BILLING_ORGANIZATION = "billing_organization"
PAYERS = "payers"
ACKNOWLEDGEMENT_HOURS = "acknowledgement_hours"
REMITTANCE_DAYS = "remittance_days"
CLAIMS_SETTINGS = (SUBMITTER, BILLING_ORGANIZATION, PAYERS, ACKNOWLEDGEMENT_HOURS, REMITTANCE_DAYS)

DEFAULT_ACKNOWLEDGEMENT_HOURS = 48
DEFAULT_REMITTANCE_DAYS = 45
DEFAULT_TIMELY_FILING_DAYS = 365
MAX_LINES = 50  # the 837P's limit of service lines per claim (loop 2400)
MAX_PAYERS = 500
# Characters an X12 element may hold without clashing with Cairn's separators (* : ^ ~).
X12_TEXT = re.compile(r"^[A-Za-z0-9 .,&'()/#@+-]+$")
X12_ID = re.compile(r"^[A-Za-z0-9]{2,15}$")
PAYER_ID = re.compile(r"^[A-Za-z0-9]{2,80}$")
FHIR_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
PHONE = re.compile(r"^[0-9]{10}$")


class InvalidClaimsSettings(ValueError):
    """The clinic's claims settings cannot be used; the message lists what to fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class PayerRules:
    """What one payer requires of a claim, beyond the 837P itself."""

    payer_id: str  # the payer's id at the clearinghouse
    name: str
    timely_filing_days: int = DEFAULT_TIMELY_FILING_DAYS  # from the date of service
    requires_rendering_provider: bool = True
    requires_group_number: bool = False
    allowed_places_of_service: tuple[str, ...] = ()  # empty: any
    max_lines: int = MAX_LINES

    def as_dict(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "name": self.name,
            "timely_filing_days": self.timely_filing_days,
            "requires_rendering_provider": self.requires_rendering_provider,
            "requires_group_number": self.requires_group_number,
            "allowed_places_of_service": list(self.allowed_places_of_service),
            "max_lines": self.max_lines,
        }


@dataclass(frozen=True)
class ClaimsSettings:
    """How one clinic bills insurance. A clinic that has not enrolled with a clearinghouse yet
    has no submitter; `missing()` says what it must set up before a claim can be sent."""

    submitter: Submitter | None = None
    billing_organization: str = ""  # the id of the FHIR Organization that bills, in the clinic's record
    payers: Mapping[str, PayerRules] = field(default_factory=dict)  # by payer id
    acknowledgement_hours: int = DEFAULT_ACKNOWLEDGEMENT_HOURS  # wait for the 999 and the 277CA
    remittance_days: int = DEFAULT_REMITTANCE_DAYS  # wait for the 835

    def rules(self, payer_id: str) -> PayerRules | None:
        """The payer's rules; None for a payer the clinic has not set up."""
        return self.payers.get(payer_id)

    def missing(self) -> tuple[str, ...]:
        """What must be set up before a claim can be sent, each saying what to enter."""
        missing = []
        if self.submitter is None:
            missing.append(
                f"{SUBMITTER}: enter the clinic's clearinghouse enrolment (sender and receiver ids)"
            )
        if not self.billing_organization:
            missing.append(f"{BILLING_ORGANIZATION}: name the Organization in the clinic's record that bills")
        if not self.payers:
            missing.append(f"{PAYERS}: add the payers the clinic bills, with their clearinghouse payer ids")
        return tuple(missing)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            PAYERS: [rules.as_dict() for rules in self.payers.values()],
            ACKNOWLEDGEMENT_HOURS: self.acknowledgement_hours,
            REMITTANCE_DAYS: self.remittance_days,
        }
        if self.submitter is not None:
            answer[SUBMITTER] = {
                "sender_id": self.submitter.sender_id,
                "receiver_id": self.submitter.receiver_id,
                "name": self.submitter.name,
                "contact_name": self.submitter.contact_name,
                "contact_phone": self.submitter.contact_phone,
                "receiver_name": self.submitter.receiver_name,
                "production": self.submitter.production,
            }
        if self.billing_organization:
            answer[BILLING_ORGANIZATION] = self.billing_organization
        return answer

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ClaimsSettings:
        """The settings in `raw`, defaults for absent keys; InvalidClaimsSettings naming every problem."""
        problems: list[str] = []
        submitter = _submitter(raw.get(SUBMITTER), problems) if SUBMITTER in raw else None
        organization = raw.get(BILLING_ORGANIZATION, "")
        if not isinstance(organization, str) or (organization and not FHIR_ID.match(organization)):
            problems.append(
                f"{BILLING_ORGANIZATION} must be the id of an Organization in the clinic's record"
            )
            organization = ""
        payers = _payers(raw.get(PAYERS, []), problems)
        hours = _whole(raw, ACKNOWLEDGEMENT_HOURS, DEFAULT_ACKNOWLEDGEMENT_HOURS, (1, 720), problems)
        days = _whole(raw, REMITTANCE_DAYS, DEFAULT_REMITTANCE_DAYS, (1, 365), problems)
        if problems:
            raise InvalidClaimsSettings(problems)
        return cls(submitter, organization, payers, hours, days)


def _whole(
    raw: Mapping[str, Any],
    name: str,
    default: int,
    bounds: tuple[int, int],
    problems: list[str],
    where: str = "",
) -> int:
    value: object = raw.get(name, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{where}{name} must be a whole number from {low} to {high}")
        return default
    return value


def _text(raw: Mapping[str, Any], name: str, where: str, longest: int, problems: list[str]) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= longest or not X12_TEXT.match(value):
        problems.append(
            f"{where}.{name} must be 1 to {longest} letters, digits, spaces or . , & ' ( ) / # @ + -"
        )
        return ""
    return value.strip()


def _submitter(raw: object, problems: list[str]) -> Submitter | None:
    if not isinstance(raw, Mapping):
        problems.append(
            f"{SUBMITTER} must be an object with sender_id, receiver_id, name, contact_name, "
            "contact_phone and receiver_name"
        )
        return None
    before = len(problems)
    ids = {}
    for name in ("sender_id", "receiver_id"):
        value = raw.get(name)
        if not isinstance(value, str) or not X12_ID.match(value):
            problems.append(
                f"{SUBMITTER}.{name} must be the 2 to 15 letters or digits the clearinghouse assigned"
            )
        ids[name] = value if isinstance(value, str) else ""
    name = _text(raw, "name", SUBMITTER, 60, problems)
    contact = _text(raw, "contact_name", SUBMITTER, 60, problems)
    receiver = _text(raw, "receiver_name", SUBMITTER, 60, problems)
    phone = raw.get("contact_phone")
    if not isinstance(phone, str) or not PHONE.match(phone):
        problems.append(f"{SUBMITTER}.contact_phone must be ten digits, e.g. 5555550100")
    production = raw.get("production", False)
    if not isinstance(production, bool):
        problems.append(f"{SUBMITTER}.production must be true (production) or false (test files)")
    if len(problems) > before:
        return None
    return Submitter(
        ids["sender_id"], ids["receiver_id"], name, contact, str(phone), receiver, production is True
    )


def _payers(raw: object, problems: list[str]) -> dict[str, PayerRules]:
    if not isinstance(raw, list) or len(raw) > MAX_PAYERS:
        problems.append(f'{PAYERS} must be a list of up to {MAX_PAYERS} {{"payer_id", "name", ...}} objects')
        return {}
    payers: dict[str, PayerRules] = {}
    for index, entry in enumerate(raw):
        rules = _payer(entry, f"{PAYERS}[{index}]", problems)
        if rules is None:
            continue
        if rules.payer_id in payers:
            problems.append(f"{PAYERS}[{index}].payer_id repeats payers[{_position(raw, rules.payer_id)}]'s")
            continue
        payers[rules.payer_id] = rules
    return payers


def _position(raw: list[Any], payer_id: str) -> int:
    return next(
        i for i, entry in enumerate(raw) if isinstance(entry, Mapping) and entry.get("payer_id") == payer_id
    )


def _payer(raw: object, where: str, problems: list[str]) -> PayerRules | None:
    if not isinstance(raw, Mapping):
        problems.append(f'{where} must be an object with "payer_id" and "name"')
        return None
    before = len(problems)
    payer_id = raw.get("payer_id")
    if not isinstance(payer_id, str) or not PAYER_ID.match(payer_id):
        problems.append(
            f"{where}.payer_id must be the payer's id at the clearinghouse: 2 to 80 letters or digits"
        )
    name = _text(raw, "name", where, 60, problems)
    filing = _whole(raw, "timely_filing_days", DEFAULT_TIMELY_FILING_DAYS, (1, 1095), problems, f"{where}.")
    flags = {}
    for flag, default in (("requires_rendering_provider", True), ("requires_group_number", False)):
        value = raw.get(flag, default)
        if not isinstance(value, bool):
            problems.append(f"{where}.{flag} must be true or false")
        flags[flag] = value is True
    places = raw.get("allowed_places_of_service", [])
    if not isinstance(places, list) or any(place not in PLACES_OF_SERVICE for place in places):
        problems.append(
            f"{where}.allowed_places_of_service must be a list of CMS place of service codes "
            "(two digits, e.g. 11 office, 02 telehealth); empty allows any"
        )
        places = []
    max_lines = _whole(raw, "max_lines", MAX_LINES, (1, MAX_LINES), problems, f"{where}.")
    if len(problems) > before:
        return None
    return PayerRules(
        str(payer_id),
        name,
        filing,
        flags["requires_rendering_provider"],
        flags["requires_group_number"],
        tuple(dict.fromkeys(places)),
        max_lines,
    )


__all__ = ["CLAIMS_SETTINGS", "ClaimsSettings", "InvalidClaimsSettings", "PayerRules"]
