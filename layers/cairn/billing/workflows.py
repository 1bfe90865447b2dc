"""The workflows billing starts: tenant onboarding (a paid signup) and dunning (a failed payment,
or a cancelled subscription's offboarding). Execution names derive from what they are for, so a
redelivered event starts nothing twice."""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from multitenant.provisioning import OnboardingLauncher
from multitenant.registry import BaseTenantRegistry


class DunningPhase:
    PAYMENT_FAILED = "payment_failed"  # past_due, reminders, suspension, cancellation, then offboarding
    CANCELLED = "cancelled"  # the subscription ended: offboarding only (export, retention, shredding)


@dataclass(frozen=True)
class DunningRun:
    """One dunning (or offboarding) execution's input. `schedule` holds the instants its Wait states
    wait until (reminder, suspend, cancel, shred; UTC, "2026-12-10T14:00:00Z"), fixed by the
    dunning policy when the run starts, so a slow or retried step never pushes the schedule back."""

    tenant_id: str
    phase: str
    reference: str  # the unpaid invoice (payment_failed) or the ended subscription (cancelled)
    schedule: Mapping[str, str]

    @property
    def execution_name(self) -> str:
        return run_name(self.tenant_id, self.phase, self.reference)

    def as_input(self) -> dict[str, Any]:
        return {**asdict(self), "schedule": dict(self.schedule)}


def run_name(tenant_id: str, phase: str, reference: str) -> str:
    """The execution name of a tenant's run for `reference`: one run per unpaid invoice or ended
    subscription, however often its event is delivered."""
    prefix = "dunning" if phase == DunningPhase.PAYMENT_FAILED else "offboard"
    return f"{prefix}-{tenant_id}-{reference}"[:80]


class BaseBillingWorkflows(abc.ABC):
    @abc.abstractmethod
    def start_onboarding(self, request: Mapping[str, Any]) -> str:
        """Start (or find) the onboarding of a paid signup; answers the execution's ARN."""

    @abc.abstractmethod
    def start_dunning(self, run: DunningRun) -> bool:
        """Start the run unless it was started before; True if started now."""

    @abc.abstractmethod
    def stop_dunning(self, run_name: str) -> None:
        """Stop the named run if it is still running (an invoice was paid meanwhile)."""


class StepFunctionsBillingWorkflows(BaseBillingWorkflows):
    """The workflows in Step Functions, through the injected client."""

    def __init__(
        self, stepfunctions: Any, onboarding_arn: str, dunning_arn: str, registry: BaseTenantRegistry
    ) -> None:
        self._sfn = stepfunctions
        self._dunning = dunning_arn
        self._onboarding = OnboardingLauncher(stepfunctions, onboarding_arn, registry)

    def start_onboarding(self, request: Mapping[str, Any]) -> str:
        return self._onboarding.start(request).execution_arn

    def start_dunning(self, run: DunningRun) -> bool:
        try:
            self._sfn.start_execution(
                stateMachineArn=self._dunning, name=run.execution_name, input=json.dumps(run.as_input())
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def stop_dunning(self, run_name: str) -> None:
        arn = f"{self._dunning.replace(':stateMachine:', ':execution:')}:{run_name}"
        # A run that already ended (or never started) has nothing left to stop.
        with contextlib.suppress(self._sfn.exceptions.ExecutionDoesNotExist):
            self._sfn.stop_execution(executionArn=arn, cause="the invoice was paid: dunning stopped")
