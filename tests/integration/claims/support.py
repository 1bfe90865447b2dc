"""A clinic with insurance claims in the embedded runtime: the claims API invoked as API Gateway
would invoke it (through the emulator's Lambda API, so the real function with its environment
runs and starts the real claims state machine in moto), the fake clearinghouse's answers dropped
in the real inbox bucket (whose S3 notification runs the real inbox function), and readers for
what the workflow left behind."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cairn.aws import AwsClients
from cairn.billing.fee_schedule import DynamoFeeSchedules, FeeSchedule
from cairn.claims.desk import SETTINGS_KEY
from cairn.claims.ledger import DynamoClaimsLedger
from cairn.claims.record import ClaimRecord, ClaimState
from cairn.claims.services import ClaimServices
from cairn.config import DataSettings
from cairn.fhir.search import parse_search
from cairn.note_records import NoteRecords
from cairn.notes import sign_note
from cairn.records.service import RecordService
from cairn.runtime import ClinicalRuntime
from devkit import claims_demo
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from multitenant.provisioning import DynamoTenantSettings
from tests.integration.api_calls import invoke, proxy_event

PAYER_ID = "TESTPAYER1"


@dataclass
class ClaimsClinic:
    """One clinic (tenant) of the embedded runtime, set up to bill one payer."""

    tenant_id: str
    clients: AwsClients
    deployment: Deployment
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> ClaimServices:
        environment = self.deployment.function_environments["claims-api"]
        return ClaimServices(
            ClinicalRuntime(DataSettings.from_environ(environment), self.clients), environment
        )

    def system(self) -> RecordService:
        return self.services.clinical.records(TenantContext.system(self.tenant_id, "test-seed"))

    def billing(self) -> TenantContext:
        return TenantContext(self.tenant_id, "biller-1", Role.BILLING)

    def set_up(self, *, rendering_npi: str = claims_demo.npi("198765432")) -> None:
        records = self.system()
        self.ids["billing"] = str(
            records.create(
                "Organization",
                {
                    "resourceType": "Organization",
                    "active": True,
                    "name": "Test Family Practice",
                    "identifier": [
                        {"system": claims_demo.NPI_SYSTEM, "value": claims_demo.npi("123456789")},
                        {"system": claims_demo.EIN_SYSTEM, "value": "987654321"},
                    ],
                    "address": [claims_demo.ADDRESS],
                },
            ).resource["id"]
        )
        self.ids["payer"] = str(
            records.create(
                "Organization",
                {
                    "resourceType": "Organization",
                    "active": True,
                    "name": "Test Health Plan",
                    "identifier": [{"system": claims_demo.PAYER_ID_SYSTEM, "value": PAYER_ID}],
                },
            ).resource["id"]
        )
        self.ids["doctor"] = str(
            records.create(
                "Practitioner",
                {
                    "resourceType": "Practitioner",
                    "active": True,
                    "name": [{"family": "Radon", "given": ["Nina"]}],
                    "identifier": [{"system": claims_demo.NPI_SYSTEM, "value": rendering_npi}],
                },
            ).resource["id"]
        )
        DynamoTenantSettings(self.clients.dynamodb(), self.deployment.tables["clinical"]).update(
            self.tenant_id,
            {
                SETTINGS_KEY: {
                    "submitter": {
                        "sender_id": "TESTSENDER",
                        "receiver_id": "TESTCLEAR",
                        "name": "Test Family Practice",
                        "contact_name": "Billing Office",
                        "contact_phone": "5555550100",
                        "receiver_name": "Test Clearinghouse",
                    },
                    "billing_organization": self.ids["billing"],
                    "payers": [{"payer_id": PAYER_ID, "name": "Test Health Plan"}],
                }
            },
        )
        fees = DynamoFeeSchedules(self.tenant_id, self.clients.dynamodb(), self.deployment.tables["clinical"])
        fees.save(FeeSchedule.parse(claims_demo.DEMO_FEES), fees.get()[1])

    def patient(
        self, family: str, *, member_id: str = "W123456789", signed: bool = True
    ) -> tuple[str, str, str]:
        """A patient with an active Coverage and a visit last week (its note signed or not):
        (patient, coverage, encounter) ids."""
        records = self.system()
        patient = str(
            records.create(
                "Patient",
                {
                    "resourceType": "Patient",
                    "name": [{"family": family, "given": ["Ada"]}],
                    "gender": "female",
                    "birthDate": "1970-04-01",
                    "address": [claims_demo.ADDRESS],
                },
            ).resource["id"]
        )
        coverage: dict[str, Any] = {
            "resourceType": "Coverage",
            "status": "active",
            "beneficiary": {"reference": f"Patient/{patient}"},
            "subscriber": {"reference": f"Patient/{patient}"},
            "relationship": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                        "code": "self",
                    }
                ]
            },
            "payor": [{"reference": f"Organization/{self.ids['payer']}"}],
        }
        if member_id:
            coverage["subscriberId"] = member_id
        coverage_id = str(records.create("Coverage", coverage).resource["id"])
        doctor = TenantContext(self.tenant_id, "doctor-1", Role.PHYSICIAN)
        chart = self.services.clinical.records(doctor)
        day = (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0)
        encounter = str(
            chart.create(
                "Encounter",
                {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                    "subject": {"reference": f"Patient/{patient}"},
                    "participant": [{"individual": {"reference": f"Practitioner/{self.ids['doctor']}"}}],
                    "period": {"start": day.isoformat().replace("+00:00", "Z")},
                },
            ).resource["id"]
        )
        note = chart.create(
            "Composition",
            {
                "resourceType": "Composition",
                "status": "preliminary",
                "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
                "subject": {"reference": f"Patient/{patient}"},
                "encounter": {"reference": f"Encounter/{encounter}"},
                "date": day.isoformat().replace("+00:00", "Z"),
                "author": [{"reference": f"Practitioner/{self.ids['doctor']}"}],
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
            sign_note(NoteRecords(chart), str(note["id"]))
        return patient, coverage_id, encounter

    # -- the claims API ---------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        resource: str,
        who: TenantContext | None = None,
        *,
        body: object = None,
        query: dict[str, str] | None = None,
        path_parameters: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        caller = who or self.billing()
        raw = json.dumps(body).encode() if body is not None else None
        event = proxy_event(
            method, path, resource, caller, body=raw, query=query, path_parameters=path_parameters
        )
        status, _, answer = invoke(self.clients, self.deployment.functions["claims-api"], event)
        return status, json.loads(answer or "null")

    def code(self, encounter: str, coverage: str | None = None, **coding: Any) -> tuple[int, dict[str, Any]]:
        body = {
            "encounter": f"Encounter/{encounter}",
            "diagnoses": ["E11.9", "I10"],
            "services": [{"code": "99214", "diagnoses": [1, 2]}, {"code": "36415", "diagnoses": [1]}],
            **coding,
        }
        if coverage:
            body["coverage"] = f"Coverage/{coverage}"
        return self.call("POST", "/claims", "/claims", body=body)

    # -- the clearinghouse ------------------------------------------------------------------
    def outbound(self, record: ClaimRecord) -> str:
        context = TenantContext.system(self.tenant_id, "test")
        return (
            self.services.clearinghouse(context).read("outbox", record.outbox_key.rsplit("/", 1)[-1]).decode()
        )

    def answer(self, record: ClaimRecord, what: str, **options: Any) -> str:
        """The fake clearinghouse's `what` to the claim's 837P, dropped in the inbox; its name."""
        make: Callable[..., str] = {"999": answer_999, "277CA": answer_277ca, "835": answer_835}[what]
        name = f"{record.control_number}.{what}.{time.monotonic_ns()}.txt"
        self.drop(name, make(self.outbound(record), **options))
        return name

    def drop(self, name: str, text: str | bytes) -> None:
        body = text.encode() if isinstance(text, str) else text
        self.clients.s3().put_object(
            Bucket=self.deployment.buckets["clearinghouse-inbox"],
            Key=f"tenants/{self.tenant_id}/{name}",
            Body=body,
        )

    def filed(self, name: str, timeout: float = 60) -> tuple[str, list[str]]:
        """Where the inbox filed `name` (processed or quarantine) and the reasons given."""
        context = TenantContext.system(self.tenant_id, "test")
        clearinghouse = self.services.clearinghouse(context)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for folder in ("processed", "quarantine"):
                for stored in clearinghouse.listing(folder):
                    if stored.name == name:
                        return folder, list(stored.reasons)
            time.sleep(0.2)
        raise AssertionError(f"{name} was never filed")

    # -- what the workflow left ---------------------------------------------------------------
    def ledger(self) -> DynamoClaimsLedger:
        return self.services.ledger(TenantContext.system(self.tenant_id, "test"))

    def wait_for(self, claim_id: str, *states: ClaimState, timeout: float = 120) -> ClaimRecord:
        deadline = time.monotonic() + timeout
        record = self.ledger().get(claim_id)
        while record.status not in states:
            if time.monotonic() > deadline:
                raise AssertionError(f"Claim/{claim_id} is {record.status}, not {states}: {record.events}")
            time.sleep(0.2)
            record = self.ledger().get(claim_id)
        return record

    def wait_for_waiting(self, claim_id: str, what: str, timeout: float = 60) -> ClaimRecord:
        deadline = time.monotonic() + timeout
        record = self.ledger().get(claim_id)
        while what not in record.waiting:
            assert time.monotonic() < deadline, f"Claim/{claim_id} never waited for the {what}: {record}"
            time.sleep(0.2)
            record = self.ledger().get(claim_id)
        return record

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        wanted = {name.replace("_", "-"): [value] for name, value in params.items()}
        return self.system().search(parse_search(resource_type, wanted)).resources
