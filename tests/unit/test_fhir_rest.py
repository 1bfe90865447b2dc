"""Absolute FHIR links: the base URL a request addressed, on API Gateway and the local front."""

from __future__ import annotations

import pytest

from cairn.fhir import rest
from cairn.fhir.search import parse_search
from cairn.records.repository import SearchPage
from devkit.gateway import ApiIdentity, IncomingRequest, proxy_event
from devkit.routes import Route, RouteMatch
from infra.declarations import ApiDeclaration

API_GATEWAY_HOST = "abc123defg.execute-api.eu-west-1.amazonaws.com"
PATIENT = {"resourceType": "Patient", "id": "p1",
           "meta": {"versionId": "1", "lastUpdated": "2026-11-22T10:00:00.000Z"}}


def test_api_gateway_endpoint_base_is_https_with_the_stage():
    context = {"domainName": API_GATEWAY_HOST, "stage": "prod", "path": "/prod/fhir/R4/Patient"}
    headers = {"Host": API_GATEWAY_HOST, "X-Forwarded-Proto": "https"}
    assert rest.service_base(context, headers) == f"https://{API_GATEWAY_HOST}/prod"


def test_api_gateway_endpoint_is_https_even_without_a_forwarded_proto():
    assert rest.service_base({"domainName": API_GATEWAY_HOST, "stage": "prod"}, {}) == (
        f"https://{API_GATEWAY_HOST}/prod"
    )


def test_local_front_event_gives_the_hosts_own_http_base_without_the_stage():
    route = Route("/fhir/R4/Patient", frozenset({"GET"}), ApiDeclaration("fhir-api", "app", "authorizer"))
    request = IncomingRequest(
        "GET", "/fhir/R4/Patient", "name=x", [("Host", "127.0.0.1:8080")], b"", "127.0.0.1"
    )
    identity = ApiIdentity("us-east-1", "0" * 12, "cairnlocal", "dev")
    event = proxy_event(request, RouteMatch(route, {}), identity, None, ())
    # The front serves /fhir/R4/... but, like API Gateway's endpoint, shows the stage in the path.
    assert event["requestContext"]["path"] == "/dev/fhir/R4/Patient"
    assert rest.service_base(event["requestContext"], event["headers"]) == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("proto", "scheme"), [("https", "https"), ("HTTPS, http", "https"), ("http", "http"), ("gopher", "http")]
)
def test_forwarded_proto_decides_the_scheme_when_it_names_one(proto, scheme):
    headers = {"host": "cairn.internal:8080", "x-forwarded-proto": proto}
    assert rest.service_base({"stage": "dev"}, headers) == f"{scheme}://cairn.internal:8080"


@pytest.mark.parametrize("host", ["", "evil.example/path", "a b", "x@y"])
def test_missing_or_malformed_host_leaves_links_relative(host):
    assert rest.service_base({"domainName": host, "stage": "prod"}, {}) == ""


def test_created_location_and_searchset_links_are_absolute():
    base = f"https://{API_GATEWAY_HOST}/prod"
    assert rest.created(base, PATIENT).headers["Location"] == f"{base}/fhir/R4/Patient/p1/_history/1"
    query = parse_search("Patient", {"name": ["ann", "bo"]})
    bundle = rest.searchset(base, query, SearchPage([PATIENT], total=1, next_cursor="c2")).body
    assert bundle["link"] == [
        {"relation": "self", "url": f"{base}/fhir/R4/Patient?name=ann&name=bo&_count=20"},
        {"relation": "next", "url": f"{base}/fhir/R4/Patient?name=ann&name=bo&_count=20&_cursor=c2"},
    ]
    assert bundle["entry"][0]["fullUrl"] == f"{base}/fhir/R4/Patient/p1"
