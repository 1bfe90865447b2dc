"""The reminders wired for one clinic over AWS, from the ClinicalRuntime (its clients, data key
cache and record service): the workflow's steps, the reminders desk the API uses, and the
workflow itself. Configuration answers (the clinic's policy and name) are cached a minute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cairn.clock import Clock, utc_now
from cairn.config import REMINDERS_STATE_MACHINE_ARN, TENANT_TABLE
from cairn.errors import ConfigurationError
from cairn.messaging.config import Delivery, DeliverySettings
from cairn.messaging.outbox import OutboxSender
from cairn.reminders.desk import ReminderDesk
from cairn.reminders.steps import ReminderSteps
from cairn.reminders.workflow import ReminderWorkflow
from cairn.runtime import ClinicalRuntime
from cairn.scheduling.clinic import ClinicSchedule
from cairn.short_lived_cache import ShortLivedCache
from multitenant.context import TenantContext
from multitenant.onboarding import DEFAULT_SETTINGS
from multitenant.provisioning import DynamoTenantSettings
from multitenant.registry import DynamoTenantRegistry
from multitenant.standing import TenantStanding

ACTOR = "reminders"


@dataclass(frozen=True)
class ReminderServices:
    """Built once per process (cold start) by the reminders function and the reminders API."""

    clinical: ClinicalRuntime
    environ: Mapping[str, str]
    delivery: DeliverySettings
    now: Clock = utc_now
    cache: ShortLivedCache = field(default_factory=ShortLivedCache)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ReminderServices:
        """Validated at cold start: the data settings and how messages are delivered."""
        return cls(ClinicalRuntime.from_environ(environ), environ, DeliverySettings.from_environ(environ))

    def schedule(self, tenant_id: str) -> ClinicSchedule:
        """The clinic's reminder policy and zone (the onboarding defaults where unset)."""

        def load() -> ClinicSchedule:
            clients = self.clinical.clients_for(TenantContext.system(tenant_id, ACTOR))
            stored = DynamoTenantSettings(clients.dynamodb(), self.clinical.settings.clinical_table)
            return ClinicSchedule.parse({**DEFAULT_SETTINGS, **(stored.get(tenant_id) or {})})

        return self.cache.get(("clinic-schedule", tenant_id), load)

    def clinic_name(self, tenant_id: str) -> str:
        """The clinic's name as its patients know it (the tenant registry's)."""
        table = self.environ.get(TENANT_TABLE, "").strip()
        if not table:
            raise ConfigurationError(f"{TENANT_TABLE} is not set: reminders cannot name the clinic")

        def load() -> str:
            tenant = DynamoTenantRegistry(self.clinical.clients.dynamodb(), table).get(tenant_id)
            return tenant.name if tenant is not None else tenant_id

        return self.cache.get(("clinic-name", tenant_id), load)

    def steps(self, tenant_id: str) -> ReminderSteps:
        """The workflow's steps, acting as the clinic."""
        context = TenantContext.system(tenant_id, ACTOR)
        return ReminderSteps(
            records=self.clinical.records(context),
            schedule=lambda: self.schedule(tenant_id),
            clinic_name=lambda: self.clinic_name(tenant_id),
            sender=self.delivery.sender_for(context, self.clinical.clients_for(context)),
            now=self.now,
        )

    def workflow(self) -> ReminderWorkflow:
        """The reminders state machine (ConfigurationError when its ARN is not set)."""
        arn = self.environ.get(REMINDERS_STATE_MACHINE_ARN, "").strip()
        if not arn:
            raise ConfigurationError(f"{REMINDERS_STATE_MACHINE_ARN} is not set: reminders cannot be started")
        return ReminderWorkflow(self.clinical.clients.stepfunctions(), arn)

    def desk(self, context: TenantContext, standing: TenantStanding | None = None) -> ReminderDesk:
        """The reminders as the verified caller `context` uses them (the reminders API)."""
        clinic = TenantContext.system(context.tenant_id, ACTOR)
        outbox = None
        if self.delivery.delivery is Delivery.OUTBOX and self.delivery.documents_bucket is not None:
            outbox = OutboxSender(
                clinic,
                self.clinical.clients_for(context).s3(),
                self.delivery.documents_bucket,
                self.delivery.sender,
            )
        return ReminderDesk(
            caller=self.clinical.records(context, standing),
            clinic=self.clinical.records(clinic),
            audit=self.clinical.audit_trail(context),
            schedule=lambda: self.schedule(context.tenant_id),
            workflow=self.workflow(),
            outbox=outbox,
            now=self.now,
        )
