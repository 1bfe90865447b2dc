"""The composition root of the clinical functions: what is built once per process, and how a
caller's services are wired per invocation from it."""

from __future__ import annotations

from collections.abc import Mapping

from cairn.audit.fhir_view import AuditEventReader
from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.break_glass import BreakGlass, DynamoBreakGlassLedger
from cairn.bulk_export import BulkExportService, DynamoExportJobs, S3ExportFiles, StepFunctionsExportLauncher
from cairn.claims.guard import guard_claim_change
from cairn.clock import Clock, utc_now
from cairn.config import BULK_EXPORT_STATE_MACHINE_ARN, DataSettings
from cairn.crypto.cache import DataKeyCache
from cairn.crypto.keyring import KmsKeyring
from cairn.documents import DocumentContent
from cairn.errors import ConfigurationError
from cairn.notes import guard_note_change
from cairn.records.dynamodb import DynamoResourceRepository
from cairn.records.service import RecordService
from cairn.records.standing import guard_writes
from cairn.scheduling.guard import guard_appointment_change
from multitenant.context import TenantContext
from multitenant.credentials import TenantClients, TenantDataScope
from multitenant.standing import TenantStanding

# Rules a type's writes obey on every path (update, patch, delete, transactions).
WRITE_GUARDS = {
    "Composition": guard_note_change,
    "Appointment": guard_appointment_change,
    "Claim": guard_claim_change,
    "ClaimResponse": guard_claim_change,
}


class ClinicalRuntime:
    """Settings, AWS clients and the data key cache, built once at cold start; per-caller
    repositories and services built from them for each invocation."""

    def __init__(
        self,
        settings: DataSettings,
        clients: AwsClients,
        clock: Clock = utc_now,
        tenant_clients: TenantClients | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._environ = dict(environ or {})  # optional settings of single features (bulk export)
        self.clients = clients
        self._clock = clock
        self._data_keys = DataKeyCache()  # keyed by table, KMS key and tenant: safe to share
        self.keyring = KmsKeyring(
            clients.dynamodb(), clients.kms(), settings.clinical_table, settings.data_key_id, self._data_keys
        )
        if tenant_clients is None and settings.tenant_data_role_arn:
            tenant_clients = TenantClients.for_role(
                clients, settings.tenant_data_role_arn, TenantDataScope.from_settings(settings), clock
            )
        self._tenant_clients = tenant_clients

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ClinicalRuntime:
        """Validate the environment (ConfigurationError names what is missing) and build."""
        return cls(
            DataSettings.from_environ(environ), AwsClients(AwsSettings.from_environ(environ)), environ=environ
        )

    @property
    def tenant_scoped(self) -> bool:
        """Whether data calls sign with tenant-scoped STS credentials (the role ARN is set)."""
        return self._tenant_clients is not None

    def clients_for(self, context: TenantContext) -> AwsClients:
        """The AWS clients for one caller's data: narrowed to its tenant by a session policy when
        tenant-scoped credentials are configured, else the process's own."""
        if self._tenant_clients is None:
            return self.clients
        return self._tenant_clients.for_tenant(context.tenant_id)

    def keyring_for(self, context: TenantContext) -> KmsKeyring:
        """The keyring on the caller's clients (KMS and the keyring item sit under its tenant)."""
        if self._tenant_clients is None:
            return self.keyring
        clients = self.clients_for(context)
        return KmsKeyring(
            clients.dynamodb(),
            clients.kms(),
            self.settings.clinical_table,
            self.settings.data_key_id,
            self._data_keys,
        )

    def audit_trail(self, context: TenantContext) -> DynamoAuditTrail:
        """The audit trail of one verified caller."""
        return DynamoAuditTrail(
            context, self.clients_for(context).dynamodb(), self.settings.audit_table, self._clock
        )

    def records(self, context: TenantContext, standing: TenantStanding | None = None) -> RecordService:
        """The record service of one verified caller; `standing` (from the authorizer) makes a
        suspended tenant's records read-only and holds its patients to the tier's limit."""
        patient_limit = standing.limits.patients if standing else None
        repository = DynamoResourceRepository(
            context,
            self.clients_for(context).dynamodb(),
            self.settings.clinical_table,
            self.keyring_for(context),
            patient_limit,
        )
        return RecordService(
            context,
            guard_writes(repository, standing),
            self.audit_trail(context),
            self._clock,
            grants=self.break_glass_ledger(context),
            guards=WRITE_GUARDS,
        )

    def audit_events(self, context: TenantContext) -> AuditEventReader:
        """The audit trail of the caller's tenant, read as FHIR AuditEvents."""
        return AuditEventReader(
            context, self.clients_for(context).dynamodb(), self.settings.audit_table, self._clock
        )

    def documents(self, context: TenantContext) -> DocumentContent:
        """Presigned access to the caller's DocumentReference content in the documents bucket."""
        if not self.settings.documents_bucket:
            raise ConfigurationError("CAIRN_DOCUMENTS_BUCKET is not set: document content is unavailable")
        return DocumentContent(
            context, self.clients_for(context).s3(), self.settings.documents_bucket, clock=self._clock
        )

    def bulk_exports(self, context: TenantContext) -> BulkExportService:
        """Kickoff, status and cancel of the caller's bulk exports. Jobs are read and written
        with the caller's (tenant-scoped) clients; downloads are presigned with the function's own
        S3 client, so a manifest's URLs outlive a short tenant session."""
        arn = self._environ.get(BULK_EXPORT_STATE_MACHINE_ARN, "").strip()
        if not arn or not self.settings.documents_bucket:
            raise ConfigurationError(
                f"{BULK_EXPORT_STATE_MACHINE_ARN} and the documents bucket are needed for bulk export"
            )
        jobs = DynamoExportJobs(context, self.clients_for(context).dynamodb(), self.settings.clinical_table)
        return BulkExportService(
            context,
            jobs,
            StepFunctionsExportLauncher(self.clients.stepfunctions(), arn),
            S3ExportFiles(self.clients.s3(), self.settings.documents_bucket),
            self._clock,
        )

    def break_glass_ledger(self, context: TenantContext) -> DynamoBreakGlassLedger:
        """The break-glass grants of the caller's tenant."""
        return DynamoBreakGlassLedger(
            context,
            self.clients_for(context).dynamodb(),
            self.settings.clinical_table,
            self.keyring_for(context),
        )

    def break_glass(self, context: TenantContext) -> BreakGlass:
        """Break-glass and its report, for one verified caller."""
        records = DynamoResourceRepository(
            context,
            self.clients_for(context).dynamodb(),
            self.settings.clinical_table,
            self.keyring_for(context),
        )
        return BreakGlass(
            context, self.break_glass_ledger(context), records, self.audit_trail(context), self._clock
        )
