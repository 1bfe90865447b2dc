"""Benchmark: the claims workflow's AWS-bound work per claim, in the embedded runtime `cairn dev`
uses, beside its floors, with AWS calls per claim.

    .venv/bin/python -m bench.claims [--claims 50]

One clinic set up to bill one payer (billing Organization, payer, practitioner with an NPI,
claims settings, fee schedule), and --claims patients each with an active Coverage and a visit
last week whose note is signed. Then, per claim (one more claim first warms clients, data keys,
the tenant's credentials, the ICD-10 lookup and pyx12's maps, and is not counted):
1. code: ClaimDesk.code of the visit (the FHIR Claim, the ledger record, the workflow start),
   with a `start` port that records the StartExecution instead of making it;
2. the workflow's steps, called in-process one claim at a time in order, as the claims step
   function runs them (its composition, ClaimServices.steps, per invocation): build, scrub,
   generate (the 837P, validated with pyx12, staged), submit; no Step Functions involved;
   floor beside generate: write_837p + validate_837p of the same claim, no AWS call;
3. 835 posting: each claim's 999 (one file per interchange) and one 277CA for the batch are read
   through ClearinghouseInbox first, each claim waiting for them as its workflow would; then one
   835 paying every claim (the fake clearinghouse's answer to the batch's claims in one 837P) is
   read by ClearinghouseInbox.receive (a `resume` port records SendTaskSuccess instead of making
   it), then ClaimSteps.post per claim (ClaimResponse, the patient's invoice, the ledger);
   floors: read_835 of the same file alone, and per claim the four raw calls posting cannot
   avoid (GetItem of the ledger record, its conditional PutItem, PutItem of the ClaimResponse
   and of the invoice), straight through boto3 on the same emulator with items of the same size.

AWS calls are counted on the clients the claims code is given (bench.measure.CallCounter); calls
a port recorded instead of making are listed apart, and the audit trail's PutItems (one per FHIR
read, search or write, in the system's name too) have their own column. The emulator is moto
over HTTP on 127.0.0.1, so every call is a loopback round trip: the calls per claim carry over to
AWS, the milliseconds do not. The inbox bucket's S3 notification is switched off, so no inbox
function runs beside the benchmark.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bench.measure import CallCounter
from cairn import config
from cairn.aws import AwsClients, AwsSettings
from cairn.billing.fee_schedule import DynamoFeeSchedules, FeeSchedule
from cairn.claims.clearinghouse import S3Clearinghouse
from cairn.claims.desk import SETTINGS_KEY, ClaimDesk, ClaimDeskPorts
from cairn.claims.icd10 import icd10_codes
from cairn.claims.inbound import ClearinghouseInbox
from cairn.claims.ledger import DynamoClaimsLedger, ledger_pk
from cairn.claims.model import Interchange
from cairn.claims.record import ClaimState
from cairn.claims.services import ClaimServices
from cairn.claims.workflow import ACKNOWLEDGEMENT, CLAIM_ACKNOWLEDGEMENT, REMITTANCE, SUBMIT, execution_name
from cairn.claims.x12.claim_837p import read_837p, write_837p
from cairn.claims.x12.remittance import read_835
from cairn.claims.x12.validation import validate_837p, warm
from cairn.config import DataSettings
from cairn.note_records import NoteRecords
from cairn.notes import sign_note
from cairn.records.keys import CURRENT_SK, resource_pk
from cairn.runtime import ClinicalRuntime
from devkit import claims_demo, emulator
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from devkit.deployment import Deployment
from devkit.provision import ProvisionTarget, provision
from multitenant.context import Role, TenantContext
from multitenant.provisioning import DynamoTenantSettings

T = TypeVar("T")
TENANT = "bench-claims"
PAYER_ID = "BENCHPAYER"
CODING = {
    "diagnoses": ["E11.9", "I10"],
    "services": [{"code": "99214", "diagnoses": [1, 2]}, {"code": "36415", "diagnoses": [1]}],
}
COMBINED_INTERCHANGE = 900_000_000  # the batch's claims in one 837P, the one the 277CA and 835 answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Row:
    """One operation: wall time per sample, AWS calls made, calls a port recorded instead."""

    name: str
    claims: int = 0
    samples_ms: list[float] = field(default_factory=list)
    aws_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    recorded: Counter[str] = field(default_factory=Counter)
    audit_writes: int = 0  # of `calls`, the PutItems of the audit trail (its table)
    whole_batch: bool = False  # one sample for the whole batch (one file), not one per claim

    def cells(self) -> str:
        total_ms = sum(self.samples_ms)
        per_claim = total_ms / self.claims
        own = max(0.0, (total_ms - self.aws_seconds * 1000) / self.claims)
        if self.whole_batch:
            p50 = p95 = f"total {total_ms:,.1f}"
        else:
            ordered = sorted(self.samples_ms)
            p50 = f"{statistics.median(ordered):.1f}"
            p95 = f"{ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]:.1f}"
        made = sum(self.calls.values()) / self.claims
        breakdown = ", ".join(f"{op} {n / self.claims:.3g}" for op, n in sorted(self.calls.items())) or "none"
        if self.recorded:
            breakdown += "; recorded by the port, not made: " + ", ".join(
                f"{op} {n / self.claims:.3g}" for op, n in sorted(self.recorded.items())
            )
        return (
            f"| {self.name} | {self.claims} | {p50} | {p95} | {per_claim:.2f} | {own:.2f} "
            f"| {1000 / per_claim:,.0f} | {made:.3g} | {self.audit_writes / self.claims:.3g} | {breakdown} |"
        )


HEADER = (
    "| operation | claims | p50 ms/claim | p95 ms/claim | mean ms/claim | own ms/claim (outside AWS calls) "
    "| claims/s (mean) | AWS calls/claim | of which audit-trail PutItem | calls per claim |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass
class AuditWrites:
    """Counts the PutItems of the clients it is attached to that write to the audit table."""

    table: str
    count: int = 0

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.PutItem", self._put)

    def _put(self, params: Mapping[str, Any], **_: Any) -> None:
        self.count += params.get("TableName") == self.table


class Timer:
    """Times operations into rows, diffing the call counter and the ports' recorded calls."""

    def __init__(self, counter: CallCounter, recorded: Counter[str], audit: AuditWrites) -> None:
        self.counter = counter
        self.recorded = recorded
        self.audit = audit
        self.rows: dict[str, Row] = {}

    def time(self, name: str, operation: Callable[[], T], claims: int = 1, *, whole: bool = False) -> T:
        row = self.rows.setdefault(name, Row(name, whole_batch=whole))
        calls, recorded, aws = self.counter.calls.copy(), self.recorded.copy(), self.counter.seconds_in_aws
        audited = self.audit.count
        started = time.perf_counter()
        result = operation()
        row.samples_ms.append((time.perf_counter() - started) * 1000)
        row.aws_seconds += self.counter.seconds_in_aws - aws
        row.calls += self.counter.calls - calls
        row.recorded += self.recorded - recorded
        row.audit_writes += self.audit.count - audited
        row.claims += claims
        return result


class Clinic:
    """The benchmark's clinic, its claims code wired to counted clients and recording ports."""

    def __init__(self, counted: AwsClients, deployment: Deployment, recorded: Counter[str]) -> None:
        self.deployment = deployment
        self.recorded = recorded
        environment = deployment.function_environments["claims-api"]
        self.services = ClaimServices(
            ClinicalRuntime(DataSettings.from_environ(environment), counted), environment
        )
        inbox = deployment.function_environments["clearinghouse-inbox"]
        self.inbox = ClearinghouseInbox(
            DynamoClaimsLedger(TENANT, counted.dynamodb(), inbox[config.CLINICAL_TABLE]),
            S3Clearinghouse(
                TENANT,
                counted.s3(),
                inbox[config.DOCUMENTS_BUCKET],
                inbox[config.CLEARINGHOUSE_INBOX_BUCKET],
            ),
            self._resume,
        )
        self.inbox_bucket = inbox[config.CLEARINGHOUSE_INBOX_BUCKET]
        self.clients = counted
        self.system = TenantContext.system(TENANT, "claims")
        self.ids: dict[str, str] = {}

    # -- the ports that record instead of calling Step Functions --------------------------------
    def _start(self, _tenant: str, claim_id: str, attempt: int, _mode: str, _timeouts: object) -> str:
        self.recorded["StepFunctions.StartExecution"] += 1
        return execution_name(claim_id, attempt)

    def _resume(self, _token: str, _answer: dict[str, Any]) -> bool:
        self.recorded["StepFunctions.SendTaskSuccess"] += 1
        return True

    def desk(self) -> ClaimDesk:
        """The desk of a biller, composed as ClaimServices.desk composes it, starting nothing."""
        context = TenantContext(TENANT, "biller-1", Role.BILLING)
        clinical = self.services.clinical
        dynamodb, table = clinical.clients_for(context).dynamodb(), clinical.settings.clinical_table

        def hand_in(_name: str, _body: bytes) -> str:
            raise NotImplementedError("nothing is handed in by hand here")

        return ClaimDesk(
            context,
            ClaimDeskPorts(
                records=clinical.records(context),
                audit=clinical.audit_trail(context),
                ledger=self.services.ledger(context),
                clearinghouse=self.services.clearinghouse(context),
                fees=DynamoFeeSchedules(TENANT, dynamodb, table),
                settings=DynamoTenantSettings(dynamodb, table),
                start=self._start,
                hand_in=hand_in,
                icd10=icd10_codes,
            ),
        )

    # -- set-up, as tests/integration/claims/support.py sets a billing clinic up ------------------
    def set_up(self) -> None:
        records = self.services.clinical.records(self.system)

        def create(resource: dict[str, Any]) -> str:
            return str(records.create(resource["resourceType"], resource).resource["id"])

        self.ids["billing"] = create(
            {
                "resourceType": "Organization",
                "active": True,
                "name": "Bench Family Practice",
                "identifier": [
                    {"system": claims_demo.NPI_SYSTEM, "value": claims_demo.npi("123456789")},
                    {"system": claims_demo.EIN_SYSTEM, "value": "987654321"},
                ],
                "address": [claims_demo.ADDRESS],
            }
        )
        self.ids["payer"] = create(
            {
                "resourceType": "Organization",
                "active": True,
                "name": "Bench Health Plan",
                "identifier": [{"system": claims_demo.PAYER_ID_SYSTEM, "value": PAYER_ID}],
            }
        )
        self.ids["doctor"] = create(
            {
                "resourceType": "Practitioner",
                "active": True,
                "name": [{"family": "Radon", "given": ["Nina"]}],
                "identifier": [{"system": claims_demo.NPI_SYSTEM, "value": claims_demo.npi("198765432")}],
            }
        )
        table = self.deployment.tables["clinical"]
        DynamoTenantSettings(self.clients.dynamodb(), table).update(
            TENANT,
            {
                SETTINGS_KEY: {
                    "submitter": {
                        "sender_id": "BENCHSENDER",
                        "receiver_id": "BENCHCLEAR",
                        "name": "Bench Family Practice",
                        "contact_name": "Billing Office",
                        "contact_phone": "5555550100",
                        "receiver_name": "Bench Clearinghouse",
                    },
                    "billing_organization": self.ids["billing"],
                    "payers": [{"payer_id": PAYER_ID, "name": "Bench Health Plan"}],
                }
            },
        )
        fees = DynamoFeeSchedules(TENANT, self.clients.dynamodb(), table)
        fees.save(FeeSchedule.parse(claims_demo.DEMO_FEES), fees.get()[1])

    def visit(self, number: int) -> str:
        """A patient with an active Coverage and a visit last week, its note signed: the encounter."""
        records = self.services.clinical.records(self.system)
        patient = records.create(
            "Patient",
            {
                "resourceType": "Patient",
                "name": [{"family": f"Bench{number:04d}", "given": ["Ada"]}],
                "gender": "female",
                "birthDate": "1970-04-01",
                "address": [claims_demo.ADDRESS],
            },
        ).resource["id"]
        records.create(
            "Coverage",
            {
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{patient}"},
                "subscriber": {"reference": f"Patient/{patient}"},
                "subscriberId": f"W{number:09d}",
                "relationship": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                            "code": "self",
                        }
                    ]
                },
                "payor": [{"reference": f"Organization/{self.ids['payer']}"}],
            },
        )
        chart = self.services.clinical.records(TenantContext(TENANT, "doctor-1", Role.PHYSICIAN))
        day = (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0).isoformat()
        day = day.replace("+00:00", "Z")
        encounter = str(
            chart.create(
                "Encounter",
                {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                    "subject": {"reference": f"Patient/{patient}"},
                    "participant": [{"individual": {"reference": f"Practitioner/{self.ids['doctor']}"}}],
                    "period": {"start": day},
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
                "date": day,
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
        sign_note(NoteRecords(chart), str(note["id"]))
        return encounter

    # -- reading back -------------------------------------------------------------------------
    def outbound(self, claim_id: str) -> str:
        record = self.services.ledger(self.system).get(claim_id)
        clearinghouse = self.services.clearinghouse(self.system)
        return clearinghouse.read("outbox", record.outbox_key.rsplit("/", 1)[-1]).decode()

    def drop(self, name: str, text: str) -> str:
        key = f"tenants/{TENANT}/{name}"
        self.clients.s3().put_object(Bucket=self.inbox_bucket, Key=key, Body=text.encode())
        return key


def _expect(result: Mapping[str, Any], key: str, wanted: object, what: str) -> None:
    if result.get(key) != wanted:
        raise SystemExit(f"{what} gave {dict(result)}: the benchmark's claim should have passed")


def lifecycle(clinic: Clinic, encounters: list[str], timer: Timer) -> tuple[list[str], str]:
    """The claims of `encounters` coded, through the steps, answered and posted; their ids and 835."""
    steps = clinic.services.steps  # composed per invocation, as functions/claims/handler.py does
    system = clinic.system
    claim_ids = []
    for encounter in encounters:
        coded = timer.time(
            "code: ClaimDesk.code (Claim, ledger record, start)",
            lambda e=encounter: clinic.desk().code({"encounter": f"Encounter/{e}", **CODING}),
        )
        claim_ids.append(str(coded["claim_id"]))
    for claim_id in claim_ids:
        built = timer.time("step build", lambda c=claim_id: steps(system).build(c, 1, SUBMIT))
        _expect(built, "frequency", "1", "build")
        _expect(timer.time("step scrub", lambda c=claim_id: steps(system).scrub(c)), "passed", True, "scrub")
        generated = timer.time(
            "step generate (837P, pyx12 validation, staged)", lambda c=claim_id: steps(system).generate(c)
        )
        _expect(generated, "valid", True, "generate")
        timer.time("step submit", lambda c=claim_id: steps(system).submit(c))

    outbounds = [clinic.outbound(claim_id) for claim_id in claim_ids]
    # The 999: one per claim, since each claim went out in its own interchange.
    for claim_id, outbound in zip(claim_ids, outbounds, strict=True):
        steps(system).wait(claim_id, ACKNOWLEDGEMENT, f"token-999-{claim_id}")
        key = clinic.drop(f"{claim_id}.999.txt", answer_999(outbound))
        timer.time("inbox: a 999 (one file per claim)", lambda k=key: clinic.inbox.receive(k))
    # The 277CA and the 835 answer the batch's claims as one 837P.
    submitter = clinic.services.settings(system).submitter
    if submitter is None:
        raise SystemExit("the clinic's claims settings have no submitter")
    submissions = [claim for outbound in outbounds for claim in read_837p(outbound)]
    combined = write_837p(Interchange(submitter, COMBINED_INTERCHANGE, datetime.now(UTC)), submissions).text
    for claim_id in claim_ids:
        steps(system).wait(claim_id, CLAIM_ACKNOWLEDGEMENT, f"token-277-{claim_id}")
    key = clinic.drop(f"batch-{claim_ids[0]}.277CA.txt", answer_277ca(combined))
    acknowledged = timer.time(
        "inbox: one 277CA for the batch", lambda: clinic.inbox.receive(key), len(claim_ids), whole=True
    )
    for claim_id in claim_ids:
        steps(system).wait(claim_id, REMITTANCE, f"token-835-{claim_id}")
    remittance = answer_835(combined)
    key = clinic.drop(f"batch-{claim_ids[0]}.835.txt", remittance)
    received = timer.time(
        "835: ClearinghouseInbox.receive of one file",
        lambda: clinic.inbox.receive(key),
        len(claim_ids),
        whole=True,
    )
    for name, what in (("277CA", acknowledged), ("835", received)):
        if what is None or what.reasons or len(what.matched) != len(claim_ids):
            raise SystemExit(f"the {name} did not match every claim: {what}")
    for claim_id in claim_ids:
        posted = timer.time("835: ClaimSteps.post", lambda c=claim_id: steps(system).post(c))
        _expect(posted, "denied", False, "post")
    ledger = clinic.services.ledger(system)
    unpaid = [c for c in claim_ids if ledger.get(c).status is not ClaimState.PAID]
    if unpaid:
        raise SystemExit(f"{len(unpaid)} claims were not paid, e.g. Claim/{unpaid[0]}")
    return claim_ids, remittance


def generate_floor(clinic: Clinic, claim_ids: list[str], timer: Timer) -> None:
    """write_837p + validate_837p of each claim's own submission, no AWS call."""
    submitter = clinic.services.settings(clinic.system).submitter
    if submitter is None:
        raise SystemExit("the clinic's claims settings have no submitter")
    for number, claim_id in enumerate(claim_ids, start=1):
        [submission] = read_837p(clinic.outbound(claim_id))
        interchange = Interchange(submitter, number, datetime.now(UTC))
        timer.time(
            "floor: write_837p + validate_837p of the claim alone",
            lambda s=submission, i=interchange: validate_837p(write_837p(i, [s]).text),
        )


def posting_floor(clinic: Clinic, raw: Any, counted: AwsClients, claim_ids: list[str], timer: Timer) -> None:
    """The four raw calls per claim posted, with items as big as posting's, on floor keys."""
    table = clinic.deployment.tables["clinical"]
    ledger = clinic.services.ledger(clinic.system)

    def stored(pk: str, sk: str) -> dict[str, Any]:
        item: dict[str, Any] = raw.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        return item

    floor_pk = f"{ledger_pk(TENANT)}-floor"
    work = []
    for claim_id in claim_ids:
        record = ledger.get(claim_id)
        claim_item = {**stored(ledger_pk(TENANT), f"claim#{claim_id}"), "pk": {"S": floor_pk}}
        raw.put_item(TableName=table, Item=claim_item)
        response = stored(resource_pk(TENANT, "ClaimResponse", record.claim_response_id), CURRENT_SK)
        invoice = stored(resource_pk(TENANT, "Invoice", record.invoice_id), CURRENT_SK)
        floor = f"{TENANT}#floor#{claim_id}"
        work.append(
            (
                {"pk": {"S": floor_pk}, "sk": claim_item["sk"]},
                {**response, "pk": {"S": f"{floor}#ClaimResponse"}},
                {**invoice, "pk": {"S": f"{floor}#Invoice"}},
            )
        )
    dynamodb = counted.dynamodb()

    def four_calls(key: dict[str, Any], response: dict[str, Any], invoice: dict[str, Any]) -> None:
        item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        version = item["version_id"]["N"]
        dynamodb.put_item(
            TableName=table,
            Item={**item, "version_id": {"N": str(int(version) + 1)}},
            ConditionExpression="version_id = :read",
            ExpressionAttributeValues={":read": {"N": version}},
        )
        dynamodb.put_item(TableName=table, Item=response)
        dynamodb.put_item(TableName=table, Item=invoice)

    for key, response, invoice in work:
        timer.time(
            "floor: GetItem + conditional PutItem (ledger), PutItem x2 (ClaimResponse, invoice)",
            lambda k=key, r=response, i=invoice: four_calls(k, r, i),
        )


def figures(claims: int, cache_dir: Path) -> list[Row]:
    running = emulator.start_embedded(_free_port(), cache_dir)
    try:
        clients = AwsClients(AwsSettings(region=emulator.REGION, endpoint_url=running.endpoint_url))
        deployment = provision(clients, ProvisionTarget(endpoint_url=running.endpoint_url, embedded=True))
        # No inbox function beside the benchmark: ClearinghouseInbox is called here instead.
        clients.s3().put_bucket_notification_configuration(
            Bucket=deployment.buckets["clearinghouse-inbox"], NotificationConfiguration={}
        )
        counter, recorded = CallCounter(), Counter[str]()
        audit = AuditWrites(deployment.tables["audit"])

        def attach(client: Any) -> None:
            counter.attach(client)
            audit.attach(client)

        counted = AwsClients(clients.settings, on_client=attach)
        clinic = Clinic(counted, deployment, recorded)
        clinic.set_up()
        warm()
        encounters = [clinic.visit(number) for number in range(claims + 1)]
        lifecycle(clinic, encounters[:1], Timer(counter, recorded, audit))  # warm-up, not counted
        timer = Timer(counter, recorded, audit)
        claim_ids, remittance = lifecycle(clinic, encounters[1:], timer)
        generate_floor(clinic, claim_ids, timer)
        timer.time("floor: read_835 of the same file alone", lambda: read_835(remittance), claims, whole=True)
        posting_floor(clinic, clients.dynamodb(), counted, claim_ids, timer)
        rows = timer.rows
        receive = rows["835: ClearinghouseInbox.receive of one file"]
        post = rows["835: ClaimSteps.post"]
        rows["835 posting: receive + post"] = Row(
            "835 posting: receive + post",
            claims,
            [sum(receive.samples_ms) + sum(post.samples_ms)],
            receive.aws_seconds + post.aws_seconds,
            receive.calls + post.calls,
            receive.recorded + post.recorded,
            receive.audit_writes + post.audit_writes,
            whole_batch=True,
        )
        order = (
            "code: ClaimDesk.code (Claim, ledger record, start)",
            "step build",
            "step scrub",
            "step generate (837P, pyx12 validation, staged)",
            "floor: write_837p + validate_837p of the claim alone",
            "step submit",
            "inbox: a 999 (one file per claim)",
            "inbox: one 277CA for the batch",
            "835: ClearinghouseInbox.receive of one file",
            "floor: read_835 of the same file alone",
            "835: ClaimSteps.post",
            "floor: GetItem + conditional PutItem (ledger), PutItem x2 (ClaimResponse, invoice)",
            "835 posting: receive + post",
        )
        return [rows[name] for name in order]
    finally:
        running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=50, help="claims in the batch")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    logging.getLogger("pyx12").setLevel(logging.CRITICAL + 1)
    emulator.use_local_credentials()
    claims = max(1, min(args.claims, 5_000))
    with tempfile.TemporaryDirectory(prefix="cairn-bench-claims-") as cache_dir:
        rows = figures(claims, Path(cache_dir))
    print(HEADER)
    for row in rows:
        print(row.cells())


if __name__ == "__main__":
    main()
