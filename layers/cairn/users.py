"""A clinic's user administration: invite, list, change role, disable, sign out; every action
audited, and every one confined to the caller's own clinic.

The tenant of an invited user is the *caller's* verified tenant, never a value from the request.
A user of another clinic is answered exactly like a missing one (UserNotFound), so an admin
cannot learn who works elsewhere. Each Cognito account is one clinic membership (see
docs/access-control.md, "Staff at two clinics").
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.errors import AccessDenied, CairnError, MalformedRequest, ResourceNotFound
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.permissions import Action
from multitenant.standing import TenantStanding

USER = permissions.USER
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254

T = TypeVar("T")


class UserNotFound(ResourceNotFound):
    """No such user in the caller's clinic (a user of another clinic is reported the same way)."""

    def __init__(self, username: str) -> None:
        super().__init__(USER, username)


class EmailInUse(CairnError):
    """The address already has a Cairn account; answered as 409."""


class InvalidUserRequest(MalformedRequest):
    """An invitation or role change that cannot be carried out as sent; answered as 400."""


@dataclass(frozen=True)
class ClinicUser:
    """A user as the directory knows them; `username` is the account's stable id (its sub)."""

    username: str
    email: str
    tenant_id: str
    role: Role
    enabled: bool
    status: str
    patient_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"username": self.username, "email": self.email, "role": self.role.value,
                "enabled": self.enabled, "status": self.status, "patient_id": self.patient_id}


def parse_role(value: object) -> Role:
    """The Role named `value`, or InvalidUserRequest listing the roles that exist."""
    try:
        return Role(str(value))
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise InvalidUserRequest(f"role must be one of: {known}") from None


@dataclass(frozen=True)
class Invitation:
    """Who to invite, and as what. A patient's account is linked to their Patient resource."""

    email: str
    role: Role
    patient_id: str | None = None

    @classmethod
    def from_request(cls, body: object) -> Invitation:
        """Validated from a JSON body {"email", "role", "patient_id"?}; any tenant in it is
        ignored on purpose (the invitee joins the caller's clinic)."""
        if not isinstance(body, Mapping):
            raise InvalidUserRequest('send a JSON object {"email": ..., "role": ...}')
        email = str(body.get("email") or "").strip().lower()
        if len(email) > MAX_EMAIL or not EMAIL.match(email):
            raise InvalidUserRequest("email must be an email address, e.g. nurse@clinic.example")
        role = parse_role(body.get("role"))
        patient_id = str(body.get("patient_id") or "").strip() or None
        if role is Role.PATIENT and not patient_id:
            raise InvalidUserRequest("a patient's invitation needs patient_id: the Patient it is linked to")
        if role is not Role.PATIENT and patient_id:
            raise InvalidUserRequest("only patients are linked to a Patient; leave out patient_id")
        return cls(email, role, patient_id)


class BaseUserDirectory(abc.ABC):
    """Where clinic users live (the Cognito user pool; a fake in tests)."""

    @abc.abstractmethod
    def invite(self, tenant_id: str, invitation: Invitation) -> ClinicUser:
        """Create the account in `tenant_id` and send the invitation; EmailInUse if taken."""

    @abc.abstractmethod
    def members(self, tenant_id: str) -> list[ClinicUser]:
        """Every user of `tenant_id`, and no one else."""

    @abc.abstractmethod
    def find(self, username: str) -> ClinicUser | None:
        """The user `username` in any clinic (the service checks the clinic), or None."""

    @abc.abstractmethod
    def set_role(self, username: str, role: Role) -> None:
        """Change the user's role claim (effective in their next token)."""

    @abc.abstractmethod
    def disable(self, username: str) -> None:
        """Stop the user signing in."""

    @abc.abstractmethod
    def sign_out(self, username: str) -> None:
        """Revoke the user's refresh tokens (and the access tokens they issued)."""


class StaffSeatsTaken(AccessDenied):
    """The clinic's tier has no staff seat left for another active staff account."""

    def __init__(self, seats: int, tier: str) -> None:
        super().__init__(
            f"this clinic's {tier} tier includes {seats} staff seats and all are in use: disable a "
            "staff account you no longer need, or move the clinic to a larger tier")


class UserAdministration:
    """The user administration use cases of one verified caller.

    `standing` is the tenant's status and tier as the authorizer found them; with it, inviting
    staff beyond the tier's staff seats is refused (patients take no seat).
    """

    def __init__(self, context: TenantContext, directory: BaseUserDirectory, audit: BaseAuditTrail,
                 standing: TenantStanding | None = None) -> None:
        if audit.context != context:
            raise ValueError("the audit trail must belong to the caller's context")
        self.context = context
        self._directory = directory
        self._audit = audit
        self._standing = standing

    def invite_user(self, body: object) -> ClinicUser:
        """Invite a user into the caller's clinic."""

        def invite() -> ClinicUser:
            permissions.require(self.context, USER, Action.CREATE)
            invitation = Invitation.from_request(body)
            if invitation.role is not Role.PATIENT:
                self._require_staff_seat()
            return self._directory.invite(self.context.tenant_id, invitation)

        return self._audited(AuditAction.CREATE, "invite", None, invite,
                             entity_of=lambda user: user.username, detail_of=lambda user: f"role:{user.role}")

    def list_users(self) -> list[ClinicUser]:
        """The users of the caller's clinic."""

        def members() -> list[ClinicUser]:
            permissions.require(self.context, USER, Action.SEARCH)
            return self._directory.members(self.context.tenant_id)

        return self._audited(AuditAction.EXECUTE, "search-type", None, members)

    def change_role(self, username: str, body: object) -> ClinicUser:
        """Give a user of the caller's clinic another role."""

        def change() -> ClinicUser:
            permissions.require(self.context, USER, Action.UPDATE)
            if not isinstance(body, Mapping):
                raise InvalidUserRequest('send a JSON object {"role": ...}')
            role = parse_role(body.get("role"))
            user = self._member(username)
            if (role is Role.PATIENT) != (user.role is Role.PATIENT):
                raise InvalidUserRequest("staff and patient accounts cannot be converted; invite instead")
            if user.username == self.context.user_id and role is not Role.ADMIN:
                raise InvalidUserRequest("admins cannot demote themselves; ask another admin")
            self._directory.set_role(user.username, role)
            return ClinicUser(user.username, user.email, user.tenant_id, role, user.enabled,
                              user.status, user.patient_id)

        return self._audited(AuditAction.UPDATE, "change-role", username, change,
                             detail_of=lambda user: f"role:{user.role}")

    def disable_user(self, username: str) -> ClinicUser:
        """Stop a user of the caller's clinic signing in, and end their sessions now."""

        def disable() -> ClinicUser:
            permissions.require(self.context, USER, Action.UPDATE)
            user = self._member(username)
            if user.username == self.context.user_id:
                raise InvalidUserRequest("admins cannot disable themselves; ask another admin")
            self._directory.disable(user.username)
            self._directory.sign_out(user.username)
            return ClinicUser(user.username, user.email, user.tenant_id, user.role, False,
                              user.status, user.patient_id)

        return self._audited(AuditAction.UPDATE, "disable", username, disable)

    def sign_out(self) -> None:
        """Revoke the caller's own refresh tokens (any role may sign themselves out)."""
        self._audited(AuditAction.EXECUTE, "sign-out", self.context.user_id,
                      lambda: self._directory.sign_out(self.context.user_id))

    def _require_staff_seat(self) -> None:
        if self._standing is None:
            return
        seats = self._standing.staff_seats
        staff = [user for user in self._directory.members(self.context.tenant_id)
                 if user.enabled and user.role is not Role.PATIENT]
        if len(staff) >= seats:
            raise StaffSeatsTaken(seats, self._standing.tier.value)

    def _member(self, username: str) -> ClinicUser:
        user = self._directory.find(username)
        if user is None or user.tenant_id != self.context.tenant_id:
            raise UserNotFound(username)
        return user

    def _audited(
        self, action: AuditAction, subtype: str, entity_id: str | None, operation: Callable[[], T],
        entity_of: Callable[[T], str] | None = None, detail_of: Callable[[T], str] | None = None,
    ) -> T:
        """Run `operation` and record it, success or refusal; details are ids and role codes only
        (an invitee's email may be a patient's: PHI)."""
        try:
            result = operation()
        except Exception as error:
            refused = isinstance(error, AccessDenied | ResourceNotFound | EmailInUse | MalformedRequest)
            outcome = AuditOutcome.MINOR_FAILURE if refused else AuditOutcome.SERIOUS_FAILURE
            self._audit.record(AuditEvent(action, subtype, outcome, USER, entity_id, type(error).__name__))
            raise
        entity = entity_of(result) if entity_of else entity_id
        detail = detail_of(result) if detail_of else None
        self._audit.record(AuditEvent(action, subtype, AuditOutcome.SUCCESS, USER, entity, detail))
        return result
