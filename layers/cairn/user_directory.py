"""Clinic users in the Cognito user pool: the one module of user administration that calls AWS.

Each user is in their clinic's group (multitenant.provisioning.group_name, the group onboarding
makes), so a clinic's users are listed with ListUsersInGroup, never by scanning the pool. Users
are addressed by their `sub`, which is stable and carries no personal data; the pool's own
username is looked up from it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cairn import config
from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.clock import Clock, utc_now
from cairn.users import (
    BaseUserDirectory,
    ClinicUser,
    EmailInUse,
    Invitation,
    UserAdministration,
    UserNotFound,
)
from multitenant.context import Role, TenantContext
from multitenant.provisioning import group_name
from multitenant.standing import TenantStanding

PAGE = 60  # ListUsersInGroup's maximum page size


def _attributes(user: dict[str, Any]) -> dict[str, str]:
    listed = user.get("Attributes") or user.get("UserAttributes") or []
    return {attribute["Name"]: attribute["Value"] for attribute in listed}


def _clinic_user(user: dict[str, Any]) -> ClinicUser | None:
    """A pool user as a ClinicUser; None for an account without a usable tenant and role."""
    attributes = _attributes(user)
    try:
        role = Role(attributes.get("custom:role", ""))
    except ValueError:
        return None
    tenant_id = attributes.get("custom:tenant_id", "")
    if not tenant_id:
        return None
    return ClinicUser(
        username=attributes.get("sub", ""),
        email=attributes.get("email", ""),
        tenant_id=tenant_id,
        role=role,
        enabled=bool(user.get("Enabled", True)),
        status=str(user.get("UserStatus", "")),
        patient_id=attributes.get("custom:patient_id") or None,
    )


class CognitoUserDirectory(BaseUserDirectory):
    """The clinic users of one user pool, through an injected cognito-idp client."""

    def __init__(self, cognito: Any, user_pool_id: str) -> None:
        self._cognito = cognito
        self._pool = user_pool_id

    def invite(self, tenant_id: str, invitation: Invitation) -> ClinicUser:
        attributes = [
            {"Name": "email", "Value": invitation.email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenant_id", "Value": tenant_id},
            {"Name": "custom:role", "Value": invitation.role.value},
        ]
        if invitation.patient_id:
            attributes.append({"Name": "custom:patient_id", "Value": invitation.patient_id})
        try:
            created = self._cognito.admin_create_user(
                UserPoolId=self._pool, Username=invitation.email, UserAttributes=attributes,
                DesiredDeliveryMediums=["EMAIL"],
            )["User"]
        except (self._cognito.exceptions.UsernameExistsException,
                self._cognito.exceptions.AliasExistsException) as exc:
            raise EmailInUse(
                "this email address already has a Cairn account (one account per clinic "
                "membership); invite the person with another address") from exc
        self._ensure_group(tenant_id)
        self._cognito.admin_add_user_to_group(
            UserPoolId=self._pool, Username=created["Username"], GroupName=group_name(tenant_id))
        user = _clinic_user(created)
        if user is None:  # the pool dropped the attributes just set: a misconfigured pool
            raise RuntimeError("the user pool did not keep the tenant and role attributes")
        return user

    def members(self, tenant_id: str) -> list[ClinicUser]:
        users: list[ClinicUser] = []
        arguments: dict[str, Any] = {"UserPoolId": self._pool, "GroupName": group_name(tenant_id),
                                     "Limit": PAGE}
        while True:
            try:
                page = self._cognito.list_users_in_group(**arguments)
            except self._cognito.exceptions.ResourceNotFoundException:
                return []  # no group yet: nobody was invited
            for listed in page.get("Users", []):
                user = _clinic_user(listed)
                # The group is the index; the tenant claim is the truth.
                if user is not None and user.tenant_id == tenant_id:
                    users.append(user)
            if not page.get("NextToken"):
                return users
            arguments["NextToken"] = page["NextToken"]

    def find(self, username: str) -> ClinicUser | None:
        found = self._pool_user(username)
        return _clinic_user(found) if found else None

    def set_role(self, username: str, role: Role) -> None:
        self._cognito.admin_update_user_attributes(
            UserPoolId=self._pool, Username=self._pool_username(username),
            UserAttributes=[{"Name": "custom:role", "Value": role.value}])

    def disable(self, username: str) -> None:
        self._cognito.admin_disable_user(UserPoolId=self._pool, Username=self._pool_username(username))

    def sign_out(self, username: str) -> None:
        self._cognito.admin_user_global_sign_out(
            UserPoolId=self._pool, Username=self._pool_username(username))

    def _pool_user(self, sub: str) -> dict[str, Any] | None:
        if '"' in sub or "\\" in sub:  # it goes into a filter expression
            return None
        found: list[dict[str, Any]] = self._cognito.list_users(
            UserPoolId=self._pool, Filter=f'sub = "{sub}"', Limit=1)["Users"]
        return found[0] if found else None

    def _pool_username(self, sub: str) -> str:
        found = self._pool_user(sub)
        if found is None:
            raise UserNotFound(sub)
        return str(found["Username"])

    def _ensure_group(self, tenant_id: str) -> None:
        # Onboarding or an earlier invitation may have made it.
        with contextlib.suppress(self._cognito.exceptions.GroupExistsException):
            self._cognito.create_group(UserPoolId=self._pool, GroupName=group_name(tenant_id),
                                       Description=f"the users of tenant {tenant_id}")


@dataclass(frozen=True)
class UserAdminSettings:
    """Where user administration works: the user pool, and the audit trail it appends to."""

    user_pool_id: str
    audit_table: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> UserAdminSettings:
        """Validated at cold start; ConfigurationError names what is missing."""
        return cls(user_pool_id=config.require(environ, config.USER_POOL_ID),
                   audit_table=config.require(environ, config.AUDIT_TABLE))


class UserAdminRuntime:
    """The composition root of the user administration function: clients built once at cold
    start, one caller's UserAdministration wired per invocation."""

    def __init__(self, settings: UserAdminSettings, clients: AwsClients, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clients = clients
        self._clock = clock
        self.directory = CognitoUserDirectory(clients.cognito(), settings.user_pool_id)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> UserAdminRuntime:
        return cls(UserAdminSettings.from_environ(environ), AwsClients(AwsSettings.from_environ(environ)))

    def users(self, context: TenantContext, standing: TenantStanding | None = None) -> UserAdministration:
        """The user administration of one verified caller, within its tenant's standing."""
        audit = DynamoAuditTrail(context, self.clients.dynamodb(), self.settings.audit_table, self._clock)
        return UserAdministration(context, self.directory, audit, standing)
