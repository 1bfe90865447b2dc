"""docs/openapi.yaml is a valid OpenAPI 3.0 document of exactly the non-FHIR routes the local
front serves, and their documented responses are the ones the front gives."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from cairn.fhir.capability import METADATA_PATH
from cairn.fhir.rest import BASE_PATH
from devkit.api_front import FRONT_ROUTES, HEALTH_PATH, ApiFront
from infra.declarations import APIS

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return document


@pytest.fixture
def front() -> Iterator[ApiFront]:
    """The API front listening on a free loopback port, not yet ready."""
    served = ApiFront(port=0)
    served.start()
    yield served
    served.stop()


def _served_non_fhir_routes() -> set[tuple[str, str]]:
    """The front's own routes, plus every declared app route outside the FHIR base."""
    routes = {(path, method) for path, methods in FRONT_ROUTES.items() for method in methods}
    for api in APIS:
        app = importlib.import_module(api.app_module).app
        routes |= {
            (path, method)
            for path, methods in app.routes.items()
            if path != BASE_PATH and not path.startswith(f"{BASE_PATH}/")
            for method in methods
        }
    return routes


def test_openapi_document_is_valid_openapi_3_0(spec):
    assert spec["openapi"].startswith("3.0.")
    validate(spec)


def test_every_non_fhir_route_the_front_serves_is_documented_and_nothing_else(spec):
    documented = {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == _served_non_fhir_routes()


def test_document_points_to_the_fhir_capability_statement_and_carries_cairns_version(spec):
    assert f"GET {METADATA_PATH}" in spec["info"]["description"]
    assert spec["info"]["version"] == metadata.version("cairn")


def _documented_schema(spec: dict[str, Any], status: int) -> dict[str, Any]:
    schema: dict[str, Any] = spec["paths"][HEALTH_PATH]["get"]["responses"][str(status)]["content"][
        "application/json"]["schema"]
    return schema


def test_health_answers_as_documented_while_starting_and_once_ready(spec, front):
    starting = requests.get(f"{front.url}{HEALTH_PATH}", timeout=5)
    assert starting.status_code == 503
    OAS30Validator(_documented_schema(spec, 503)).validate(starting.json())

    # Health only asks whether a backend is in place; it never calls it.
    front.backend = object()
    front.ready.set()
    ready = requests.get(f"{front.url}{HEALTH_PATH}", timeout=5)
    assert ready.status_code == 200
    OAS30Validator(_documented_schema(spec, 200)).validate(ready.json())
    assert ready.headers["Content-Type"] == "application/json"

    head = requests.head(f"{front.url}{HEALTH_PATH}", timeout=5)
    assert (head.status_code, head.content) == (200, b"")
    assert set(spec["paths"][HEALTH_PATH]["head"]["responses"]) == {"200", "503"}
