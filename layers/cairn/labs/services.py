"""The labs' pieces wired for one clinic over AWS: the ledger, raw messages, the outbox, intake,
the ingestion steps and the workflow launcher. Built from the ClinicalRuntime (its clients, data
key cache and record service), so labs use the same seam as the rest of the chart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cairn.clock import utc_now
from cairn.config import LAB_INGESTION_STATE_MACHINE_ARN
from cairn.crypto.field_cipher import FieldCipher
from cairn.errors import ConfigurationError
from cairn.labs.desk import LabDesk
from cairn.labs.directory import LabNotFound, find_lab
from cairn.labs.ingestion import Ingestion
from cairn.labs.intake import Intake
from cairn.labs.ledger import DynamoLabLedger
from cairn.labs.model import LabEndpoint
from cairn.labs.outbox import S3LabOutbox
from cairn.labs.raw_messages import S3RawMessages
from cairn.labs.release import ReleasePolicy
from cairn.labs.workflow import LabWorkflow
from cairn.records.service import RecordService
from cairn.runtime import ClinicalRuntime
from cairn.short_lived_cache import ShortLivedCache
from multitenant.context import TenantContext
from multitenant.onboarding import DEFAULT_SETTINGS
from multitenant.provisioning import DynamoTenantSettings
from multitenant.standing import TenantStanding

RELEASE_SETTING = "lab_results_release"


@dataclass(frozen=True)
class LabServices:
    clinical: ClinicalRuntime
    environ: Mapping[str, str]
    cache: ShortLivedCache = field(default_factory=ShortLivedCache)

    @property
    def bucket(self) -> str:
        if not self.clinical.settings.documents_bucket:
            raise ConfigurationError("CAIRN_DOCUMENTS_BUCKET is not set: lab messages cannot be stored")
        return self.clinical.settings.documents_bucket

    def records(self, context: TenantContext) -> RecordService:
        return self.clinical.records(context)

    def intake(self, context: TenantContext, lab_id: str) -> Intake:
        clients = self.clinical.clients_for(context)
        return Intake(
            lab_id=lab_id,
            ledger=DynamoLabLedger(context, clients.dynamodb(), self.clinical.settings.clinical_table),
            raw=S3RawMessages(context, clients.s3(), self.bucket,
                              FieldCipher(self.clinical.keyring_for(context).data_key(context.tenant_id))),
            outbox=S3LabOutbox(context, clients.s3(), self.bucket),
            now=utc_now,
        )

    def ledger(self, context: TenantContext) -> DynamoLabLedger:
        clients = self.clinical.clients_for(context)
        return DynamoLabLedger(context, clients.dynamodb(), self.clinical.settings.clinical_table)

    def release_policy(self, context: TenantContext) -> ReleasePolicy:
        """The clinic's lab_results_release setting (the onboarding default when unset)."""
        def load() -> ReleasePolicy:
            stored = DynamoTenantSettings(self.clinical.clients_for(context).dynamodb(),
                                          self.clinical.settings.clinical_table)
            settings = stored.get(context.tenant_id) or {}
            return ReleasePolicy.parse(settings.get(RELEASE_SETTING, DEFAULT_SETTINGS[RELEASE_SETTING]))
        return self.cache.get(("release-policy", context.tenant_id), load)

    def lab(self, context: TenantContext, lab_id: str) -> LabEndpoint:
        """The clinic's lab (LabNotFound if it has none of that name), read as the clinic."""
        directory = self.records(TenantContext.system(context.tenant_id, "lab-directory"))
        return self.cache.get(("lab", context.tenant_id, lab_id), lambda: find_lab(directory, lab_id))

    def ingestion(self, context: TenantContext, lab_id: str, *, require_lab: bool = True) -> Ingestion:
        """The workflow's steps for one clinic and lab (system context: the workflow acts for the
        clinic). Quarantining needs no lab (`require_lab=False`): its lab may be the problem."""
        records = self.records(context)
        intake = self.intake(context, lab_id)
        try:
            lab = self.lab(context, lab_id)
        except LabNotFound:
            if require_lab:
                raise
            lab = LabEndpoint(lab_id=lab_id, organization_id="", name=lab_id)
        return Ingestion(records=records, ledger=intake.ledger, raw=intake.raw, outbox=intake.outbox,
                         lab=lab, policy=self.release_policy(context), now=utc_now)

    def workflow(self) -> LabWorkflow:
        arn = self.environ.get(LAB_INGESTION_STATE_MACHINE_ARN, "").strip()
        if not arn:
            raise ConfigurationError(
                f"{LAB_INGESTION_STATE_MACHINE_ARN} is not set: results cannot be processed")
        return LabWorkflow(self.clinical.clients.stepfunctions(), arn)

    def desk(self, context: TenantContext, standing: TenantStanding | None = None) -> LabDesk:
        """The labs as the verified caller `context` uses them (the lab API)."""
        records = self.clinical.records(context, standing)
        directory = self.clinical.records(TenantContext.system(context.tenant_id, "lab-directory"))
        return LabDesk(records=records, directory=directory, audit=self.clinical.audit_trail(context),
                       intake_for=lambda lab_id: self.intake(context, lab_id), ledger=self.ledger(context),
                       workflow=self.workflow(), policy=lambda: self.release_policy(context), now=utc_now)
