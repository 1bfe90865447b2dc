"""The local API front authorizes every route except the API's declared public paths."""

from __future__ import annotations

import io
import json
from typing import Any

from devkit.api_front import ApiBackend
from devkit.deployment import Deployment
from devkit.gateway import IncomingRequest
from devkit.routes import ChaliceApp
from functions.fhir_api.app import app
from infra.declarations import APIS

FUNCTIONS = {"fhir-api": "arn:fhir-api", "authorizer": "arn:authorizer"}


class FakeLambda:
    """The emulator's Lambda Invoke API: records each call, answers as a proxy integration would."""

    def __init__(self) -> None:
        self.invoked: list[tuple[str, str, dict[str, Any]]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.invoked.append((FunctionName, InvocationType, json.loads(Payload)))
        result = {"statusCode": 200, "headers": {"Content-Type": "application/fhir+json"}, "body": "{}"}
        return {"Payload": io.BytesIO(json.dumps(result).encode())}


class FakeClients:
    def __init__(self) -> None:
        self.lambda_client = FakeLambda()

    def lambda_(self) -> FakeLambda:
        return self.lambda_client


def _backend() -> tuple[ApiBackend, FakeLambda]:
    (api,) = [declared for declared in APIS if declared.function == "fhir-api"]
    clients = FakeClients()
    deployment = Deployment(stage="dev", region="us-east-1", account_id="0" * 12, endpoint_url="",
                            embedded=True, functions=FUNCTIONS)
    backend = ApiBackend(clients, deployment, {api: ChaliceApp(routes=app.routes, binary_types=())})
    return backend, clients.lambda_client


def _get(path: str) -> IncomingRequest:
    return IncomingRequest("GET", path, "", [("Host", "127.0.0.1:8080")], b"", "127.0.0.1")


def test_declared_public_path_reaches_the_function_without_a_token_or_the_authorizer():
    backend, lambda_ = _backend()

    response = backend.handle(_get("/fhir/R4/metadata"))

    assert response.status == 200
    ((function, invocation, event),) = lambda_.invoked
    assert (function, invocation) == (FUNCTIONS["fhir-api"], "RequestResponse")
    assert "authorizer" not in event["requestContext"]


def test_other_routes_still_need_a_token_and_invoke_nothing_without_one():
    backend, lambda_ = _backend()

    response = backend.handle(_get("/fhir/R4/Patient"))

    assert response.status == 401
    assert lambda_.invoked == []
