"""Refused sign-ins, audited: a token the authorizer rejects, or a clinic it does not admit.

A verified token names its clinic, so the refusal goes to that clinic's audit trail. A token
that does not verify names nobody we can trust, so the attempt goes to the reserved platform
partition (PLATFORM_TENANT), where Cairn's own security review reads it. Only the reason code is
kept: never the token, its claims or anything a person typed.
"""

from __future__ import annotations

from collections.abc import Callable

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from multitenant.context import PLATFORM_TENANT, TenantContext

SIGN_IN = "Session"
AUTHORIZER = "authorizer"

TrailFor = Callable[[TenantContext], BaseAuditTrail]


def record_refused_token(trail_for: TrailFor, reason: str) -> None:
    """An unverifiable token (expired, tampered, unsigned, wrong audience, no tenant claim)."""
    caller = TenantContext.system(PLATFORM_TENANT, AUTHORIZER)
    trail_for(caller).record(AuditEvent(AuditAction.EXECUTE, "sign-in", AuditOutcome.MINOR_FAILURE,
                                        SIGN_IN, None, reason))


def record_refused_tenant(trail_for: TrailFor, caller: TenantContext, reason: str) -> None:
    """A verified user of a clinic that may not sign in now (unknown, pending, cancelled, deleted)."""
    trail_for(caller).record(AuditEvent(AuditAction.EXECUTE, "sign-in", AuditOutcome.MINOR_FAILURE,
                                        SIGN_IN, caller.user_id, reason))
