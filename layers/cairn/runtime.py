"""The composition root of the clinical functions: what is built once per process, and how a
caller's services are wired per invocation from it."""

from __future__ import annotations

from collections.abc import Mapping

from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.break_glass import BreakGlass, DynamoBreakGlassLedger
from cairn.clock import Clock, utc_now
from cairn.config import DataSettings
from cairn.crypto.cache import DataKeyCache
from cairn.crypto.keyring import KmsKeyring
from cairn.patients import PatientService
from cairn.records.dynamodb import DynamoResourceRepository
from cairn.records.standing import guard_writes
from multitenant.context import TenantContext
from multitenant.standing import TenantStanding


class ClinicalRuntime:
    """Settings, AWS clients and the data key cache, built once at cold start; per-caller
    repositories and services built from them for each invocation."""

    def __init__(self, settings: DataSettings, clients: AwsClients, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clients = clients
        self._clock = clock
        self.keyring = KmsKeyring(
            clients.dynamodb(), clients.kms(), settings.clinical_table, settings.data_key_id, DataKeyCache()
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ClinicalRuntime:
        """Validate the environment (ConfigurationError names what is missing) and build."""
        return cls(DataSettings.from_environ(environ), AwsClients(AwsSettings.from_environ(environ)))

    def audit_trail(self, context: TenantContext) -> DynamoAuditTrail:
        """The audit trail of one verified caller."""
        return DynamoAuditTrail(context, self.clients.dynamodb(), self.settings.audit_table, self._clock)

    def patients(self, context: TenantContext, standing: TenantStanding | None = None) -> PatientService:
        """The Patient service of one verified caller; `standing` (from the authorizer) makes a
        suspended tenant's records read-only and holds its patients to the tier's limit."""
        patient_limit = standing.limits.patients if standing else None
        records = DynamoResourceRepository(
            context, self.clients.dynamodb(), self.settings.clinical_table, self.keyring, patient_limit
        )
        guarded = guard_writes(records, standing)
        return PatientService(context, guarded, self.audit_trail(context), self._clock,
                              grants=self.break_glass_ledger(context))

    def break_glass_ledger(self, context: TenantContext) -> DynamoBreakGlassLedger:
        """The break-glass grants of the caller's tenant."""
        return DynamoBreakGlassLedger(context, self.clients.dynamodb(), self.settings.clinical_table,
                                      self.keyring)

    def break_glass(self, context: TenantContext) -> BreakGlass:
        """Break-glass and its report, for one verified caller."""
        records = DynamoResourceRepository(
            context, self.clients.dynamodb(), self.settings.clinical_table, self.keyring
        )
        return BreakGlass(context, self.break_glass_ledger(context), records,
                          self.audit_trail(context), self._clock)
