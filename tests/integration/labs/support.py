"""A clinic with labs in the embedded runtime: the lab API invoked as API Gateway would invoke it
(through the emulator's Lambda API, so the real function with its environment runs and starts
the real lab-ingestion state machine in moto), and readers for what the workflow left behind."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cairn.aws import AwsClients
from cairn.config import DataSettings
from cairn.fhir.search import parse_search
from cairn.labs.directory import lab_organization
from cairn.labs.ledger import DynamoLabLedger, LabMessage
from cairn.labs.model import PLACER_ORDER_SYSTEM
from cairn.labs.outbox import OutboxKind, S3LabOutbox
from cairn.records.service import RecordService
from cairn.runtime import ClinicalRuntime
from devkit import seed
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from multitenant.provisioning import DynamoTenantSettings
from tests.integration.api_calls import invoke, proxy_event

HL7 = "x-application/hl7-v2+er7"


@dataclass
class LabClinic:
    """One clinic (tenant) of the embedded runtime and its lab."""

    tenant_id: str
    lab_id: str
    clients: AwsClients
    deployment: Deployment

    @property
    def runtime(self) -> ClinicalRuntime:
        settings = DataSettings.from_environ(self.deployment.function_environments["lab-ingestion"])
        return ClinicalRuntime(settings, self.clients)

    def system(self) -> RecordService:
        return self.runtime.records(TenantContext.system(self.tenant_id, "test-seed"))

    def as_role(self, role: Role, user: str = "user-1", patient_id: str | None = None) -> RecordService:
        return self.runtime.records(TenantContext(self.tenant_id, user, role, patient_id))

    def set_up(self, release_policy: str) -> None:
        """Settings (as onboarding writes them) and the lab in the clinic's directory."""
        DynamoTenantSettings(self.clients.dynamodb(), self.deployment.tables["clinical"]).put_defaults(
            self.tenant_id, {"time_zone": "UTC", "lab_results_release": release_policy})
        self.system().create("Organization", lab_organization(self.lab_id, "Acme Reference Lab"))

    def patient(self, family: str, given: str, birth_date: str, identifier: str) -> str:
        created = self.system().create("Patient", {
            "resourceType": "Patient", "name": [{"family": family, "given": [given]}],
            "birthDate": birth_date, "gender": "unknown",
            "identifier": [{"system": "https://cairn.example/mrn", "value": identifier}]})
        return str(created.resource["id"])

    def practitioner(self) -> str:
        created = self.system().create("Practitioner", {
            "resourceType": "Practitioner", "name": [{"family": "Radon", "given": ["Nicholas"]}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]})
        return f"Practitioner/{created.resource['id']}"

    def order(self, patient_id: str, requester: str, placer: str | None, code: str = "57021-8") -> str:
        order: dict[str, Any] = {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007",
                                      "display": "Laboratory procedure"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{patient_id}"}, "requester": {"reference": requester},
            "authoredOn": "2026-11-20T09:00:00Z"}
        if placer:
            order["identifier"] = [{"system": PLACER_ORDER_SYSTEM, "value": placer}]
        return str(self.system().create("ServiceRequest", order).resource["id"])

    # -- the lab API ------------------------------------------------------------------------
    def call(self, method: str, path: str, resource: str, who: TenantContext, *, body: bytes | None = None,
             content_type: str = "application/json", query: dict[str, str] | None = None,
             path_parameters: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        event = proxy_event(method, path, resource, who, body=body, content_type=content_type, query=query,
                            path_parameters=path_parameters)
        return invoke(self.clients, self.deployment.functions["lab-api"], event)

    def post_hl7(self, payload: bytes | str, who: TenantContext | None = None,
                 lab_id: str | None = None) -> tuple[int, str]:
        lab = lab_id or self.lab_id
        sender = who or TenantContext(self.tenant_id, "lab-system", Role.LAB_INTERFACE)
        status, _, body = self.call("POST", f"/labs/{lab}/hl7", "/labs/{lab}/hl7", sender,
                                    body=payload.encode() if isinstance(payload, str) else payload,
                                    content_type=HL7, path_parameters={"lab": lab})
        return status, body

    def drop(self, key: str, body: bytes, timeout: float = 60) -> None:
        """Put a file in the lab inbox and wait until its workflow has started (S3 notifies the
        inbox function asynchronously, as in AWS)."""
        sfn, arn = self.clients.stepfunctions(), self.deployment.state_machines["lab-ingestion"]
        before = len(sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"])
        self.clients.s3().put_object(Bucket=self.deployment.buckets["lab-inbox"], Key=key, Body=body)
        deadline = time.monotonic() + timeout
        while len(sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]) == before:
            assert time.monotonic() < deadline, f"no lab-ingestion workflow started for {key}"
            time.sleep(0.1)

    # -- what the workflow left ---------------------------------------------------------------
    def wait_for_workflows(self, timeout: float = 180) -> list[dict[str, Any]]:
        """Every lab-ingestion execution, once none is running."""
        sfn = self.clients.stepfunctions()
        deadline = time.monotonic() + timeout
        arn = self.deployment.state_machines["lab-ingestion"]
        executions = sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]
        return [seed.wait_for_execution(self.clients, e["executionArn"], deadline) for e in executions]

    def ledger(self) -> DynamoLabLedger:
        return DynamoLabLedger(TenantContext.system(self.tenant_id, "test"), self.clients.dynamodb(),
                               self.deployment.tables["clinical"])

    def message(self, control_id: str) -> LabMessage:
        entry = self.ledger().get(self.lab_id, control_id)
        assert entry is not None, f"no ledger entry for {control_id}"
        return entry

    def ack(self, control_id: str) -> str:
        outbox = S3LabOutbox(TenantContext.system(self.tenant_id, "test"), self.clients.s3(),
                             self.deployment.buckets["documents"])
        return outbox.collect(self.lab_id, OutboxKind.ACKS, control_id)

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        wanted = {name.replace("_", "-"): [value] for name, value in params.items()}
        query = parse_search(resource_type, wanted)
        return self.system().search(query).resources


def msa(ack: str) -> list[list[str]]:
    """The MSA fields of each acknowledgment in `ack` (MSA-1 code, MSA-2 control id, ...)."""
    return [segment.split("|") for segment in ack.replace("\n", "\r").split("\r")
            if segment.startswith("MSA|")]


def err_codes(ack: str) -> list[str]:
    """ERR-3 identifiers of the acknowledgment(s)."""
    return [segment.split("|")[3].split("^")[0] for segment in ack.split("\r") if segment.startswith("ERR|")]
