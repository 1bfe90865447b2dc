"""Demo sign-in into a user pool that requires MFA, as a deployed stage's pool does."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from devkit import totp
from devkit.deployment import UserPoolOutput
from devkit.mfa_secrets import Enrolment, MfaSecrets
from devkit.tokens import SignIn, TokenError

POOL = UserPoolOutput(id="us-east-1_pool", arn="arn", client_id="client", issuer="iss", jwks_url="jwks")
USER = "physician@demo-clinic.example"
SECRET = base64.b32encode(b"demo-secret-0123456789").decode().rstrip("=")


class NotAuthorized(Exception):
    response = {"Error": {"Message": "Incorrect username or password."}}


class FakeCognito:
    """A pool with MFA ON: MFA_SETUP until a software token is verified, then SOFTWARE_TOKEN_MFA."""

    class exceptions:
        NotAuthorizedException = NotAuthorized
        UserNotFoundException = NotAuthorized
        InvalidParameterException = NotAuthorized

    def __init__(self, enrolled: bool = False) -> None:
        self.enrolled = enrolled
        self.codes: list[str] = []

    def admin_initiate_auth(self, **request: Any) -> dict[str, Any]:
        assert request["AuthFlow"] == "ADMIN_USER_PASSWORD_AUTH"
        if request["AuthParameters"]["PASSWORD"] != "right":
            raise NotAuthorized()
        return {"ChallengeName": "SOFTWARE_TOKEN_MFA" if self.enrolled else "MFA_SETUP", "Session": "s1"}

    def associate_software_token(self, Session: str) -> dict[str, Any]:
        assert Session == "s1"
        return {"SecretCode": SECRET, "Session": "s2"}

    def verify_software_token(self, Session: str, UserCode: str, **_: Any) -> dict[str, Any]:
        assert Session == "s2"
        self.codes.append(UserCode)
        self.enrolled = UserCode == totp.totp(SECRET, totp.time_step())
        return {"Status": "SUCCESS" if self.enrolled else "ERROR", "Session": "s3"}

    def admin_respond_to_auth_challenge(self, **request: Any) -> dict[str, Any]:
        if request["ChallengeName"] == "MFA_SETUP":
            assert request["Session"] == "s3"
            return {"AuthenticationResult": {"IdToken": "token-after-setup"}}
        code = request["ChallengeResponses"]["SOFTWARE_TOKEN_MFA_CODE"]
        self.codes.append(code)
        assert code == totp.totp(SECRET, totp.time_step())
        return {"AuthenticationResult": {"IdToken": "token-after-mfa"}}


def test_the_first_sign_in_enrols_a_software_token_and_keeps_its_secret(tmp_path: Path) -> None:
    secrets = MfaSecrets(tmp_path)
    token = SignIn(FakeCognito(), POOL, USER, secrets).run("right")
    assert token == "token-after-setup"
    kept = secrets.get(POOL.id, USER)
    assert kept is not None
    assert kept.secret == SECRET
    assert (secrets.path.stat().st_mode & 0o777) == 0o600


def test_a_later_sign_in_answers_the_mfa_challenge_with_a_fresh_code(tmp_path: Path) -> None:
    secrets = MfaSecrets(tmp_path)
    secrets.put(POOL.id, USER, Enrolment(SECRET, last_step=totp.time_step() - 1))
    cognito = FakeCognito(enrolled=True)
    assert SignIn(cognito, POOL, USER, secrets).run("right") == "token-after-mfa"
    enrolment = secrets.get(POOL.id, USER)
    assert enrolment is not None
    assert enrolment.last_step == totp.time_step()  # so the same code is never sent twice


def test_an_enrolled_user_without_a_kept_secret_is_explained(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="enrolled from another machine"):
        SignIn(FakeCognito(enrolled=True), POOL, USER, MfaSecrets(tmp_path)).run("right")


def test_a_user_that_was_never_seeded_is_told_to_seed(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="cairn seed --stage"):
        SignIn(FakeCognito(), POOL, USER, MfaSecrets(tmp_path)).run("wrong")


def test_secrets_are_kept_per_pool(tmp_path: Path) -> None:
    secrets = MfaSecrets(tmp_path)
    secrets.put("pool-a", USER, Enrolment("AAAA", 1))
    secrets.put("pool-b", USER, Enrolment("BBBB", 2))
    assert secrets.get("pool-a", USER) == Enrolment("AAAA", 1)
    assert secrets.get("pool-b", USER) == Enrolment("BBBB", 2)
    assert secrets.get("pool-c", USER) is None


def test_totp_matches_rfc_6238() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    # RFC 6238 appendix B, SHA-1, T=59 s and T=1111111109 s (last six of the eight digits).
    assert totp.totp(secret, totp.time_step(59)) == "287082"
    assert totp.totp(secret, totp.time_step(1111111109)) == "081804"
