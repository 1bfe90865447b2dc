"""Lab results for the demo clinics of `cairn dev`: each clinic gets a lab in its directory
("demo-lab") and, for its first imported patients, a batch file of generated results (a normal
CBC, an abnormal metabolic panel, a critical lipid panel, and quarterly HbA1c for a trend)
dropped into its lab inbox, so the lab-ingestion workflow files them as a real lab's file would
be. `wait_for_lab_workflows` lets seeding finish before `cairn dev` says it is ready."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cairn.aws import AwsClients
from cairn.config import DataSettings
from cairn.labs.directory import LabNotFound, find_lab, lab_organization
from cairn.labs.inbox_files import inbox_key
from cairn.labs.model import PatientIdentifier, PatientIdentity
from cairn.records.service import RecordService
from cairn.runtime import ClinicalRuntime
from devkit.deployment import Deployment
from devkit.lab_messages import PANELS, Outcome, batch_file, panel_results, result_message
from multitenant.context import TenantContext

DEMO_LAB = "demo-lab"
DEMO_LAB_NAME = "Cairn Demo Reference Lab"
RESULT_PATIENTS = 1
A1C_RESULTS = 2  # two, six months apart: a trend


def seed_lab_results(clients: AwsClients, deployment: Deployment, tenant_id: str,
                     patient_ids: Sequence[str], now: datetime | None = None) -> str | None:
    """The demo lab and a results file for up to RESULT_PATIENTS patients; the inbox key written
    (None without patients). Seeding twice drops the same control ids: duplicates, filed once."""
    settings = DataSettings.from_environ(deployment.environment_of("lab-ingestion", clients))
    records = ClinicalRuntime(settings, clients).records(TenantContext.system(tenant_id, "demo-seed"))
    try:
        find_lab(records, DEMO_LAB)
    except LabNotFound:
        records.create("Organization", lab_organization(DEMO_LAB, DEMO_LAB_NAME))
    return _drop(clients, deployment, tenant_id, records, patient_ids, now)


def _drop(clients: AwsClients, deployment: Deployment, tenant_id: str, records: RecordService,
          patient_ids: Sequence[str], now: datetime | None) -> str | None:
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    messages: list[str] = []
    for number, patient_id in enumerate(patient_ids[:RESULT_PATIENTS]):
        identity = _identity(records.read("Patient", patient_id))
        if identity is None:
            continue
        messages += _results_of(identity, number, moment)
    if not messages:
        return None
    key = inbox_key(tenant_id, DEMO_LAB, "demo-results.hl7")
    clients.s3().put_object(Bucket=deployment.buckets["lab-inbox"], Key=key,
                            Body=batch_file(messages, sender=DEMO_LAB_NAME).encode())
    return key


def _results_of(patient: PatientIdentity, number: int, now: datetime) -> list[str]:
    outcomes = (Outcome.NORMAL, Outcome.ABNORMAL, Outcome.CRITICAL)
    messages = []
    for index, (panel, outcome) in enumerate(zip(("cbc", "bmp", "lipid"), outcomes, strict=True)):
        control = f"DEMO-{number}-{panel.upper()}"
        messages.append(result_message(
            patient=patient, control_id=control, placer=None, filler=f"DL{number}{index:03d}",
            tests=panel_results(PANELS[panel], seed=number * 10 + index, outcome=outcome),
            panel=PANELS[panel], collected=now - timedelta(days=index + 1), sending_facility=DEMO_LAB_NAME))
    a1c = PANELS["hba1c"]
    for quarter in range(A1C_RESULTS):
        messages.append(result_message(
            patient=patient, control_id=f"DEMO-{number}-A1C-{quarter}", placer=None,
            filler=f"DL{number}A{quarter}", tests=panel_results(a1c, seed=number * 100 + quarter), panel=a1c,
            collected=now - timedelta(days=180 * (A1C_RESULTS - quarter)), sending_facility=DEMO_LAB_NAME))
    return messages


def _identity(patient: dict[str, Any]) -> PatientIdentity | None:
    """What a lab would send back about `patient`: its identifiers, name, birth date and sex."""
    name = next(iter(patient.get("name") or []), {})
    if not name.get("family") or not patient.get("birthDate"):
        return None
    identifiers = tuple(PatientIdentifier(value=str(i["value"]), type_code="MR")
                        for i in patient.get("identifier") or () if i.get("value"))
    return PatientIdentity(identifiers=identifiers or (PatientIdentifier(str(patient["id"])),),
                           family=str(name["family"]), given=tuple(name.get("given") or ()),
                           birth_date=str(patient["birthDate"]), sex=patient.get("gender"))



def wait_for_lab_workflows(clients: AwsClients, deployment: Deployment, deadline: float) -> list[str]:
    """Wait until no lab-ingestion execution runs (the demo files are filed); a line per
    execution that did not succeed."""
    sfn = clients.stepfunctions()
    arn = deployment.state_machines["lab-ingestion"]
    while sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            return ["demo lab results: still being filed when seeding timed out"]
        time.sleep(0.5)
    failed = sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"]
    return [f"demo lab results: execution {e['name']} failed" for e in failed]
