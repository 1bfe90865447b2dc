"""The data layer on tenant-scoped credentials, against moto's STS: each tenant's repository,
audit trail and keyring sign with that tenant's own session, assumed once and reused.

moto issues AssumeRole sessions but evaluates no IAM condition, so a forged key would not be
refused here: the session policy's content is proven in tests/unit/test_tenant_credentials.py.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from cairn.errors import PatientNotFound
from cairn.runtime import ClinicalRuntime
from devkit.demo_data import demo_patient
from multitenant.credentials import session_policy
from tests.integration.clinical.support import DOCUMENTS_BUCKET, Cloud, caller

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}


class AssumeRoleRecorder:
    """The parameters of every AssumeRole call the runtime's STS client makes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def record(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(dict(params))


@pytest.fixture
def scoped(cloud: Cloud) -> tuple[ClinicalRuntime, AssumeRoleRecorder]:
    role = cloud.clients.client("iam").create_role(
        RoleName="cairn-test-tenant-data", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    recorder = AssumeRoleRecorder()
    cloud.clients.sts().meta.events.register("provide-client-params.sts.AssumeRole", recorder.record)
    settings = replace(cloud.settings, tenant_data_role_arn=role, documents_bucket=DOCUMENTS_BUCKET)
    return ClinicalRuntime(settings, cloud.clients), recorder


def test_without_a_role_the_runtime_uses_the_process_credentials(cloud: Cloud) -> None:
    assert not cloud.runtime.tenant_scoped
    assert cloud.runtime.clients_for(caller()) is cloud.clients


def test_each_tenant_signs_with_its_own_session_assumed_once(scoped) -> None:
    runtime, recorder = scoped
    acme, globex = caller(tenant="acme"), caller(tenant="globex")

    created = runtime.records(acme).create("Patient", demo_patient(random.Random(3))).resource
    assert runtime.records(acme).read("Patient", created["id"])["id"] == created["id"]
    with pytest.raises(PatientNotFound):
        runtime.records(globex).read("Patient", created["id"])
    runtime.records(acme)  # building services again assumes nothing more
    runtime.audit_trail(globex)

    assert runtime.tenant_scoped
    assert [r["RoleSessionName"] for r in recorder.requests] == ["acme", "globex"]
    assert json.loads(recorder.requests[0]["Policy"]) == session_policy(
        "acme", runtime._tenant_clients._credentials._scope)  # type: ignore[union-attr]
    acme_key = runtime.clients_for(acme).dynamodb()._request_signer._credentials.access_key
    globex_key = runtime.clients_for(globex).dynamodb()._request_signer._credentials.access_key
    process_key = runtime.clients.dynamodb()._request_signer._credentials.access_key
    assert len({acme_key, globex_key, process_key}) == 3


def test_the_tenants_data_is_readable_only_through_its_own_keyring(scoped, cloud: Cloud) -> None:
    runtime, _ = scoped
    acme = caller(tenant="acme")

    created = runtime.records(acme).create("Patient", demo_patient(random.Random(4))).resource

    # the process-credential runtime reads it too: the same data, the same data key
    assert cloud.runtime.records(acme).read("Patient", created["id"]) == created
    assert runtime.keyring_for(acme).data_key("acme") == cloud.runtime.keyring.data_key("acme")
