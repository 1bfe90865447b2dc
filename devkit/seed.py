"""Seed a stack with two demo clinics, their users, and patients imported as in production.

The stack is the one `cairn dev` provisioned, or a deployed stage found by devkit/discovery.py
(`cairn seed --stage`); seeding again is harmless (users are reset, imports are idempotent).

Patients arrive the way a clinic's data would: bundles are put in the documents bucket and the
bundle-import state machine imports them (through the real function). demo-clinic gets the
Synthea bundles from <repo>/../shared/fixtures/synthea when they are there (read in place,
never copied into the repo), else generated ones; second-clinic gets a few generated patients.
Each clinic's patient user is linked to one of its imported patients.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.aws import AwsClients
from devkit.claims_demo import seed_claims
from devkit.demo_data import demo_patient_bundle
from devkit.deployment import Deployment, UserPoolOutput
from devkit.lab_demo import seed_lab_results, wait_for_lab_workflows
from devkit.schedule_demo import seed_calendar
from infra.declarations import PROJECT_ROOT
from multitenant.provisioning import OnboardingLauncher, group_name
from multitenant.registry import DynamoTenantRegistry

DEMO_PASSWORD = "Cairn-Demo-2026!"  # noqa: S105 documented in `cairn dev`'s banner; local emulator only
ROLES = ("admin", "physician", "nurse", "billing", "patient", "lab_interface")
SYNTHEA_DIR = PROJECT_ROOT.parent / "shared" / "fixtures" / "synthea"
GENERATED_FOR_DEMO = 5
GENERATED_FOR_SECOND = 3
SECOND_CLINIC_SEED_BASE = 1000
KEY_DIGEST_CHARS = 16  # different seeds, so the clinics never share a generated patient


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    name: str
    tier: str = "practice"  # one of the tiers the tenancy issue declares: starter, practice, enterprise


TENANTS = (DemoTenant("demo-clinic", "Demo Clinic"), DemoTenant("second-clinic", "Second Clinic"))


@dataclass(frozen=True)
class DemoBundle:
    """A bundle to import: the file name it is stored under, its bytes, its Patient's fullUrl."""

    file_name: str
    body: bytes
    patient_full_url: str | None


@dataclass
class SeedReport:
    """What seeding did: imported patient ids per tenant, and the imports that failed."""

    patients: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def username(tenant_id: str, role: str) -> str:
    """The demo login of `role` in `tenant_id`, e.g. physician@demo-clinic.example."""
    return f"{role}@{tenant_id}.example"


def seed(clients: AwsClients, deployment: Deployment, synthea_dir: Path = SYNTHEA_DIR,
         timeout_seconds: float = 300.0) -> SeedReport:
    """Onboard the demo tenants, create their users and import their patients."""
    report = SeedReport()
    deadline = time.monotonic() + timeout_seconds
    report.failures += onboard_tenants(clients, deployment, deadline)
    for tenant in TENANTS:
        deployment.users[tenant.tenant_id] = create_users(clients, deployment, tenant.tenant_id)
    for tenant in TENANTS:
        bundles = bundles_for(tenant.tenant_id, synthea_dir)
        patients, failures = import_bundles(clients, deployment, tenant.tenant_id, bundles, deadline)
        report.patients[tenant.tenant_id] = patients
        report.failures += failures
        if patients:
            link_patient_user(clients, deployment, tenant.tenant_id, patients[0])
        report.failures += seed_labs(clients, deployment, tenant.tenant_id, patients)
        report.failures += seed_schedule(clients, deployment, tenant.tenant_id, patients)
        report.failures += seed_claims_demo(clients, deployment, tenant.tenant_id, patients, deadline)
    report.failures += wait_for_lab_workflows(clients, deployment, deadline)
    deployment.demo_password = DEMO_PASSWORD
    return report


def seed_labs(clients: AwsClients, deployment: Deployment, tenant_id: str, patients: list[str]) -> list[str]:
    """The demo lab and its results file (devkit/lab_demo.py); a line if that failed (the rest of
    the demo still works without lab results)."""
    try:
        seed_lab_results(clients, deployment, tenant_id, patients)
    except Exception as exc:  # the demo goes on without lab results; the banner names the failure
        return [f"{tenant_id}: demo lab results not seeded ({type(exc).__name__}: {exc})"]
    return []


def seed_schedule(
    clients: AwsClients, deployment: Deployment, tenant_id: str, patients: list[str]
) -> list[str]:
    """The demo calendar (devkit/schedule_demo.py); a line if that failed (the rest of the demo
    still works without visits)."""
    try:
        seed_calendar(clients, deployment, tenant_id, patients)
    except Exception as exc:  # the demo goes on without a calendar; the banner names the failure
        return [f"{tenant_id}: demo calendar not seeded ({type(exc).__name__}: {exc})"]
    return []


def seed_claims_demo(
    clients: AwsClients, deployment: Deployment, tenant_id: str, patients: list[str], deadline: float
) -> list[str]:
    """The demo claims (devkit/claims_demo.py); a line if that failed (the rest of the demo still
    works without claims)."""
    try:
        seed_claims(clients, deployment, tenant_id, patients, deadline)
    except Exception as exc:  # the demo goes on without claims; the banner names the failure
        return [f"{tenant_id}: demo claims not seeded ({type(exc).__name__}: {exc})"]
    return []


def onboard_tenants(clients: AwsClients, deployment: Deployment, deadline: float) -> list[str]:
    """Onboard the demo clinics through the tenant-onboarding workflow, as an operator would;
    returns a line per clinic that could not be onboarded.

    The request id is fixed per clinic, so seeding again finds the same tenants; a clinic
    registered before onboarding existed (no request id) is kept as it is."""
    registry = DynamoTenantRegistry(clients.dynamodb(), deployment.tables["tenants"])
    launcher = OnboardingLauncher(clients.stepfunctions(), deployment.state_machines["tenant-onboarding"],
                                  registry)
    started: list[tuple[str, str]] = []
    for tenant in TENANTS:
        request_id = f"seed-{tenant.tenant_id}"
        existing = registry.get(tenant.tenant_id)
        if existing is not None and existing.onboarding_request_id != request_id:
            continue
        execution = launcher.start({"request_id": request_id, "tenant_id": tenant.tenant_id,
                                    "name": tenant.name, "tier": tenant.tier,
                                    "admin_email": username(tenant.tenant_id, "admin")})
        started.append((tenant.tenant_id, execution.execution_arn))
    failures: list[str] = []
    for tenant_id, execution_arn in started:
        result = wait_for_execution(clients, execution_arn, deadline)
        if result["status"] != "SUCCEEDED":
            failures.append(f"{tenant_id}: onboarding {result['status']} {result.get('error', '')} "
                            f"{result.get('cause', '')}")
    return failures


def create_users(clients: AwsClients, deployment: Deployment, tenant_id: str) -> dict[str, str]:
    """One confirmed user per demo role, with a permanent password; returns role -> username."""
    cognito = clients.cognito()
    pool_id = _pool(deployment).id
    users: dict[str, str] = {}
    # The clinic's group is how user administration lists a clinic's users.
    with contextlib.suppress(cognito.exceptions.GroupExistsException):
        cognito.create_group(UserPoolId=pool_id, GroupName=group_name(tenant_id))
    for role in ROLES:
        name = username(tenant_id, role)
        attributes = [
            {"Name": "email", "Value": name},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenant_id", "Value": tenant_id},
            {"Name": "custom:role", "Value": role},
        ]
        try:
            cognito.admin_create_user(UserPoolId=pool_id, Username=name, UserAttributes=attributes,
                                      TemporaryPassword=DEMO_PASSWORD, MessageAction="SUPPRESS")
        except cognito.exceptions.UsernameExistsException:
            # Seeded before (a second `cairn dev` or `cairn seed` against the same pool): reset the
            # demo user to what the demo promises rather than fail.
            cognito.admin_update_user_attributes(UserPoolId=pool_id, Username=name, UserAttributes=attributes)
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=DEMO_PASSWORD,
                                        Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName=group_name(tenant_id))
        users[role] = name
    return users


def bundles_for(tenant_id: str, synthea_dir: Path) -> list[DemoBundle]:
    """demo-clinic: the Synthea bundles if present, else generated; others: generated."""
    if tenant_id == TENANTS[0].tenant_id:
        paths = sorted(synthea_dir.glob("*.json")) if synthea_dir.is_dir() else []
        if paths:
            return [_bundle(path.name, path.read_bytes()) for path in paths]
        seeds = range(GENERATED_FOR_DEMO)
    else:
        seeds = range(SECOND_CLINIC_SEED_BASE, SECOND_CLINIC_SEED_BASE + GENERATED_FOR_SECOND)
    return [_bundle(f"generated-{seed}.json", json.dumps(demo_patient_bundle(seed)).encode())
            for seed in seeds]


def _bundle(file_name: str, body: bytes) -> DemoBundle:
    parsed: dict[str, Any] = json.loads(body)
    patient_urls = [entry.get("fullUrl") for entry in parsed.get("entry", [])
                    if entry.get("resource", {}).get("resourceType") == "Patient"]
    return DemoBundle(file_name=file_name, body=body, patient_full_url=next(iter(patient_urls), None))


def import_key(tenant_id: str, file_name: str, body: bytes) -> str:
    """tenants/<tenant>/imports/<name>-<sha256 prefix>.json: the same file, the same key, so the
    same ids (cairn.imports); `cairn seed` and `cairn import` of one file store it once."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file_name).stem)[:80] or "bundle"
    return f"tenants/{tenant_id}/imports/{stem}-{hashlib.sha256(body).hexdigest()[:KEY_DIGEST_CHARS]}.json"


def import_bundles(clients: AwsClients, deployment: Deployment, tenant_id: str,
                   bundles: list[DemoBundle], deadline: float) -> tuple[list[str], list[str]]:
    """Upload each bundle, start one bundle-import execution per bundle, wait for all of them.

    Returns the imported patients' ids (in bundle order) and a line per failed import.
    """
    s3 = clients.s3()
    sfn = clients.stepfunctions()
    started: list[tuple[DemoBundle, str]] = []
    for bundle in bundles:
        key = import_key(tenant_id, bundle.file_name, bundle.body)
        s3.put_object(Bucket=deployment.buckets["documents"], Key=key, Body=bundle.body,
                      ContentType="application/fhir+json")
        execution = sfn.start_execution(
            stateMachineArn=deployment.state_machines["bundle-import"],
            # moto names every unnamed execution "None", so each gets its own name.
            name=f"seed-{tenant_id}-{uuid.uuid4().hex[:12]}",
            input=json.dumps({"tenant_id": tenant_id, "bundle_key": key}),
        )
        started.append((bundle, execution["executionArn"]))
    patients: list[str] = []
    failures: list[str] = []
    for bundle, execution_arn in started:
        result = wait_for_execution(clients, execution_arn, deadline)
        if result["status"] != "SUCCEEDED":
            failures.append(f"{tenant_id}/{bundle.file_name}: {result['status']} {result.get('cause', '')}")
            continue
        created = json.loads(result.get("output") or "{}").get("created", [])
        patients += [entry["id"] for entry in created if entry.get("fullUrl") == bundle.patient_full_url]
    return patients, failures


def wait_for_execution(clients: AwsClients, execution_arn: str, deadline: float) -> dict[str, Any]:
    """DescribeExecution once the execution has stopped, or TimeoutError at `deadline`."""
    sfn = clients.stepfunctions()
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} is still running")
        time.sleep(0.2)


def link_patient_user(clients: AwsClients, deployment: Deployment, tenant_id: str, patient_id: str) -> None:
    """Give the clinic's patient login its Patient resource (custom:patient_id)."""
    clients.cognito().admin_update_user_attributes(
        UserPoolId=_pool(deployment).id,
        Username=username(tenant_id, "patient"),
        UserAttributes=[{"Name": "custom:patient_id", "Value": patient_id}],
    )


def _pool(deployment: Deployment) -> UserPoolOutput:
    return next(iter(deployment.user_pools.values()))
