"""ID tokens for the seeded demo users, from the user pool of a running `cairn dev`.

The emulator issues Cognito-shaped RS256 tokens (issuer, audience, custom claims) and serves
their JWKS, so the authorizer verifies them exactly as it verifies Cognito's in AWS.
"""

from __future__ import annotations

from cairn.aws import AwsClients, AwsSettings
from devkit.deployment import Deployment
from devkit.emulator import use_local_credentials
from devkit.seed import username


class TokenError(RuntimeError):
    """No token could be issued; the message says what to fix."""


def id_token(deployment: Deployment, tenant_id: str, role: str) -> str:
    """The ID token of the demo user `role`@`tenant_id` (ADMIN_USER_PASSWORD_AUTH)."""
    known = deployment.users.get(tenant_id)
    if not known or role not in known:
        tenants = ", ".join(sorted(deployment.users)) or "none"
        roles = ", ".join(sorted(known or {})) or "none"
        raise TokenError(f"no demo user {role!r} in tenant {tenant_id!r} "
                         f"(tenants: {tenants}; roles: {roles})")
    if deployment.demo_password is None:
        raise TokenError("the stack has no demo users yet; wait until `cairn dev` reports it is ready")
    use_local_credentials()
    clients = AwsClients(AwsSettings(region=deployment.region, endpoint_url=deployment.endpoint_url))
    pool = next(iter(deployment.user_pools.values()))
    result = clients.cognito().admin_initiate_auth(
        UserPoolId=pool.id,
        ClientId=pool.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username(tenant_id, role), "PASSWORD": deployment.demo_password},
    )
    if "AuthenticationResult" not in result:
        raise TokenError(f"the user pool asked for a challenge: {result.get('ChallengeName')}")
    return str(result["AuthenticationResult"]["IdToken"])
