"""The task handler of the tenant-onboarding state machine: one step per invocation.

The machine passes {"step": <name>, "request": <the onboarding request>}. A refused request
raises its domain error (InvalidOnboardingRequest, TenantAlreadyExists, AdminEmailInUse): its
class name is the error the workflow catches, its message what the operator sees.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.aws import AwsClients, AwsSettings
from multitenant.onboarding import OnboardingRequest, TenantOnboarding
from multitenant.provisioning import ControlPlaneSettings, build_onboarding
from multitenant.registry import Tenant

logger = Logger(service="tenant-onboarding")
tracer = Tracer(service="tenant-onboarding")
metrics = Metrics(namespace="Cairn", service="tenant-onboarding")

# Steps that answer the tenant record, and steps that only make something.
RECORD_STEPS: dict[str, Callable[[TenantOnboarding, OnboardingRequest], Tenant]] = {
    "register": TenantOnboarding.register,
    "activate": TenantOnboarding.activate,
}
MAKING_STEPS: dict[str, Callable[[TenantOnboarding, OnboardingRequest], None]] = {
    "provision_encryption": TenantOnboarding.provision_encryption,
    "create_identity_group": TenantOnboarding.create_identity_group,
    "invite_admin": TenantOnboarding.invite_admin,
    "write_default_settings": TenantOnboarding.write_default_settings,
    "issue_usage_key": TenantOnboarding.issue_usage_key,
}
STEPS = (*RECORD_STEPS, *MAKING_STEPS, "compensate")


def run_step(steps: TenantOnboarding, step: str, request: OnboardingRequest) -> dict[str, Any]:
    """Run one step; what it answers becomes the state's result."""
    if step in RECORD_STEPS:
        return {"tenant": RECORD_STEPS[step](steps, request).as_dict()}
    if step in MAKING_STEPS:
        MAKING_STEPS[step](steps, request)
        return {"done": step}
    return {"undone": steps.compensate(request)}


@cache
def onboarding() -> TenantOnboarding:
    """Built once per process (cold start): settings validated, clients built."""
    settings = ControlPlaneSettings.from_environ(os.environ)
    return build_onboarding(settings, AwsClients(AwsSettings.from_environ(os.environ)))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Run `event["step"]` for `event["request"]`."""
    step = str(event.get("step"))
    if step not in STEPS:
        raise ValueError(f"unknown onboarding step {step!r}: use one of {', '.join(STEPS)}")
    request = OnboardingRequest.parse(event.get("request") or {})
    logger.append_keys(tenant_id=request.tenant_id, request_id=request.request_id, step=step)
    metrics.add_metric(name="OnboardingStepsStarted", unit=MetricUnit.Count, value=1)
    return run_step(onboarding(), step, request)
