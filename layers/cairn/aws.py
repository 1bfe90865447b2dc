"""The one seam to AWS: every boto3 client in Cairn comes from here.

`AWS_ENDPOINT_URL` (native in boto3) selects real AWS, LocalStack or the embedded emulator;
business code receives clients from an `AwsClients` built once per process and never imports
boto3 itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

DEFAULT_REGION = "us-east-1"
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class AwsSettings:
    """Where and as whom the clients talk; read once from the environment."""

    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    max_attempts: int = MAX_ATTEMPTS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AwsSettings:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return cls(region=region, endpoint_url=environ.get("AWS_ENDPOINT_URL") or None)


@dataclass(frozen=True)
class AwsCredentials:
    """Temporary credentials (an STS session), and when they stop working."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


ClientHook = Callable[[Any], None]


class AwsClients:
    """A per-process factory of boto3 clients, each built once and reused.

    Retries use botocore's adaptive mode with bounded attempts, so a throttled DynamoDB or KMS
    call backs off instead of failing a clinician's request outright. `on_client` hooks see
    every client as it is built (the benchmarks count AWS calls through botocore events there).
    """

    def __init__(
        self,
        settings: AwsSettings,
        on_client: ClientHook | None = None,
        credentials: AwsCredentials | None = None,
        loader: Any = None,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        if credentials is None:  # the process's own (the function role's) credentials
            self._session = boto3.session.Session(region_name=settings.region)
        else:
            core = botocore.session.get_session()
            if loader is not None:
                # Service models are loaded once per process, not once per tenant session
                # (~100 ms per client otherwise: bench/tenant_context.py).
                core.register_component("data_loader", loader)
            self._session = boto3.session.Session(
                botocore_session=core,
                region_name=settings.region,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=50,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._on_client = on_client

    @property
    def settings(self) -> AwsSettings:
        return self._settings

    @property
    def credentials(self) -> AwsCredentials | None:
        """The temporary credentials these clients sign with; None for the process's own."""
        return self._credentials

    def with_credentials(self, credentials: AwsCredentials) -> AwsClients:
        """A new factory for the same endpoint and hooks, signing with `credentials`."""
        loader = self._session._session.get_component("data_loader")
        return AwsClients(self._settings, self._on_client, credentials, loader)

    def client(self, service: str) -> Any:
        """The shared client for `service` (e.g. "dynamodb", "kms", "s3")."""
        with self._lock:
            existing = self._clients.get(service)
            if existing is None:
                existing = self._session.client(
                    service,
                    endpoint_url=self._settings.endpoint_url,
                    config=self._config,
                )
                if self._on_client is not None:
                    self._on_client(existing)
                self._clients[service] = existing
            return existing

    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    def kms(self) -> Any:
        return self.client("kms")

    def s3(self) -> Any:
        return self.client("s3")

    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    def cognito(self) -> Any:
        return self.client("cognito-idp")

    def lambda_(self) -> Any:
        return self.client("lambda")

    def sts(self) -> Any:
        return self.client("sts")

    def ses(self) -> Any:
        return self.client("ses")

    def sns(self) -> Any:
        return self.client("sns")
