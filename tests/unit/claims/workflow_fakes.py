"""The claims workflow over in-memory fakes: the real RecordService (validation, guards, audit) on
FakeRecords, the real InMemoryClaimsLedger, a clearinghouse whose folders are a dict, a recorder
of the workflow's resumes, and a clinic record (conftest's) stored under its own ids."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cairn.billing.fee_schedule import FeeSchedule, InMemoryFeeSchedules
from cairn.claims.building import CLAIM_NUMBER_SYSTEM, claim_resource
from cairn.claims.clearinghouse import BaseClearinghouse, StoredFile, clinic_key, inbox_file
from cairn.claims.coding import parse_coding
from cairn.claims.desk import new_claim_number
from cairn.claims.icd10 import icd10_codes
from cairn.claims.ledger import InMemoryClaimsLedger
from cairn.claims.record import ClaimRecord, ClaimState
from cairn.claims.settings import ClaimsSettings
from cairn.claims.steps import ClaimSteps
from cairn.clock import fhir_instant
from cairn.errors import MalformedRequest
from cairn.note_records import NoteRecords
from cairn.notes import sign_note
from cairn.records.service import RecordService
from cairn.runtime import WRITE_GUARDS
from multitenant.context import Role, TenantContext
from tests.unit.claims import conftest as record
from tests.unit.fakes import FakeAuditTrail, FakeRecords

TENANT = "acme"
OTHER_TENANT = "birch"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # the day after conftest's visit
FEES = {
    "fees": [
        {"code": "99213", "display": "Office visit, established patient, low complexity", "amount": 120},
        {"code": "36415", "display": "Routine venipuncture", "amount": 15},
    ]
}
SETTINGS: dict[str, Any] = {
    "submitter": {
        "sender_id": "HUDSONFM01",
        "receiver_id": "CLEARHOUSE",
        "name": "Hudson Family Medicine",
        "contact_name": "Billing Office",
        "contact_phone": "5185550100",
        "receiver_name": "Fake Clearinghouse",
    },
    "billing_organization": "org-hudson",
    "payers": [{"payer_id": "EMP01", "name": "Empire Health", "requires_group_number": True}],
}
CODING = {
    "diagnoses": ["E11.9", "I10"],
    "services": [
        {"code": "99213", "units": 1, "diagnoses": [1, 2]},
        {"code": "36415", "units": 1, "diagnoses": [1]},
    ],
}
CHARGE_CENTS = 120_00 + 15_00


class FakeClearinghouse(BaseClearinghouse):
    """One clinic's folders and the shared inbox as dicts; what was filed where, with its reasons.
    Like S3Clearinghouse, submitting copies the staged file of that name (KeyError if none)."""

    def __init__(self, tenant_id: str, inbox: dict[str, bytes] | None = None) -> None:
        super().__init__(tenant_id)
        self.inbox = {} if inbox is None else inbox  # key -> bytes, every clinic's
        self.folders: dict[tuple[str, str], bytes] = {}  # (folder, name) -> bytes
        self.reasons: dict[tuple[str, str], tuple[str, ...]] = {}
        self.filed: list[tuple[str, str, tuple[str, ...]]] = []  # (inbox key, folder, reasons)

    def drop(self, name: str, text: str | bytes) -> str:
        """Put a file in this clinic's inbox as the clearinghouse would; its key."""
        key = f"tenants/{self.tenant_id}/{name}"
        self.inbox[key] = text.encode() if isinstance(text, str) else text
        return key

    def stage(self, name: str, text: str) -> str:
        self.folders[("generated", name)] = text.encode()
        return clinic_key(self.tenant_id, "generated", name)

    def submit(self, name: str) -> str:
        self.folders[("outbox", name)] = self.folders[("generated", name)]
        return clinic_key(self.tenant_id, "outbox", name)

    def read_inbox(self, key: str) -> bytes:
        self._own(key)
        return self.inbox[key]

    def file_away(
        self, key: str, folder: str, reasons: Sequence[str] = (), *, body: bytes | None = None
    ) -> str:
        name = self._own(key)
        kept = self.inbox.pop(key)
        self.folders[(folder, name)] = kept if body is None else body
        if reasons:
            self.reasons[(folder, name)] = tuple(reasons)
        self.filed.append((key, folder, tuple(reasons)))
        return clinic_key(self.tenant_id, folder, name)

    def listing(self, folder: str) -> list[StoredFile]:
        return [
            StoredFile(folder, name, len(body), NOW.isoformat(), self.reasons.get((folder, name), ()))
            for (kept, name), body in sorted(self.folders.items(), reverse=True)
            if kept == folder
        ]

    def read(self, folder: str, name: str) -> bytes:
        return self.folders[(folder, name)]

    def outbound(self, record: ClaimRecord) -> str:
        """The 837P the claim's latest submission put in the outbox."""
        return self.read("outbox", record.outbox_key.rsplit("/", 1)[-1]).decode()

    def _own(self, key: str) -> str:
        located = inbox_file(key)
        if located.tenant_id != self.tenant_id:
            raise MalformedRequest("that inbox file belongs to another clinic")
        return located.name


class Resumes:
    """The workflow's resume port: each (token, answer) handed over; answers `waiting`."""

    def __init__(self, waiting: bool = True) -> None:
        self.waiting = waiting
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, token: str, answer: dict[str, Any]) -> bool:
        self.calls.append((token, answer))
        return self.waiting


class TenantSettings:
    """The desk's settings port (get / update by tenant), as DynamoTenantSettings answers."""

    def __init__(self, stored: dict[str, dict[str, Any]] | None = None) -> None:
        self.stored = {} if stored is None else stored

    def get(self, tenant_id: str) -> dict[str, Any] | None:
        found = self.stored.get(tenant_id)
        return copy.deepcopy(found) if found is not None else None

    def update(self, tenant_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        self.stored[tenant_id] = {**self.stored.get(tenant_id, {}), **copy.deepcopy(changes)}
        return self.get(tenant_id) or {}


@dataclass
class ClaimsClinic:
    """Clinics sharing the fake table, ledger and inbox, as the real ones share DynamoDB and S3."""

    store: dict[Any, Any] = field(default_factory=dict)
    record_audit: list[Any] = field(default_factory=list)  # RecordService's own events
    ledgers: dict[Any, Any] = field(default_factory=dict)
    inbox: dict[str, bytes] = field(default_factory=dict)
    clearinghouses: dict[str, FakeClearinghouse] = field(default_factory=dict)
    now: datetime = NOW
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def clock(self) -> datetime:
        return self.now

    def context(
        self, role: Role = Role.BILLING, tenant: str = TENANT, patient: str | None = None
    ) -> TenantContext:
        return TenantContext(tenant, f"user-{role.value}", role, patient)

    def system(self, tenant: str = TENANT) -> TenantContext:
        return TenantContext.system(tenant, "claims-workflow")

    def records(self, context: TenantContext | None = None) -> RecordService:
        context = context or self.system()
        return RecordService(
            context,
            FakeRecords(context, self.store),
            FakeAuditTrail(context, self.record_audit),
            clock=self.clock,
            new_id=lambda: f"r{next(self.ids)}",
            guards=WRITE_GUARDS,
        )

    def ledger(self, tenant: str = TENANT) -> InMemoryClaimsLedger:
        return InMemoryClaimsLedger(tenant, self.ledgers)

    def clearinghouse(self, tenant: str = TENANT) -> FakeClearinghouse:
        if tenant not in self.clearinghouses:
            self.clearinghouses[tenant] = FakeClearinghouse(tenant, self.inbox)
        return self.clearinghouses[tenant]

    def fees(self, tenant: str = TENANT, store: dict[str, str] | None = None) -> InMemoryFeeSchedules:
        schedules = InMemoryFeeSchedules(tenant, {} if store is None else store)
        if schedules.get()[1] is None:
            schedules.save(FeeSchedule.parse(FEES), None)
        return schedules

    def steps(
        self,
        resume: Callable[[str, dict[str, Any]], bool],
        tenant: str = TENANT,
        settings: dict[str, Any] | None = None,
    ) -> ClaimSteps:
        return ClaimSteps(
            self.records(self.system(tenant)),
            self.ledger(tenant),
            self.clearinghouse(tenant),
            ClaimsSettings.parse(SETTINGS if settings is None else settings),
            icd10_codes,
            resume,
            self.clock,
        )

    # -- the clinic's record ---------------------------------------------------------------------

    def seed(self, tenant: str = TENANT, *, member_id: str = record.MEMBER_ID, signed: bool = True) -> None:
        """conftest's clinic under its own ids: billing Organization, payer, physician, Ana with
        her Coverage, and her finished Encounter with a note (signed unless told)."""
        system = self.records(self.system(tenant))
        coverage = record.coverage()
        if not member_id:
            coverage.pop("subscriberId")
        encounter = record.encounter()  # without its companion: Cairn serves no RelatedPerson
        encounter["participant"] = [
            p for p in encounter["participant"] if p["individual"]["reference"].startswith("Practitioner/")
        ]
        for resource in (
            record.billing(),
            record.payer(),
            record.practitioner(),
            record.patient(),
            coverage,
            encounter,
        ):
            system.import_resource(resource, str(resource["id"]))
        chart = self.records(self.context(Role.PHYSICIAN, tenant))
        note = chart.create(
            "Composition",
            {
                "resourceType": "Composition",
                "status": "preliminary",
                "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
                "subject": {"reference": "Patient/pat-ana"},
                "encounter": {"reference": "Encounter/enc-1"},
                "date": record.VISIT,
                "author": [{"reference": "Practitioner/dr-okafor"}],
                "title": "Visit",
                "section": [
                    {
                        "title": "Plan",
                        "text": {
                            "status": "generated",
                            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Follow up.</div>',
                        },
                    }
                ],
            },
        ).resource
        if signed:
            sign_note(NoteRecords(chart), str(note["id"]), clock=self.clock)

    def coded(self, tenant: str = TENANT, claim_id: str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d") -> str:
        """The Claim of conftest's encounter and its ledger record (CODED), as the desk writes
        them; its id."""
        codes = icd10_codes()
        fees = FeeSchedule.parse(FEES)
        number = new_claim_number(claim_id)
        claim = claim_resource(
            record.encounter(),
            record.coverage(),
            parse_coding(CODING, codes, fees),
            fees,
            "org-hudson",
            self.now.date(),
            codes,
        )
        claim["id"] = claim_id
        claim["identifier"] = [{"system": CLAIM_NUMBER_SYSTEM, "value": number}]
        self.records(self.system(tenant)).commit_owned("code", "Claim", claim_id, [(claim, None)])
        now = fhir_instant(self.now)
        self.ledger(tenant).write(
            ClaimRecord(
                claim_id=claim_id,
                claim_number=number,
                status=ClaimState.CODED,
                payer_id="EMP01",
                payer_name="Empire Health",
                charge_cents=CHARGE_CENTS,
                created=now,
            ).with_event(now, "coded"),
            None,
        )
        return claim_id
