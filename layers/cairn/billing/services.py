"""The composition root of billing's functions (the Stripe webhook, the billing API, the dunning
steps): settings validated and clients built once per process, the use cases wired from them."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from cairn import config
from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.billing.accounts import DynamoBillingAccounts
from cairn.billing.desk import BillingDesk
from cairn.billing.dunning import DunningPolicy, DunningSteps
from cairn.billing.fee_schedule import DynamoFeeSchedules
from cairn.billing.gateway import StripeGateway
from cairn.billing.ledger import DynamoEventLedger
from cairn.billing.patient_payments import ACTOR as PAYMENTS_ACTOR
from cairn.billing.patient_payments import PatientPayments
from cairn.billing.receiver import Handler, StripeWebhookReceiver
from cairn.billing.sealing import Sealer
from cairn.billing.settings import BillingSettings, StripeSettings
from cairn.billing.signup import Signups
from cairn.billing.subscriptions import SubscriptionEvents
from cairn.billing.webhooks import StripeEvent
from cairn.billing.workflows import StepFunctionsBillingWorkflows
from cairn.clock import Clock, utc_now
from cairn.config import DataSettings, require
from cairn.crypto.cache import DataKeyCache
from cairn.crypto.keyring import KmsKeyring
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext
from multitenant.lifecycle import TenantStatus
from multitenant.provisioning import KeyringEncryption
from multitenant.registry import DynamoTenantRegistry
from multitenant.standing import TenantStanding

# Tenants whose own data key seals their events: not while onboarding may still undo the key,
# nor once it is shredded.
SEALED_UNDER_TENANT = frozenset(set(TenantStatus) - {TenantStatus.PENDING, TenantStatus.DELETED})


class BillingRuntime:
    """Billing over AWS and Stripe for one process."""

    def __init__(
        self, environ: Mapping[str, str], clients: AwsClients | None = None, clock: Clock = utc_now
    ) -> None:
        self._environ = dict(environ)
        self.clients = clients or AwsClients(AwsSettings.from_environ(environ))
        self.clock = clock
        self.settings = BillingSettings.from_environ(environ)
        self._clinical_table = require(environ, config.CLINICAL_TABLE)
        self._audit_table = require(environ, config.AUDIT_TABLE)
        dynamodb = self.clients.dynamodb()
        self.registry = DynamoTenantRegistry(dynamodb, self.settings.tenant_table)
        self.accounts = DynamoBillingAccounts(dynamodb, self.settings.billing_table)
        self.ledger = DynamoEventLedger(dynamodb, self.settings.billing_table, clock)
        self.policy = DunningPolicy.parse(environ.get(config.DUNNING_TIMINGS))

    @cached_property
    def keyring(self) -> KmsKeyring:
        """Data keys that seal billing records (the functions that seal get the data key's id)."""
        return KmsKeyring(
            self.clients.dynamodb(),
            self.clients.kms(),
            self._clinical_table,
            require(self._environ, config.DATA_KEY_ID),
            DataKeyCache(),
        )

    @cached_property
    def sealer(self) -> Sealer:
        return Sealer(self.keyring)

    @cached_property
    def stripe_settings(self) -> StripeSettings:
        return StripeSettings.from_environ(self._environ, self.clients.client("secretsmanager"))

    @cached_property
    def gateway(self) -> StripeGateway:
        return StripeGateway(self.stripe_settings)

    def audit_trail(self, context: TenantContext) -> DynamoAuditTrail:
        return DynamoAuditTrail(context, self.clients.dynamodb(), self._audit_table, self.clock)

    @cached_property
    def workflows(self) -> StepFunctionsBillingWorkflows:
        return StepFunctionsBillingWorkflows(
            self.clients.stepfunctions(),
            require(self._environ, config.TENANT_ONBOARDING_STATE_MACHINE_ARN),
            require(self._environ, config.DUNNING_STATE_MACHINE_ARN),
            self.registry,
        )

    @cached_property
    def subscriptions(self) -> SubscriptionEvents:
        return SubscriptionEvents(
            self.accounts, self.registry, self.audit_trail, self.workflows, self.policy, self.clock
        )

    @cached_property
    def clinical(self) -> ClinicalRuntime:
        """The clinical side (record services, audit trails) for patient invoices."""
        return ClinicalRuntime(DataSettings.from_environ(self._environ), self.clients, self.clock)

    def payments(self) -> PatientPayments:
        return PatientPayments(
            self.accounts,
            lambda tenant: self.clinical.records(TenantContext.system(tenant, PAYMENTS_ACTOR)),
            self.clock,
        )

    def desk(self, caller: TenantContext, standing: TenantStanding | None) -> BillingDesk:
        """The billing desk of one verified caller (the billing API)."""
        tenant = self.registry.get(caller.tenant_id)
        return BillingDesk(
            caller,
            self.clinical.records(caller, standing),
            DynamoFeeSchedules(
                caller.tenant_id, self.clinical.clients_for(caller).dynamodb(), self._clinical_table
            ),
            self.clinical.audit_trail(caller),
            self.accounts,
            lambda: self.gateway,
            tenant.name if tenant else caller.tenant_id,
            self.settings.return_url,
            self.clock,
            admin_email=tenant.admin_email if tenant else None,
        )

    def signups(self) -> Signups:
        return Signups(
            self.gateway,
            self.accounts,
            self.registry,
            self.sealer,
            lambda: self.workflows,
            self.settings.return_url,
            self.clock,
        )

    def placement(self, event: StripeEvent) -> str | None:
        """The tenant whose key seals `event`: a connected account's clinic (Connect events are
        placed by their account only), else the subscription's; None (platform key) otherwise."""
        if event.account:
            tenant_id = self.accounts.tenant_for("account", event.account)
        else:
            tenant_id = self.subscriptions.tenant_of(event)
        tenant = self.registry.get(tenant_id) if tenant_id else None
        return tenant_id if tenant is not None and tenant.status in SEALED_UNDER_TENANT else None

    def handlers(self) -> dict[str, Handler]:
        """What each event type Cairn acts on does."""
        subscriptions, signups = self.subscriptions, self.signups()
        payments = self.payments()

        def checkout(event: StripeEvent) -> str:
            # A connected account's Checkout is a patient paying a clinic; Cairn's own is a signup.
            return payments.checkout_completed(event) if event.account else signups.completed(event)

        return {
            "checkout.session.completed": checkout,
            "payment_intent.succeeded": payments.payment_succeeded,
            "charge.refunded": payments.refunded,
            "customer.subscription.created": subscriptions.subscription_changed,
            "customer.subscription.updated": subscriptions.subscription_changed,
            "customer.subscription.deleted": subscriptions.subscription_changed,
            "invoice.paid": subscriptions.invoice_paid,
            "invoice.payment_failed": subscriptions.invoice_payment_failed,
        }

    @cached_property
    def receiver(self) -> StripeWebhookReceiver:
        """Built once per process: the handlers hold no per-request state."""
        return StripeWebhookReceiver(
            self.stripe_settings.webhook_secret,
            self.ledger,
            self.sealer,
            self.placement,
            self.handlers(),
            self.clock,
        )

    def dunning_steps(self) -> DunningSteps:
        # Shredding deletes the wrapped data key and calls no KMS: the dunning function has neither
        # the data key's id nor a grant on it (it needs neither).
        encryption = KeyringEncryption(
            self.clients.dynamodb(),
            self.clients.kms(),
            self._clinical_table,
            self._environ.get(config.DATA_KEY_ID, ""),
        )
        return DunningSteps(
            self.registry,
            self.accounts,
            self.audit_trail,
            encryption,
            self.gateway.cancel_subscription,
            self.clock,
        )
