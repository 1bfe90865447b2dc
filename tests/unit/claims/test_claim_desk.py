"""The claims desk over fakes (the real RecordService on FakeRecords, the in-memory ledger and fee
schedules, a dict clearinghouse, the workflow's start and the inbox's hand-in as lists): coding
an encounter into a Claim and its first attempt, each refusal with what to fix and nothing
stored, the lifecycle rules of recode, resubmit and void, the ledger kept from patients, and one
AuditEvent in the desk's trail for every call, refusals too."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.claims.building import CLAIM_NUMBER_SYSTEM
from cairn.claims.desk import (
    SETTINGS_KEY,
    ClaimDesk,
    ClaimDeskPorts,
    ClaimInFlight,
    EncounterBilled,
    new_claim_number,
)
from cairn.claims.icd10 import icd10_codes
from cairn.claims.record import ClaimState
from cairn.claims.workflow import execution_name
from cairn.errors import AccessDenied, MalformedRequest, PayloadTooLarge, ResourceNotFound
from multitenant.context import Role, TenantContext
from tests.unit.claims import conftest as record
from tests.unit.claims.workflow_fakes import (
    CODING,
    OTHER_TENANT,
    SETTINGS,
    TENANT,
    ClaimsClinic,
    TenantSettings,
)
from tests.unit.fakes import FakeAuditTrail, current_resources

TIMEOUTS = {"acknowledgement": 48 * 3600, "remittance": 45 * 86400}


@dataclass
class Starts:
    """ClaimWorkflow.start as a list: a repeated submission's execution exists already (None)."""

    started: list[tuple[str, str, int, str, dict[str, int]]] = field(default_factory=list)

    def __call__(
        self, tenant_id: str, claim_id: str, attempt: int, mode: str, timeouts: dict[str, int]
    ) -> str | None:
        if any((t, c, a) == (tenant_id, claim_id, attempt) for t, c, a, _, _ in self.started):
            return None
        self.started.append((tenant_id, claim_id, attempt, mode, timeouts))
        return execution_name(claim_id, attempt)


@dataclass
class Desks:
    """The desks of one shared fake table, each caller's with its own audit trail."""

    clinic: ClaimsClinic = field(default_factory=ClaimsClinic)
    settings: TenantSettings = field(
        default_factory=lambda: TenantSettings({TENANT: {SETTINGS_KEY: SETTINGS}})
    )
    fee_store: dict[str, str] = field(default_factory=dict)
    events: list[tuple[TenantContext, AuditEvent]] = field(default_factory=list)
    starts: Starts = field(default_factory=Starts)
    handed_in: list[tuple[str, bytes]] = field(default_factory=list)

    def desk(self, role: Role = Role.BILLING, tenant: str = TENANT, patient: str | None = None) -> ClaimDesk:
        context = self.clinic.context(role, tenant, patient)

        def hand_in(name: str, body: bytes) -> str:
            self.handed_in.append((name, body))
            return f"tenants/{tenant}/{name}"

        return ClaimDesk(
            context,
            ClaimDeskPorts(
                records=self.clinic.records(context),
                audit=FakeAuditTrail(context, self.events),
                ledger=self.clinic.ledger(tenant),
                clearinghouse=self.clinic.clearinghouse(tenant),
                fees=self.clinic.fees(tenant, self.fee_store),
                settings=self.settings,
                start=self.starts,
                hand_in=hand_in,
                icd10=icd10_codes,
                clock=self.clinic.clock,
            ),
        )

    def audited(self) -> list[tuple[AuditAction, str, AuditOutcome, str | None]]:
        return [(e.action, e.subtype, e.outcome, e.detail) for _, e in self.events]

    def claims(self) -> list[dict[str, Any]]:
        return [
            resource
            for (_, kind, _), resource in current_resources(self.clinic.store).items()
            if kind == "Claim" and resource is not None
        ]


@pytest.fixture
def desks() -> Desks:
    desks = Desks()
    desks.clinic.seed()
    return desks


def visit(**changes: Any) -> dict[str, Any]:
    return {"encounter": "Encounter/enc-1", **CODING, **changes}


def coded(desks: Desks) -> str:
    claim_id = str(desks.desk().code(visit())["claim_id"])
    desks.events.clear()
    return claim_id


def moved(desks: Desks, claim_id: str, status: ClaimState, **changes: Any) -> None:
    desks.clinic.ledger().change(claim_id, lambda r: replace(r, status=status, **changes))


# --- code ----------------------------------------------------------------------------------------


def test_coding_an_encounter_writes_the_claim_and_its_ledger_record_and_starts_attempt_1(
    desks: Desks,
) -> None:
    view = desks.desk().code(visit())

    claim_id = str(view["claim_id"])
    assert view["status"] == "coded"
    assert view["claim_number"] == new_claim_number(claim_id)
    assert view["charge"] == 135.0
    assert (view["payer_id"], view["payer_name"]) == ("EMP01", "Empire Health")
    assert view["execution"] == execution_name(claim_id, 1)
    assert [e["what"] for e in view["events"]] == ["coded", "workflow started"]
    [claim] = desks.claims()
    assert claim["id"] == claim_id
    assert claim["status"] == "active"
    assert claim["identifier"] == [{"system": CLAIM_NUMBER_SYSTEM, "value": new_claim_number(claim_id)}]
    assert claim["insurance"][0]["coverage"] == {"reference": "Coverage/cov-ana"}
    assert desks.starts.started == [(TENANT, claim_id, 1, "submit", TIMEOUTS)]
    assert desks.audited() == [(AuditAction.CREATE, "code", AuditOutcome.SUCCESS, None)]


def test_a_named_coverage_of_the_patient_is_billed(desks: Desks) -> None:
    view = desks.desk().code(visit(coverage="Coverage/cov-ana"))

    assert desks.clinic.ledger().get(str(view["claim_id"])).status is ClaimState.CODED


def refused(
    desks: Desks, raw: object, error: type[Exception], message: str, role: Role = Role.BILLING
) -> None:
    """code(raw) refused with `error` saying `message`; nothing stored or started; one audit."""
    with pytest.raises(error) as refusal:
        desks.desk(role).code(raw)
    assert message in str(refusal.value)
    assert desks.claims() == []
    assert desks.clinic.ledger().records() == []
    assert desks.starts.started == []
    assert desks.audited() == [(AuditAction.CREATE, "code", AuditOutcome.MINOR_FAILURE, error.__name__)]


def test_coding_without_claims_settings_says_what_to_set_up(desks: Desks) -> None:
    desks.settings.stored.clear()

    refused(
        desks,
        visit(),
        MalformedRequest,
        "the clinic's claims settings are incomplete: submitter: enter the clinic's clearinghouse "
        "enrolment (sender and receiver ids); billing_organization: name the Organization in the "
        "clinic's record that bills; payers: add the payers the clinic bills, with their clearinghouse "
        "payer ids (an admin sets them with PUT /claims/settings)",
    )


def test_coding_with_unusable_claims_settings_says_so(desks: Desks) -> None:
    desks.settings.stored[TENANT] = {SETTINGS_KEY: {**SETTINGS, "remittance_days": 0}}

    refused(desks, visit(), MalformedRequest, "the clinic's claims settings are unusable: remittance_days")


def test_coding_for_a_patient_without_active_coverage_is_refused(desks: Desks) -> None:
    system = desks.clinic.records()
    coverage = system.read("Coverage", "cov-ana")
    system.update("Coverage", "cov-ana", {**coverage, "status": "cancelled"})

    refused(desks, visit(), MalformedRequest, "the patient has no active Coverage")


def test_another_patients_coverage_is_refused(desks: Desks) -> None:
    system = desks.clinic.records()
    system.import_resource(record.child(), "pat-leo")
    dependent = record.dependent_coverage()
    system.import_resource(dependent, "cov-leo")

    refused(
        desks,
        visit(coverage="Coverage/cov-leo"),
        MalformedRequest,
        "the coverage is not the encounter's patient's",
    )


def test_coding_an_encounter_that_has_an_active_claim_is_refused(desks: Desks) -> None:
    first = str(desks.desk().code(visit())["claim_id"])
    desks.events.clear()

    with pytest.raises(EncounterBilled, match=f"Claim/{first} already bills this encounter"):
        desks.desk().code(visit())
    assert [c["id"] for c in desks.claims()] == [first]
    assert len(desks.starts.started) == 1
    assert desks.audited() == [(AuditAction.CREATE, "code", AuditOutcome.MINOR_FAILURE, "EncounterBilled")]


def test_coding_problems_are_each_named(desks: Desks) -> None:
    with pytest.raises(MalformedRequest) as refusal:
        desks.desk().code(
            visit(diagnoses=["E11", "NOTACODE"], services=[{"code": "99999", "diagnoses": [3]}])
        )

    for named in (
        "diagnoses[0]: E11 is a category",
        "diagnoses[1]",
        "services[0].code",
        "services[0].diagnoses[0]",
    ):
        assert named in str(refusal.value)
    assert desks.claims() == []
    assert desks.audited() == [(AuditAction.CREATE, "code", AuditOutcome.MINOR_FAILURE, "MalformedRequest")]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["E11.9"], 'send {"encounter": "Encounter/<id>"'),
        (visit(encounter="Patient/pat-ana"), 'encounter must name the Encounter: "Encounter/<id>"'),
        (visit(coverage="cov-ana/../x"), 'coverage must name the Coverage: "Coverage/<id>"'),
    ],
    ids=["not-an-object", "not-an-encounter", "not-a-coverage"],
)
def test_a_malformed_request_is_refused(desks: Desks, raw: object, message: str) -> None:
    refused(desks, raw, MalformedRequest, message)


def test_a_missing_encounter_is_not_found(desks: Desks) -> None:
    refused(desks, visit(encounter="Encounter/enc-nope"), ResourceNotFound, "enc-nope")


def test_front_desk_staff_cannot_code(desks: Desks) -> None:
    refused(desks, visit(), AccessDenied, "", role=Role.FRONT_DESK)


# --- recode, resubmit, void -------------------------------------------------------------------------


def test_a_claim_on_its_way_cannot_be_recoded(desks: Desks) -> None:
    claim_id = coded(desks)

    with pytest.raises(ClaimInFlight, match=f"Claim/{claim_id} is coded"):
        desks.desk().recode(
            claim_id, {"diagnoses": ["I10"], "services": [{"code": "99213", "diagnoses": [1]}]}
        )
    assert desks.audited() == [(AuditAction.UPDATE, "coding", AuditOutcome.MINOR_FAILURE, "ClaimInFlight")]


def test_a_failed_claim_is_recoded_in_the_record_and_the_ledger(desks: Desks) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, ClaimState.SCRUB_FAILED)

    view = desks.desk().recode(
        claim_id, {"diagnoses": ["I10"], "services": [{"code": "99213", "diagnoses": [1]}]}
    )

    assert view["charge"] == 120.0
    assert view["events"][-1]["what"] == "recoded"
    claim = desks.clinic.records().read("Claim", claim_id)
    assert claim["meta"]["versionId"] == "2"
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]] == ["I10"]
    assert claim["identifier"] == [{"system": CLAIM_NUMBER_SYSTEM, "value": new_claim_number(claim_id)}]
    assert desks.audited() == [(AuditAction.UPDATE, "coding", AuditOutcome.SUCCESS, None)]


@pytest.mark.parametrize(
    "status", [ClaimState.CODED, ClaimState.SUBMITTED, ClaimState.PAID, ClaimState.VOIDED]
)
def test_only_a_failed_rejected_denied_or_stalled_claim_is_resubmitted(
    desks: Desks, status: ClaimState
) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, status)

    with pytest.raises(ClaimInFlight, match=f"is {status}: only a claim that failed its scrub"):
        desks.desk().resubmit(claim_id)
    assert len(desks.starts.started) == 1
    assert desks.audited() == [(AuditAction.EXECUTE, "resubmit", AuditOutcome.MINOR_FAILURE, "ClaimInFlight")]


@pytest.mark.parametrize(
    "status", [ClaimState.SCRUB_FAILED, ClaimState.REJECTED, ClaimState.DENIED, ClaimState.STALLED]
)
def test_a_resubmission_starts_the_next_attempt(desks: Desks, status: ClaimState) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, status)

    view = desks.desk().resubmit(claim_id)

    assert desks.starts.started[-1] == (TENANT, claim_id, 2, "submit", TIMEOUTS)
    assert view["execution"] == execution_name(claim_id, 2)
    assert desks.audited() == [(AuditAction.EXECUTE, "resubmit", AuditOutcome.SUCCESS, None)]


@pytest.mark.parametrize(
    "status", [ClaimState.CODED, ClaimState.SUBMITTED, ClaimState.ACCEPTED, ClaimState.ACKNOWLEDGED]
)
def test_a_claim_waiting_for_the_payer_cannot_be_voided(desks: Desks, status: ClaimState) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, status)

    with pytest.raises(ClaimInFlight, match="wait for the payer's answer, then void it"):
        desks.desk().void(claim_id)
    assert desks.clinic.records().read("Claim", claim_id)["status"] == "active"
    assert desks.audited() == [(AuditAction.EXECUTE, "void", AuditOutcome.MINOR_FAILURE, "ClaimInFlight")]


def test_a_claim_the_payer_never_had_is_voided_at_once(desks: Desks) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, ClaimState.REJECTED)

    view = desks.desk().void(claim_id)

    assert view["status"] == "voided"
    assert view["closed"] == "2026-12-01T15:00:00.000Z"
    assert desks.clinic.records().read("Claim", claim_id)["status"] == "cancelled"
    assert len(desks.starts.started) == 1
    assert desks.audited() == [(AuditAction.EXECUTE, "void", AuditOutcome.SUCCESS, None)]


def test_a_claim_the_payer_has_is_voided_by_a_void_submission(desks: Desks) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, ClaimState.DENIED, payer_claim_number="0000000010001")

    view = desks.desk().void(claim_id)

    assert desks.starts.started[-1] == (TENANT, claim_id, 2, "void", TIMEOUTS)
    assert view["status"] == "denied"  # until the payer takes the void (ClaimSteps.voided)
    assert desks.clinic.records().read("Claim", claim_id)["status"] == "active"


def test_voiding_a_voided_claim_changes_nothing(desks: Desks) -> None:
    claim_id = coded(desks)
    moved(desks, claim_id, ClaimState.VOIDED)
    before = desks.clinic.ledger().read(claim_id)

    assert desks.desk().void(claim_id)["status"] == "voided"
    assert desks.clinic.ledger().read(claim_id) == before
    assert desks.audited() == [(AuditAction.EXECUTE, "void", AuditOutcome.SUCCESS, None)]


# --- who sees what -------------------------------------------------------------------------------


def test_patients_are_refused_on_the_ledgers_routes(desks: Desks) -> None:
    claim_id = coded(desks)
    patient = desks.desk(Role.PATIENT, patient="pat-ana")

    for call in (
        patient.claims,
        lambda: patient.claim(claim_id),
        patient.report,
        patient.worklist,
        lambda: patient.files("processed"),
        patient.settings,
    ):
        with pytest.raises(AccessDenied):
            call()
    assert [outcome for _, _, outcome, _ in desks.audited()] == [AuditOutcome.MINOR_FAILURE] * 6
    assert {detail for _, _, _, detail in desks.audited()} == {"AccessDenied"}


def test_staff_read_the_claims_and_one_claim_with_its_fhir_claim(desks: Desks) -> None:
    claim_id = coded(desks)
    desk = desks.desk()

    assert [c["claim_id"] for c in desk.claims()] == [claim_id]
    assert desk.claims("voided") == []
    shown = desk.claim(claim_id)
    assert shown["claim"]["id"] == claim_id
    assert "waiting" not in shown
    assert [(a, s) for a, s, _, _ in desks.audited()] == [
        (AuditAction.READ, "list"),
        (AuditAction.READ, "list"),
        (AuditAction.READ, "read"),
    ]


def test_another_clinic_finds_none_of_the_claims(desks: Desks) -> None:
    claim_id = coded(desks)
    desks.settings.stored[OTHER_TENANT] = {SETTINGS_KEY: SETTINGS}
    theirs = desks.desk(tenant=OTHER_TENANT)

    assert theirs.claims() == []
    for call in (theirs.claim, theirs.resubmit, theirs.void):
        with pytest.raises(ResourceNotFound):
            call(claim_id)
    assert desks.clinic.ledger().get(claim_id).attempt == 1
    assert len(desks.starts.started) == 1


# --- hand-in and settings ------------------------------------------------------------------------


def test_a_file_handed_in_goes_to_the_clinics_inbox(desks: Desks) -> None:
    assert desks.desk().hand_in("835-0001.txt", b"ISA*...") == {
        "inbox": "tenants/acme/835-0001.txt",
        "name": "835-0001.txt",
    }
    assert desks.handed_in == [("835-0001.txt", b"ISA*...")]
    assert desks.audited() == [(AuditAction.CREATE, "hand-in", AuditOutcome.SUCCESS, None)]


@pytest.mark.parametrize(
    ("name", "body", "error"),
    [
        ("../etc/passwd", b"ISA", MalformedRequest),
        ("empty.835", b"", MalformedRequest),
        ("big.835", b"x" * (5 * 1024 * 1024 + 1), PayloadTooLarge),
    ],
    ids=["bad-name", "empty", "too-large"],
)
def test_a_bad_hand_in_is_refused(desks: Desks, name: str, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        desks.desk().hand_in(name, body)
    assert desks.handed_in == []
    assert desks.audited() == [(AuditAction.CREATE, "hand-in", AuditOutcome.MINOR_FAILURE, error.__name__)]


def test_an_admin_changes_the_claims_settings_and_reads_them_back(desks: Desks) -> None:
    admin = desks.desk(Role.ADMIN)

    changed = admin.change_settings({"remittance_days": 30})

    assert changed["remittance_days"] == 30
    assert admin.settings() == changed
    assert desks.settings.stored[TENANT][SETTINGS_KEY]["billing_organization"] == "org-hudson"
    with pytest.raises(MalformedRequest, match="acknowledgement_hours must be a whole number"):
        admin.change_settings({"acknowledgement_hours": 0})
    assert desks.audited() == [
        (AuditAction.UPDATE, "update", AuditOutcome.SUCCESS, None),
        (AuditAction.READ, "read", AuditOutcome.SUCCESS, None),
        (AuditAction.UPDATE, "update", AuditOutcome.MINOR_FAILURE, "MalformedRequest"),
    ]
