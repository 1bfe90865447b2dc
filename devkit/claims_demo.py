"""The demo clinics' insurance claims for `cairn dev`.

Each clinic gets its billing Organization (NPI, EIN, taxonomy), a demo payer, its clearinghouse
enrolment and payer rules (claims settings), a small fee schedule, and Dr. Grace Amani's NPI. Its
first three patients get an active Coverage and a visit last week with a signed note; each visit
is coded into a Claim through the claims desk, so the claims workflow runs for real: scrubbed,
an 837P generated, validated with pyx12 and put in the clinic's clearinghouse outbox.

The fake clearinghouse (devkit/clearinghouse_fake.py) then answers, through the clearinghouse
inbox like a real one would: the first claim gets its 999, 277CA and an 835 that pays it (the
patient's coinsurance becomes an invoice); the second its 999 and 277CA, so it waits for an 835
(`cairn claims answer 835` drops one); the third only its 999. Seeding twice adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cairn.aws import AwsClients
from cairn.billing.fee_schedule import DynamoFeeSchedules, FeeSchedule
from cairn.claims.building import EIN_SYSTEM, NPI_SYSTEM, TAXONOMY_SYSTEM
from cairn.claims.desk import SETTINGS_KEY
from cairn.claims.npi import npi_check_digit
from cairn.claims.posting import PAYER_ID_SYSTEM
from cairn.claims.record import ClaimState
from cairn.claims.services import ClaimServices
from cairn.config import DataSettings
from cairn.fhir.search import parse_search
from cairn.note_records import NoteRecords
from cairn.notes import sign_note
from cairn.runtime import ClinicalRuntime
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from multitenant.provisioning import DynamoTenantSettings

DEMO_PAYER_ID = "CAIRNDEMO1"
DEMO_FEES = {
    "fees": [
        {"code": "99213", "display": "Office visit, established patient, low complexity", "amount": 120.00},
        {
            "code": "99214",
            "display": "Office visit, established patient, moderate complexity",
            "amount": 180.00,
        },
        {"code": "99396", "display": "Preventive visit, established patient, 40-64", "amount": 250.00},
        {"code": "36415", "display": "Routine venipuncture", "amount": 15.00},
        {"code": "80053", "display": "Comprehensive metabolic panel", "amount": 45.00},
    ]
}
# What each demo visit was for: its diagnoses and services, and how far the clearinghouse answers.
VISITS: tuple[tuple[tuple[str, ...], tuple[dict[str, Any], ...], tuple[str, ...]], ...] = (
    (
        ("E11.9", "I10"),
        (
            {"code": "99214", "diagnoses": [1, 2]},
            {"code": "36415", "diagnoses": [1]},
            {"code": "80053", "diagnoses": [1]},
        ),
        ("999", "277CA", "835"),
    ),
    (("J06.9",), ({"code": "99213", "diagnoses": [1]},), ("999", "277CA")),
    (("Z00.00",), ({"code": "99396", "diagnoses": [1]},), ("999",)),
)
ADDRESS = {"line": ["100 Main Street"], "city": "Springfield", "state": "IL", "postalCode": "62701"}


def npi(first_nine: str) -> str:
    return f"{first_nine}{npi_check_digit(first_nine)}"


def seed_claims(
    clients: AwsClients, deployment: Deployment, tenant_id: str, patient_ids: Sequence[str], deadline: float
) -> list[str]:
    """The clinic's claims set-up and its demo claims carried through the lifecycle; their ids."""
    environment = deployment.environment_of("claims-api", clients)
    services = ClaimServices(ClinicalRuntime(DataSettings.from_environ(environment), clients), environment)
    context = TenantContext.system(tenant_id, "demo-seed")
    records = services.clinical.records(context)
    billing = _find_or_create(
        records,
        "Organization",
        f"{NPI_SYSTEM}|{npi('123456789')}",
        {
            "resourceType": "Organization",
            "active": True,
            "name": "Main Street Family Practice",
            "identifier": [
                {"system": NPI_SYSTEM, "value": npi("123456789")},
                {"system": EIN_SYSTEM, "value": "123456789"},
            ],
            "type": [
                {"coding": [{"system": TAXONOMY_SYSTEM, "code": "207Q00000X", "display": "Family Medicine"}]}
            ],
            "address": [ADDRESS],
            "telecom": [{"system": "phone", "value": "555-555-0100"}],
        },
    )
    payer = _find_or_create(
        records,
        "Organization",
        f"{PAYER_ID_SYSTEM}|{DEMO_PAYER_ID}",
        {
            "resourceType": "Organization",
            "active": True,
            "name": "Cairn Demo Health Plan",
            "identifier": [{"system": PAYER_ID_SYSTEM, "value": DEMO_PAYER_ID}],
            "type": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay"}
                    ]
                }
            ],
        },
    )
    DynamoTenantSettings(clients.dynamodb(), deployment.tables["clinical"]).update(
        tenant_id,
        {
            SETTINGS_KEY: {
                "submitter": {
                    "sender_id": "CAIRN" + tenant_id.replace("-", "")[:8].upper(),
                    "receiver_id": "DEMOCLEAR",
                    "name": "Main Street Family Practice",
                    "contact_name": "Billing Office",
                    "contact_phone": "5555550100",
                    "receiver_name": "Cairn Demo Clearinghouse",
                },
                "billing_organization": str(billing["id"]),
                "payers": [
                    {
                        "payer_id": DEMO_PAYER_ID,
                        "name": "Cairn Demo Health Plan",
                        "requires_group_number": True,
                    }
                ],
            }
        },
    )
    fees = DynamoFeeSchedules(tenant_id, clients.dynamodb(), deployment.tables["clinical"])
    schedule, read = fees.get()
    if not schedule.fees:
        fees.save(FeeSchedule.parse(DEMO_FEES), read)
    physician = _physician(records)
    claim_ids = []
    desk = services.desk(context)
    for index, (patient_id, (diagnoses, services_billed, _)) in enumerate(
        zip(patient_ids, VISITS, strict=False)
    ):
        if records.search(parse_search("Claim", {"patient": [patient_id]})).resources:
            continue
        coverage = _coverage(records, patient_id, str(payer["id"]), index)
        encounter = _signed_visit(services.clinical, tenant_id, patient_id, physician, index)
        coded = desk.code(
            {
                "encounter": f"Encounter/{encounter}",
                "coverage": f"Coverage/{coverage}",
                "diagnoses": list(diagnoses),
                "services": list(services_billed),
            }
        )
        claim_ids.append(str(coded["claim_id"]))
    answered = [(claim_id, answers) for claim_id, (_, _, answers) in zip(claim_ids, VISITS, strict=False)]
    for what in ("999", "277CA", "835"):
        for claim_id, answers in answered:
            if what in answers:
                _answer(services, context, clients, deployment, claim_id, what, deadline)
    return claim_ids


def _find_or_create(
    records: Any, resource_type: str, identifier: str, resource: dict[str, Any]
) -> dict[str, Any]:
    found = records.search(parse_search(resource_type, {"identifier": [identifier]})).resources
    return dict(found[0]) if found else dict(records.create(resource_type, resource).resource)


def _physician(records: Any) -> str:
    """Dr. Grace Amani (devkit/schedule_demo.py), with her NPI and taxonomy for claims."""
    found = records.search(parse_search("Practitioner", {"name": ["Amani"]})).resources
    if not found:
        found = [
            records.create(
                "Practitioner",
                {
                    "resourceType": "Practitioner",
                    "active": True,
                    "name": [{"family": "Amani", "given": ["Grace"], "prefix": ["Dr."]}],
                },
            ).resource
        ]
    doctor = dict(found[0])
    if not any(i.get("system") == NPI_SYSTEM for i in doctor.get("identifier") or ()):
        doctor["identifier"] = [
            *doctor.get("identifier", []),
            {"system": NPI_SYSTEM, "value": npi("198765432")},
        ]
        doctor["qualification"] = [{"code": {"coding": [{"system": TAXONOMY_SYSTEM, "code": "207Q00000X"}]}}]
        doctor = records.update("Practitioner", str(doctor["id"]), doctor)
    return str(doctor["id"])


def _coverage(records: Any, patient_id: str, payer_id: str, index: int) -> str:
    found = records.search(
        parse_search("Coverage", {"beneficiary": [f"Patient/{patient_id}"], "status": ["active"]})
    ).resources
    if found:
        return str(found[0]["id"])
    return str(
        records.create(
            "Coverage",
            {
                "resourceType": "Coverage",
                "status": "active",
                "subscriberId": f"DEMO{100200300 + index}",
                "beneficiary": {"reference": f"Patient/{patient_id}"},
                "subscriber": {"reference": f"Patient/{patient_id}"},
                "relationship": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                            "code": "self",
                        }
                    ]
                },
                "payor": [{"reference": f"Organization/{payer_id}"}],
                "class": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                    "code": "group",
                                }
                            ]
                        },
                        "value": "GRP-1001",
                        "name": "Demo employer plan",
                    }
                ],
                "period": {"start": "2026-01-01"},
            },
        ).resource["id"]
    )


def _signed_visit(
    clinical: ClinicalRuntime, tenant_id: str, patient_id: str, physician: str, index: int
) -> str:
    """A finished office visit last week, with a note Dr. Amani signed."""
    doctor = TenantContext(tenant_id=tenant_id, user_id="demo-seed-physician", role=Role.PHYSICIAN)
    records = clinical.records(doctor)
    day = (datetime.now(UTC) - timedelta(days=7 + index)).replace(hour=15, minute=0, second=0, microsecond=0)
    encounter = records.create(
        "Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"text": "Office visit"}],
            "subject": {"reference": f"Patient/{patient_id}"},
            "participant": [
                {"individual": {"reference": f"Practitioner/{physician}", "display": "Dr. Grace Amani"}}
            ],
            "period": {
                "start": day.isoformat().replace("+00:00", "Z"),
                "end": (day + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
            },
        },
    ).resource
    note = records.create(
        "Composition",
        {
            "resourceType": "Composition",
            "status": "preliminary",
            "type": {
                "coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]
            },
            "subject": {"reference": f"Patient/{patient_id}"},
            "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "date": day.isoformat().replace("+00:00", "Z"),
            "author": [{"reference": f"Practitioner/{physician}"}],
            "title": "Office visit",
            "section": [
                {
                    "title": "Assessment and plan",
                    "text": {
                        "status": "generated",
                        "div": '<div xmlns="http://www.w3.org/1999/xhtml">Seen and examined.</div>',
                    },
                }
            ],
        },
    ).resource
    sign_note(NoteRecords(records), str(note["id"]))
    return str(encounter["id"])


def _answer(
    services: ClaimServices,
    context: TenantContext,
    clients: AwsClients,
    deployment: Deployment,
    claim_id: str,
    what: str,
    deadline: float,
) -> None:
    """The fake clearinghouse's `what` for the claim's 837P, dropped in the clinic's inbox; waits
    until the claim has moved on."""
    ledger = services.ledger(context)
    expected = {"999": ClaimState.SUBMITTED, "277CA": ClaimState.ACCEPTED, "835": ClaimState.ACKNOWLEDGED}[
        what
    ]
    record = _wait_for(lambda: ledger.get(claim_id), lambda r: r.status is expected, deadline)
    outbound = services.clearinghouse(context).read("outbox", record.outbox_key.rsplit("/", 1)[-1]).decode()
    text = {"999": answer_999, "277CA": answer_277ca, "835": answer_835}[what](outbound)
    drop(clients, deployment, context.tenant_id, f"{record.control_number}.{what}.txt", text)
    moved_on = {"999": ClaimState.ACCEPTED, "277CA": ClaimState.ACKNOWLEDGED, "835": ClaimState.PAID}[what]
    _wait_for(lambda: ledger.get(claim_id), lambda r: r.status in (moved_on, ClaimState.DENIED), deadline)


def drop(clients: AwsClients, deployment: Deployment, tenant_id: str, name: str, text: str) -> str:
    """Put a clearinghouse file in the clinic's inbox (as the clearinghouse would); its key."""
    key = f"tenants/{tenant_id}/{name}"
    clients.s3().put_object(Bucket=deployment.buckets["clearinghouse-inbox"], Key=key, Body=text.encode())
    return key


STUCK = (ClaimState.SCRUB_FAILED, ClaimState.REJECTED, ClaimState.STALLED)


def _wait_for(read: Any, done: Any, deadline: float) -> Any:
    while True:
        value = read()
        if done(value):
            return value
        if value.status in STUCK:  # it needs a person: say why instead of waiting out the deadline
            why = "; ".join(value.problems)
            raise RuntimeError(f"demo claim {value.claim_number} is {value.status}: {why}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo claim is still {getattr(value, 'status', value)}")
        time.sleep(0.2)
