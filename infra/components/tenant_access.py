"""The tenant data access role: what tenant-scoped credentials are assumed from.

Its own policy is the most any one tenant's session may do (the declared tables, key and bucket);
every session is narrowed to one tenant by the session policy the data layer passes to
AssumeRole (multitenant/credentials.py). Only the declared functions' roles may assume it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.components.catalog import DataCatalog
from infra.declarations import TENANT_DATA_ACCESS
from infra.nag import acknowledge
from infra.stage import StageConfig
from multitenant.credentials import SESSION_DURATION_SECONDS


class TenantDataAccessRole(Construct):
    """The role, trusting exactly `trusted` (function name -> its role), each granted AssumeRole."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        catalog: DataCatalog,
        trusted: Mapping[str, iam.IRole],
    ) -> None:
        super().__init__(scope, construct_id)
        declared = TENANT_DATA_ACCESS
        missing = set(declared.assumed_by) - set(trusted)
        if missing:
            raise ValueError(f"{declared.name} is assumed by undeclared functions {sorted(missing)}")
        principals = [iam.ArnPrincipal(trusted[name].role_arn) for name in declared.assumed_by]
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.CompositePrincipal(*principals),
            description=f"Cairn {stage.name} {declared.description}",
            max_session_duration=Duration.seconds(max(SESSION_DURATION_SECONDS, 3600)),
        )
        catalog.grant(self.role, declared.uses)
        for name in declared.assumed_by:
            self.role.grant_assume_role(trusted[name])
        acknowledge(
            self.role,
            "HIPAA.Security-IAMNoInlinePolicy",
            "A single-purpose role (tenant data access) with its policy attached inline: AWS "
            "recommends inline policies for a strict one-to-one policy-to-identity relationship.",
        )
