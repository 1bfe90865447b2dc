"""ID tokens for the seeded demo users, from the user pool of a running or deployed stack.

The embedded emulator issues Cognito-shaped RS256 tokens (issuer, audience, custom claims) and
serves their JWKS, so the authorizer verifies them exactly as it verifies Cognito's in AWS. A
deployed stage's pool requires MFA: the first sign-in of a demo user enrols a software token
(MFA_SETUP) and later ones answer SOFTWARE_TOKEN_MFA with a code from the kept secret.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cairn.aws import AwsClients, AwsSettings
from devkit import totp
from devkit.deployment import Deployment, UserPoolOutput
from devkit.emulator import use_local_credentials
from devkit.mfa_secrets import Enrolment, MfaSecrets
from devkit.seed import username

MAX_CHALLENGES = 3


class TokenError(RuntimeError):
    """No token could be issued; the message says what to fix."""


def id_token(deployment: Deployment, tenant_id: str, role: str, state_directory: Path | None = None) -> str:
    """The ID token of the demo user `role`@`tenant_id` (ADMIN_USER_PASSWORD_AUTH).

    `state_directory` keeps the TOTP secrets of users enrolled in MFA (deployed stages).
    """
    known = deployment.users.get(tenant_id)
    if not known or role not in known:
        tenants = ", ".join(sorted(deployment.users)) or "none"
        roles = ", ".join(sorted(known or {})) or "none"
        raise TokenError(f"no demo user {role!r} in tenant {tenant_id!r} "
                         f"(tenants: {tenants}; roles: {roles})")
    if deployment.demo_password is None:
        raise TokenError("the stack has no demo users yet; wait until `cairn dev` reports it is ready")
    if deployment.endpoint_url:
        use_local_credentials(deployment.region)  # an emulator: never real credentials
    clients = AwsClients(AwsSettings(region=deployment.region, endpoint_url=deployment.endpoint_url or None))
    pool = next(iter(deployment.user_pools.values()))
    secrets = MfaSecrets(state_directory) if state_directory is not None else None
    return SignIn(clients.cognito(), pool, username(tenant_id, role), secrets).run(deployment.demo_password)


class SignIn:
    """One admin sign-in of `user`, answering the MFA challenges a deployed pool asks."""

    def __init__(self, cognito: Any, pool: UserPoolOutput, user: str, secrets: MfaSecrets | None) -> None:
        self._cognito = cognito
        self._pool = pool
        self._user = user
        self._secrets = secrets

    def run(self, password: str) -> str:
        """The ID token, or TokenError naming the challenge or the refusal."""
        try:
            result = self._cognito.admin_initiate_auth(
                UserPoolId=self._pool.id,
                ClientId=self._pool.client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": self._user, "PASSWORD": password},
            )
        except (self._cognito.exceptions.NotAuthorizedException,
                self._cognito.exceptions.UserNotFoundException) as error:
            raise TokenError(f"{self._user} cannot sign in ({error.response['Error']['Message']}): seed the "
                             "stack first (`cairn seed --stage <stage>` for a deployed stage)") from error
        except self._cognito.exceptions.InvalidParameterException as error:
            raise TokenError(f"the app client refuses admin sign-in ({error.response['Error']['Message']}): "
                             "the stage needs admin_password_auth in cdk.json") from error
        for _ in range(MAX_CHALLENGES):
            if "AuthenticationResult" in result:
                return str(result["AuthenticationResult"]["IdToken"])
            challenge = result.get("ChallengeName")
            if challenge == "MFA_SETUP":
                result = self._enrol(result["Session"])
            elif challenge == "SOFTWARE_TOKEN_MFA":
                result = self._answer(result["Session"])
            else:
                raise TokenError(f"the user pool asked for a challenge: {challenge}")
        raise TokenError(f"the user pool kept asking for challenges: {result.get('ChallengeName')}")

    def _enrol(self, session: str) -> dict[str, Any]:
        if self._secrets is None:
            raise TokenError("the user pool requires MFA enrolment, but no state directory keeps the secret")
        associated = self._cognito.associate_software_token(Session=session)
        secret = associated["SecretCode"]
        step = totp.time_step()
        verified = self._cognito.verify_software_token(
            Session=associated.get("Session", session), UserCode=totp.totp(secret, step),
            FriendlyDeviceName="cairn-demo")
        if verified.get("Status") != "SUCCESS":
            raise TokenError(f"the user pool did not accept the software token of {self._user}")
        self._secrets.put(self._pool.id, self._user, Enrolment(secret, step))
        result: dict[str, Any] = self._cognito.admin_respond_to_auth_challenge(
            UserPoolId=self._pool.id, ClientId=self._pool.client_id, ChallengeName="MFA_SETUP",
            Session=verified.get("Session", session), ChallengeResponses={"USERNAME": self._user})
        return result

    def _answer(self, session: str) -> dict[str, Any]:
        if self._secrets is None:
            raise TokenError("the user pool asks for an MFA code, but no state directory keeps the secret")
        enrolment = self._secrets.get(self._pool.id, self._user)
        if enrolment is None:
            raise TokenError(
                f"{self._user} has MFA enrolled, but its secret is not in {self._secrets.path}: it was "
                "enrolled from another machine. Copy that machine's mfa-secrets.json, or reset the user's "
                "MFA with `aws cognito-idp admin-set-user-mfa-preference` and sign in again to re-enrol.")
        step = totp.time_step()
        if step <= enrolment.last_step:
            # Cognito refuses a code it has already accepted: wait for the next window.
            time.sleep((enrolment.last_step + 1) * totp.STEP_SECONDS - time.time() + 0.5)
            step = totp.time_step()
        self._secrets.put(self._pool.id, self._user, Enrolment(enrolment.secret, step))
        code = totp.totp(enrolment.secret, step)
        result: dict[str, Any] = self._cognito.admin_respond_to_auth_challenge(
            UserPoolId=self._pool.id, ClientId=self._pool.client_id, ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=session, ChallengeResponses={"USERNAME": self._user, "SOFTWARE_TOKEN_MFA_CODE": code})
        return result
