"""Cognito user pools from USER_POOLS, and what the identity-aware functions are told about them."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cairn import config
from infra import names
from infra.declarations import USER_POOLS, UserPoolDeclaration
from infra.stage import StageConfig


class UserDirectory(Construct):
    """One user pool per USER_POOLS entry with its app client.

    Only administrators create users (no self sign-up); MFA is TOTP (no SMS, which is phishable
    and costs per message); the Plus feature plan's threat protection blocks compromised
    credentials and risky sign-ins. Clients may read the custom attributes (tenant, role,
    patient) but never write them: tenant identity comes only from what an administrator set.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self._admin_password_auth = stage.admin_password_auth
        self._identity_endpoint = stage.identity_endpoint
        self.pools: dict[str, cognito.UserPool] = {}
        self.clients: dict[str, cognito.UserPoolClient] = {}
        for declared in USER_POOLS:
            pool = self._pool(stage, declared)
            self.pools[declared.key] = pool
            self.clients[declared.key] = self._client(pool, declared)

    def _pool(self, stage: StageConfig, declared: UserPoolDeclaration) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            declared.key.capitalize(),
            user_pool_name=names.user_pool_name(declared.name, stage.name),
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            custom_attributes={
                name: cognito.StringAttribute(min_len=1, max_len=128, mutable=True)
                for name in declared.custom_attributes
            },
            mfa=cognito.Mfa.REQUIRED if declared.mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _client(self, pool: cognito.UserPool, declared: UserPoolDeclaration) -> cognito.UserPoolClient:
        return pool.add_client(
            "Client",
            user_pool_client_name=declared.client_name,
            generate_secret=False,  # public clients (console, CLI): SRP proves the password instead
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=self._admin_password_auth),
            disable_o_auth=True,  # no hosted UI yet; CDK would otherwise enable implicit grants
            prevent_user_existence_errors=True,
            enable_token_revocation=declared.sessions.revocable,
            access_token_validity=Duration.minutes(declared.sessions.access_token_minutes),
            id_token_validity=Duration.minutes(declared.sessions.id_token_minutes),
            refresh_token_validity=Duration.hours(declared.sessions.refresh_token_hours),
            auth_session_validity=Duration.minutes(declared.sessions.auth_session_minutes),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True, given_name=True, family_name=True)
            .with_custom_attributes(*declared.custom_attributes),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                given_name=True, family_name=True
            ),
        )

    def environment(self, pool_key: str) -> dict[str, str]:
        """The identity variables (config.USER_POOL_ID, ...) for functions that verify tokens."""
        pool = self.pools[pool_key]
        if self._identity_endpoint:
            issuer = f"{self._identity_endpoint.rstrip('/')}/{pool.user_pool_id}"
        else:
            issuer = f"https://cognito-idp.{Aws.REGION}.{Aws.URL_SUFFIX}/{pool.user_pool_id}"
        return {
            config.USER_POOL_ID: pool.user_pool_id,
            config.USER_POOL_CLIENT_IDS: self.clients[pool_key].user_pool_client_id,
            config.JWT_ISSUER: issuer,
            config.JWKS_URL: f"{issuer}/.well-known/jwks.json",
        }
