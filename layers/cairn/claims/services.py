"""The composition root of the claims functions (the claims API, the workflow's steps, the
clearinghouse inbox): clients built once per process from the ClinicalRuntime, the use cases
wired per clinic from them."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from cairn import config
from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.billing.fee_schedule import DynamoFeeSchedules
from cairn.claims.clearinghouse import S3Clearinghouse
from cairn.claims.desk import SETTINGS_KEY, ClaimDesk, ClaimDeskPorts
from cairn.claims.icd10 import icd10_codes
from cairn.claims.inbound import ClearinghouseInbox
from cairn.claims.ledger import DynamoClaimsLedger
from cairn.claims.settings import ClaimsSettings
from cairn.claims.steps import ClaimSteps
from cairn.claims.workflow import ClaimWorkflow
from cairn.clock import Clock, utc_now
from cairn.config import require
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext
from multitenant.provisioning import DynamoTenantSettings
from multitenant.standing import TenantStanding


class ClaimServices:
    """Claims over AWS for one process."""

    def __init__(self, clinical: ClinicalRuntime, environ: Mapping[str, str], clock: Clock = utc_now) -> None:
        self.clinical = clinical
        self._environ = dict(environ)
        self._clock = clock

    @cached_property
    def workflow(self) -> ClaimWorkflow:
        return ClaimWorkflow(
            self.clinical.clients.stepfunctions(), require(self._environ, config.CLAIMS_STATE_MACHINE_ARN)
        )

    def _documents(self) -> str:
        return require(self._environ, config.DOCUMENTS_BUCKET)

    def _inbox_bucket(self) -> str:
        return self._environ.get(config.CLEARINGHOUSE_INBOX_BUCKET, "")

    def ledger(self, context: TenantContext) -> DynamoClaimsLedger:
        return DynamoClaimsLedger(
            context.tenant_id,
            self.clinical.clients_for(context).dynamodb(),
            self.clinical.settings.clinical_table,
        )

    def clearinghouse(self, context: TenantContext) -> S3Clearinghouse:
        return S3Clearinghouse(
            context.tenant_id,
            self.clinical.clients_for(context).s3(),
            self._documents(),
            self._inbox_bucket(),
        )

    def _tenant_settings(self, context: TenantContext) -> DynamoTenantSettings:
        return DynamoTenantSettings(
            self.clinical.clients_for(context).dynamodb(), self.clinical.settings.clinical_table
        )

    def settings(self, context: TenantContext) -> ClaimsSettings:
        stored = self._tenant_settings(context).get(context.tenant_id) or {}
        return ClaimsSettings.parse(stored.get(SETTINGS_KEY) or {})

    def desk(self, context: TenantContext, standing: TenantStanding | None = None) -> ClaimDesk:
        """The claims desk of one verified caller."""

        def hand_in(name: str, body: bytes) -> str:
            key = f"tenants/{context.tenant_id}/{name}"
            self.clinical.clients.s3().put_object(
                Bucket=require(self._environ, config.CLEARINGHOUSE_INBOX_BUCKET), Key=key, Body=body
            )
            return key

        clients = self.clinical.clients_for(context)
        return ClaimDesk(
            context,
            ClaimDeskPorts(
                records=self.clinical.records(context, standing),
                audit=self.clinical.audit_trail(context),
                ledger=self.ledger(context),
                clearinghouse=self.clearinghouse(context),
                fees=DynamoFeeSchedules(
                    context.tenant_id, clients.dynamodb(), self.clinical.settings.clinical_table
                ),
                settings=self._tenant_settings(context),
                start=self.workflow.start,
                hand_in=hand_in,
                icd10=icd10_codes,
                clock=self._clock,
            ),
        )

    def steps(self, context: TenantContext) -> ClaimSteps:
        """The workflow's steps for the clinic of `context` (its system context)."""
        return ClaimSteps(
            self.clinical.records(context),
            self.ledger(context),
            self.clearinghouse(context),
            self.settings(context),
            icd10_codes,
            self.workflow.resume,
            self._clock,
        )


class InboxServices:
    """What the clearinghouse inbox function needs, and no more: the claims ledger, the
    clinic's clearinghouse folders, the workflow's task tokens and the audit trail (it reads no
    FHIR record, so it holds no data key)."""

    def __init__(
        self, environ: Mapping[str, str], clients: AwsClients | None = None, clock: Clock = utc_now
    ) -> None:
        self.clients = clients or AwsClients(AwsSettings.from_environ(environ))
        self._clinical_table = require(environ, config.CLINICAL_TABLE)
        self._audit_table = require(environ, config.AUDIT_TABLE)
        self._documents = require(environ, config.DOCUMENTS_BUCKET)
        self._inbox = require(environ, config.CLEARINGHOUSE_INBOX_BUCKET)
        self._clock = clock
        self.workflow = ClaimWorkflow(
            self.clients.stepfunctions(), require(environ, config.CLAIMS_STATE_MACHINE_ARN)
        )

    def inbox(self, context: TenantContext) -> ClearinghouseInbox:
        return ClearinghouseInbox(
            DynamoClaimsLedger(context.tenant_id, self.clients.dynamodb(), self._clinical_table),
            S3Clearinghouse(context.tenant_id, self.clients.s3(), self._documents, self._inbox),
            self.workflow.resume,
            self._clock,
        )

    def audit_trail(self, context: TenantContext) -> DynamoAuditTrail:
        return DynamoAuditTrail(context, self.clients.dynamodb(), self._audit_table, self._clock)
