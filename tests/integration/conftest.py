"""The embedded runtime for integration tests that need a whole stack: moto's server with
Step Functions execution and in-process Lambdas, provisioned from infra/declarations.py as
`cairn dev` provisions it. Module-scoped: one emulator per test module."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from moto.core.config import default_user_config

from cairn.aws import AwsClients, AwsSettings
from devkit import emulator
from devkit.deployment import Deployment
from devkit.provision import ProvisionTarget, provision


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running embedded emulator; the process environment is restored afterwards."""
    saved_environ = dict(os.environ)
    saved_sfn_config = dict(default_user_config.get("stepfunctions", {}))
    os.environ.pop("AWS_ENDPOINT_URL", None)
    emulator.use_local_credentials()
    running = emulator.start_embedded(_free_port(), tmp_path_factory.mktemp("lambda-cache"))
    try:
        yield running.endpoint_url
    finally:
        running.stop()
        default_user_config["stepfunctions"] = saved_sfn_config  # type: ignore[typeddict-item]
        os.environ.clear()
        os.environ.update(saved_environ)


@pytest.fixture(scope="module")
def clients(endpoint: str) -> AwsClients:
    return AwsClients(AwsSettings(region=emulator.REGION, endpoint_url=endpoint))


@pytest.fixture(scope="module")
def deployment(clients: AwsClients, endpoint: str) -> Deployment:
    """Cairn's declared resources, provisioned the way `cairn dev` provisions them."""
    return provision(clients, ProvisionTarget(endpoint_url=endpoint, embedded=True))
