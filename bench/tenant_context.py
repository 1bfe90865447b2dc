"""Benchmark: what the authorizer and the tenant context add to each request, warm and cold, and
how many STS and KMS calls 1,000 requests across 10 tenants make.

    .venv/bin/python -m bench.tenant_context [--requests 1000] [--tenants 10] [--runs 300]

Against moto in-process (no server), so AWS latency is not the point: the figures are Cairn's own
time per request and the number of AWS calls, counted with botocore's before-call events.

- authorizer: verify an RS256 Cognito-shaped ID token (signature, issuer, audience, expiry,
  token_use), build the TenantContext, and the API Gateway answer (policy, context, usage key).
  The JWKS is served from memory here; in AWS it is fetched once per cold start and cached.
- tenant context: everything a request does before its first data call: the caller's
  TenantContext from the authorizer context, the tenant's scoped AWS clients (STS AssumeRole
  with the session policy when not cached), the repository, audit trail and keyring, and the
  tenant's data key (KMS when not cached).
- warm: the same process and caches; cold: a new verifier and a new ClinicalRuntime per request
  (empty credential, client and data key caches), as after a Lambda cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from bench.measure import CallCounter
from cairn.aws import AwsClients, AwsSettings
from cairn.config import DataSettings, IdentitySettings
from cairn.runtime import ClinicalRuntime
from cairn.store.models import AuditItem, ClinicalItem
from cairn.store.schema import table_shape
from multitenant.api_authorizer import allow
from multitenant.context import TenantContext
from multitenant.identity import TokenVerifier

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench"
AUDIENCE = "bench-client"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/fhir/R4/Patient"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}


class StaticKeys:
    """The pool's signing key from memory (what PyJWKClient serves once its cache is warm)."""

    def __init__(self, public_key: Any) -> None:
        self._key = jwt.PyJWK.from_dict({**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key)),
                                         "alg": "RS256", "kid": "bench"})

    def get_signing_key_from_jwt(self, token: str) -> Any:  # noqa: ARG002 (one key for every token)
        return self._key


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def _time(runs: int, operation: Callable[[int], object]) -> list[float]:
    samples = []
    for index in range(runs):
        started = time.perf_counter()
        operation(index)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class Bench:
    def __init__(self, tenants: int) -> None:
        self.counter = CallCounter()
        self.clients = AwsClients(AwsSettings(), on_client=self.counter.attach)
        for model, name in ((ClinicalItem, "bench-clinical"), (AuditItem, "bench-audit")):
            self.clients.dynamodb().create_table(**table_shape(model).create_table_request(name))
        key_id = self.clients.kms().create_key(Description="bench data key")["KeyMetadata"]["Arn"]
        role = self.clients.client("iam").create_role(
            RoleName="cairn-bench-tenant-data", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        self.settings = DataSettings("bench-clinical", "bench-audit", key_id, tenant_data_role_arn=role,
                                     documents_bucket="bench-documents")
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private, self._keys = private, StaticKeys(private.public_key())
        self.identity = IdentitySettings(ISSUER, "https://unused.example/jwks.json", (AUDIENCE,))
        self.tenants = [f"bench-clinic-{n:02d}" for n in range(tenants)]
        now = int(time.time())
        self.tokens = {tenant: jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{tenant}", "token_use": "id", "iat": now,
             "exp": now + 3600, "custom:tenant_id": tenant, "custom:role": "physician"},
            private, algorithm="RS256", headers={"kid": "bench"}) for tenant in self.tenants}

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.identity, self._keys)

    def runtime(self) -> ClinicalRuntime:
        return ClinicalRuntime(self.settings, self.clients)

    @staticmethod
    def authorize(verifier: TokenVerifier, token: str) -> dict[str, Any]:
        return allow(verifier.context(token), METHOD_ARN)

    @staticmethod
    def enter_tenant(runtime: ClinicalRuntime, answer: dict[str, Any]) -> None:
        """What a request does before its first data call, from the authorizer's answer."""
        caller = TenantContext.from_authorizer(answer["context"])
        runtime.patients(caller)
        runtime.keyring_for(caller).data_key(caller.tenant_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        bench = Bench(args.tenants)
        tenants, tokens = bench.tenants, bench.tokens
        rows: list[tuple[str, list[float]]] = []

        verifier, runtime = bench.verifier(), bench.runtime()
        for tenant in tenants:  # warm every cache once
            bench.enter_tenant(runtime, bench.authorize(verifier, tokens[tenant]))
        rows.append(("authorizer, warm", _time(args.runs, lambda i: bench.authorize(
            verifier, tokens[tenants[i % len(tenants)]]))))
        answers = [bench.authorize(verifier, tokens[t]) for t in tenants]
        rows.append(("tenant context, warm", _time(args.runs, lambda i: bench.enter_tenant(
            runtime, answers[i % len(answers)]))))
        rows.append(("authorizer, cold (new verifier)", _time(args.runs, lambda i: bench.authorize(
            bench.verifier(), tokens[tenants[i % len(tenants)]]))))
        cold_before, aws_before = bench.counter.calls.copy(), bench.counter.seconds_in_aws
        rows.append(("tenant context, cold (new runtime: AssumeRole + KMS)", _time(
            args.runs, lambda i: bench.enter_tenant(bench.runtime(), answers[i % len(answers)]))))
        cold_calls = bench.counter.calls - cold_before
        cold_aws_ms = (bench.counter.seconds_in_aws - aws_before) * 1000 / args.runs

        print("| step | runs | p50 ms | p95 ms |\n|---|---|---|---|")
        for name, samples in rows:
            p50, p95 = _percentiles(samples)
            print(f"| {name} | {len(samples)} | {p50:.2f} | {p95:.2f} |")
        cold_ms = statistics.mean(rows[-1][1])
        print(f"\ncold tenant context: mean {cold_ms:.1f} ms, of which {cold_aws_ms:.1f} ms in AWS calls "
              f"(moto in-process) and {cold_ms - cold_aws_ms:.1f} ms Cairn and botocore (clients built); "
              f"AWS calls per request: "
              f"{', '.join(f'{op} {n / args.runs:g}' for op, n in sorted(cold_calls.items()))}")

        # A fresh process serving `requests` requests round-robin over the tenants.
        fresh_verifier, fresh_runtime = bench.verifier(), bench.runtime()
        before = bench.counter.calls.copy()
        for index in range(args.requests):
            tenant = tenants[index % len(tenants)]
            bench.enter_tenant(fresh_runtime, bench.authorize(fresh_verifier, tokens[tenant]))
        made = bench.counter.calls - before
        sts = sum(n for op, n in made.items() if op.startswith("STS."))
        kms = sum(n for op, n in made.items() if op.startswith("KMS."))
        breakdown = ", ".join(f"{op} {n}" for op, n in sorted(made.items()))
        print(f"\n{args.requests} requests across {len(tenants)} tenants, one warm process: "
              f"STS calls {sts}, KMS calls {kms} ({breakdown})")


if __name__ == "__main__":
    main()
