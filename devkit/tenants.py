"""`cairn tenant create|list|show|suspend|reactivate`: the operator's tenant commands.

They work on a deployment (the `cairn dev` stack's deployment.json, or a `--stage` deployed by
the CDK app) through the same control-plane code the operator API uses: creation starts the
tenant-onboarding workflow, status changes go through `multitenant.lifecycle.change_status`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from devkit.deployment import Deployment
from devkit.emulator import use_local_credentials
from devkit.seed import wait_for_execution
from multitenant.context import TenantContext
from multitenant.errors import TenantNotFound
from multitenant.lifecycle import TenantStatus, change_status
from multitenant.provisioning import OnboardingExecution, OnboardingLauncher
from multitenant.registry import DynamoTenantRegistry, Tenant


def default_request_id(tenant_id: str, name: str, tier: str, admin_email: str) -> str:
    """A request id derived from what is asked, so repeating the same command is the same request
    (idempotent) and a different request for the same tenant id is refused."""
    digest = hashlib.sha256("\n".join((tenant_id, name, tier, admin_email.lower())).encode()).hexdigest()
    return f"cli-{digest[:20]}"


@dataclass(frozen=True)
class OnboardingOutcome:
    execution: OnboardingExecution
    status: str  # the execution's final status, or RUNNING if not waited for
    error: str | None = None
    cause: str | None = None


class TenantOperations:
    """Tenant operations on one deployment, as operator `actor`."""

    def __init__(self, clients: AwsClients, deployment: Deployment, actor: str | None = None) -> None:
        self._clients = clients
        self._deployment = deployment
        self._actor = f"operator:{actor or getpass.getuser()}"
        self.registry = DynamoTenantRegistry(clients.dynamodb(), deployment.tables["tenants"])

    @classmethod
    def for_deployment(cls, deployment: Deployment) -> TenantOperations:
        """Operations with clients for `deployment` (fake credentials for an emulator)."""
        if deployment.endpoint_url:
            use_local_credentials(deployment.region)  # an emulator: never real credentials
        return cls(AwsClients(AwsSettings(region=deployment.region,
                                          endpoint_url=deployment.endpoint_url or None)), deployment)

    def create(self, request: dict[str, Any], wait_seconds: float | None = 120.0) -> OnboardingOutcome:
        """Start onboarding `request`; wait for it to end unless `wait_seconds` is None."""
        launcher = OnboardingLauncher(self._clients.stepfunctions(),
                                      self._deployment.state_machines["tenant-onboarding"], self.registry)
        execution = launcher.start(request)
        if wait_seconds is None:
            return OnboardingOutcome(execution, execution.status)
        ended = wait_for_execution(self._clients, execution.execution_arn, time.monotonic() + wait_seconds)
        return OnboardingOutcome(execution, ended["status"], ended.get("error"), ended.get("cause"))

    def list(self) -> list[Tenant]:
        return self.registry.list()

    def show(self, tenant_id: str) -> Tenant | None:
        return self.registry.get(tenant_id)

    def suspend(self, tenant_id: str, reason: str) -> Tenant:
        return self._change(tenant_id, TenantStatus.SUSPENDED, reason)

    def reactivate(self, tenant_id: str, reason: str) -> Tenant:
        return self._change(tenant_id, TenantStatus.ACTIVE, reason)

    def _change(self, tenant_id: str, wanted: TenantStatus, reason: str) -> Tenant:
        audit = DynamoAuditTrail(TenantContext.system(tenant_id, self._actor), self._clients.dynamodb(),
                                 self._deployment.tables["audit"])
        return change_status(self.registry, audit, tenant_id, wanted, reason)


def add_parser(commands: Any, state_help: str, stage_help: str) -> None:
    """`cairn tenant ...` under the CLI's subcommands."""
    tenant = commands.add_parser("tenant", help="operate tenants (clinics): create, list, show, suspend, "
                                                "reactivate; on `cairn dev` or a deployed --stage")
    tenant.add_argument("--state-dir", help=state_help)
    tenant.add_argument("--stage", help=stage_help + "; default: the `cairn dev` stack in --state-dir")
    actions = tenant.add_subparsers(dest="tenant_command", required=True)
    create = actions.add_parser("create", help="onboard a clinic through the tenant-onboarding workflow")
    create.add_argument("tenant_id", help="the tenant id (slug): 2-63 lowercase letters, digits, '-'")
    create.add_argument("--name", required=True, help="the clinic's name")
    create.add_argument("--tier", required=True, help="starter, practice or enterprise")
    create.add_argument("--admin-email", required=True, help="the first admin, invited by email")
    create.add_argument("--request-id", help="names the request; the same id again is the same request "
                                             "(default: derived from the arguments)")
    create.add_argument("--no-wait", action="store_true", help="start onboarding and return at once")
    actions.add_parser("list", help="every tenant with its status and tier")
    show = actions.add_parser("show", help="one tenant as JSON")
    show.add_argument("tenant_id")
    for name, verb in (("suspend", "make read-only (reads and export still work)"),
                       ("reactivate", "make active again")):
        change = actions.add_parser(name, help=verb)
        change.add_argument("tenant_id")
        change.add_argument("--reason", required=True, help="why; kept in the registry and the audit trail")


def run(args: Any, operations: TenantOperations) -> int:
    """Run the parsed `cairn tenant` command; prints results on stdout and refusals on stderr."""
    command = args.tenant_command
    if command == "create":
        request = {"tenant_id": args.tenant_id, "name": args.name, "tier": args.tier,
                   "admin_email": args.admin_email,
                   "request_id": args.request_id or default_request_id(args.tenant_id, args.name, args.tier,
                                                                       args.admin_email)}
        outcome = operations.create(request, wait_seconds=None if args.no_wait else 120.0)
        print(json.dumps({**outcome.execution.as_dict(), "status": outcome.status, "error": outcome.error,
                          "cause": outcome.cause, "request_id": request["request_id"]}, indent=2))
        return 0 if outcome.status in ("SUCCEEDED", "RUNNING") else 1
    if command == "list":
        rows = [(t.tenant_id, t.status.value, t.tier.value, t.name) for t in operations.list()]
        print("\n".join(f"{tid:<28} {status:<10} {tier:<11} {name}" for tid, status, tier, name in
                        [("TENANT", "STATUS", "TIER", "NAME"), *rows]))
        return 0
    if command == "show":
        tenant = operations.show(args.tenant_id)
        if tenant is None:
            raise TenantNotFound(args.tenant_id)
        print(json.dumps(tenant.as_dict(), indent=2))
        return 0
    change = operations.suspend if command == "suspend" else operations.reactivate
    print(json.dumps(change(args.tenant_id, args.reason).as_dict(), indent=2))
    return 0
