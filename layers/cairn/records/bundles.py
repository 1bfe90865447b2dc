"""Batch and transaction Bundles (POST [base]): many interactions in one request.

A batch runs its entries one by one and answers each with its own status: one failing entry
does not stop the others. A transaction is all or nothing: every write is prepared (authorized,
validated, references resolved) and then committed as ONE DynamoDB transaction, so a transaction
is atomic as long as its writes fit one (100 items: roughly 5 to 10 clinical resources,
depending on how many search index entries each has); a larger one is refused, nothing stored,
with a message saying to split it or send a batch. `urn:uuid:` fullUrls of created entries are
resolved: the server assigns ids first and rewrites the references of every entry.
Entries are processed in FHIR's order (DELETE, POST, PUT/PATCH, then GET) and answered in the
order they were sent.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cairn.errors import CairnError, InvalidResource, MalformedRequest, PayloadTooLarge
from cairn.fhir import rest
from cairn.fhir.outcome import issue
from cairn.fhir.references import rewrite_references
from cairn.fhir.search import parse_search
from cairn.records.repository import Change
from cairn.records.service import RecordService

MAX_ENTRIES = 100
METHOD_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3}
STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}


@dataclass(frozen=True)
class _Entry:
    index: int
    method: str
    resource_type: str
    resource_id: str | None
    query: str
    resource: object
    full_url: str | None
    if_match: str | None
    if_none_exist: str | None


def process_bundle(service: RecordService, bundle: object, base: str) -> dict[str, Any]:
    """The batch-response or transaction-response Bundle of a batch or transaction."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise MalformedRequest("POST to the FHIR base takes a Bundle of type batch or transaction")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise MalformedRequest("Bundle.type must be batch or transaction")
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        raise MalformedRequest("Bundle.entry must be a list")
    if len(raw_entries) > MAX_ENTRIES:
        raise PayloadTooLarge(f"a {kind} holds at most {MAX_ENTRIES} entries; split it")
    if kind == "batch":
        return _batch(service, raw_entries, base)
    return _transaction(service, raw_entries, base)


def _parse_entry(index: int, raw: object) -> _Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise InvalidResource([issue("structure", "each entry must be an object", where)])
    request = raw.get("request")
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("method"), str)
        or not isinstance(request.get("url"), str)
    ):
        raise InvalidResource(
            [issue("required", "each entry needs request.method and request.url", f"{where}.request")]
        )
    method = request["method"].upper()
    if method not in METHOD_ORDER:
        raise InvalidResource(
            [
                issue(
                    "not-supported",
                    "request.method must be GET, POST, PUT, PATCH or DELETE",
                    f"{where}.request.method",
                )
            ]
        )
    url = urlsplit(request["url"])
    parts = [part for part in url.path.split("/") if part]
    if (
        not parts
        or len(parts) > 2
        or (method == "POST" and len(parts) != 1)
        or (method in ("PUT", "PATCH", "DELETE") and len(parts) != 2)
    ):
        raise InvalidResource(
            [
                issue(
                    "value",
                    "request.url must be [type] for POST and GET searches, "
                    "[type]/[id] for GET, PUT, PATCH and DELETE",
                    f"{where}.request.url",
                )
            ]
        )
    resource = raw.get("resource")
    if method in ("POST", "PUT", "PATCH") and resource is None:
        raise InvalidResource([issue("required", f"a {method} entry needs a resource", f"{where}.resource")])
    full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
    return _Entry(
        index,
        method,
        parts[0],
        parts[1] if len(parts) == 2 else None,
        url.query,
        resource,
        full_url,
        request.get("ifMatch"),
        request.get("ifNoneExist"),
    )


def _transaction(service: RecordService, raw_entries: list[Any], base: str) -> dict[str, Any]:
    try:
        entries = [_parse_entry(index, raw) for index, raw in enumerate(raw_entries)]
        assigned = {
            entry.full_url: f"{entry.resource_type}/{uuid.uuid4()}"
            for entry in entries
            if entry.method == "POST" and entry.full_url
        }
        new_targets = set(assigned.values())
        changes: list[tuple[_Entry, Change | None, dict[str, Any] | None]] = []
        for entry in sorted(entries, key=lambda e: (METHOD_ORDER[e.method], e.index)):
            if entry.method == "GET":
                continue
            resource = entry.resource
            if isinstance(resource, dict):
                resource = rewrite_references(resource, {k: v for k, v in assigned.items() if k})
            try:
                changes.append(_prepare(service, entry, resource, assigned, new_targets))
            except InvalidResource as exc:
                raise InvalidResource([_in_entry(found, entry.index) for found in exc.issues]) from None
        service.commit_transaction([change for _, change, _ in changes if change is not None], len(entries))
    except CairnError as error:
        service.audit_failure("transaction", "Bundle", error)
        raise
    answers: dict[int, dict[str, Any]] = {}
    for entry, change, existing in changes:
        answers[entry.index] = _change_answer(base, change, existing)
    for entry in entries:
        if entry.method == "GET":
            answers[entry.index] = _run(service, entry, base)
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [answers[index] for index in range(len(entries))],
    }


def _prepare(
    service: RecordService,
    entry: _Entry,
    resource: object,
    assigned: Mapping[str, str],
    new_targets: set[str],
) -> tuple[_Entry, Change | None, dict[str, Any] | None]:
    def allow(reference: str) -> bool:
        return reference in new_targets

    if entry.method == "POST":
        if entry.if_none_exist:
            params = parse_qs(entry.if_none_exist.removeprefix("?"), keep_blank_values=True)
            page = service.search(parse_search(entry.resource_type, params))
            if len(page.resources) == 1:
                return entry, None, page.resources[0]
        target = assigned.get(entry.full_url) if entry.full_url else None
        resource_id = target.split("/", 1)[1] if target else None
        return entry, service.prepare_create(entry.resource_type, resource, resource_id, allow), None
    assert entry.resource_id is not None
    if entry.method == "DELETE":
        return entry, service.prepare_delete(entry.resource_type, entry.resource_id), None
    if entry.method == "PATCH":
        raise InvalidResource(
            [
                issue(
                    "not-supported",
                    "PATCH inside a transaction is not supported; send a PUT with the whole resource",
                    f"Bundle.entry[{entry.index}]",
                )
            ]
        )
    return (
        entry,
        service.prepare_update(entry.resource_type, entry.resource_id, resource, entry.if_match, allow),
        None,
    )


def _change_answer(base: str, change: Change | None, existing: dict[str, Any] | None) -> dict[str, Any]:
    if change is None:
        assert existing is not None
        return {
            "fullUrl": rest.resource_url(base, existing),
            "resource": existing,
            "response": {"status": "200 OK", "etag": rest.etag(existing)},
        }
    resource = change.resource
    if change.kind.value == "delete":
        return {"response": {"status": "204 No Content"}}
    status = "201 Created" if change.kind.value == "create" else "200 OK"
    return {
        "fullUrl": rest.resource_url(base, resource),
        "resource": resource,
        "response": {
            "status": status,
            "location": rest.version_url(base, resource),
            "etag": rest.etag(resource),
            "lastModified": resource["meta"]["lastUpdated"],
        },
    }


def _batch(service: RecordService, raw_entries: list[Any], base: str) -> dict[str, Any]:
    answers = []
    for index, raw in enumerate(raw_entries):
        try:
            answers.append(_run(service, _parse_entry(index, raw), base))
        except CairnError as error:
            answers.append(_failure(error))
    return {"resourceType": "Bundle", "type": "batch-response", "entry": answers}


def _run(service: RecordService, entry: _Entry, base: str) -> dict[str, Any]:
    """One entry of a batch (or a GET of a transaction), answered with its own status."""
    try:
        answer = _interact(service, entry, base)
    except CairnError as error:
        return _failure(error)
    response = answer.body
    entry_response: dict[str, Any] = {"status": STATUS_TEXT.get(answer.status, str(answer.status))}
    if "Location" in answer.headers:
        entry_response["location"] = answer.headers["Location"]
    if "ETag" in answer.headers:
        entry_response["etag"] = answer.headers["ETag"]
    result: dict[str, Any] = {"response": entry_response}
    if answer.status != 204:
        result["resource"] = response
    return result


def _interact(service: RecordService, entry: _Entry, base: str) -> rest.FhirResponse:
    if entry.method == "POST":
        written = service.create(entry.resource_type, entry.resource, if_none_exist=entry.if_none_exist)
        return rest.created(base, written.resource) if written.created else rest.found(written.resource)
    if entry.method == "GET" and entry.resource_id is None:
        query = parse_search(entry.resource_type, parse_qs(entry.query, keep_blank_values=True))
        return rest.searchset(base, query, service.search(query))
    assert entry.resource_id is not None
    if entry.method == "GET":
        return rest.found(service.read(entry.resource_type, entry.resource_id))
    if entry.method == "PUT":
        return rest.found(
            service.update(entry.resource_type, entry.resource_id, entry.resource, if_match=entry.if_match)
        )
    if entry.method == "PATCH":
        operations = _patch_operations(entry.resource)
        return rest.found(
            service.patch(entry.resource_type, entry.resource_id, operations, if_match=entry.if_match)
        )
    service.delete(entry.resource_type, entry.resource_id, if_match=entry.if_match)
    return rest.FhirResponse(204, {}, {})


def _patch_operations(resource: object) -> object:
    """A batch PATCH carries its JSON Patch as a Binary (base64 data) or, leniently, the array."""
    if isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        try:
            return json.loads(base64.b64decode(str(resource.get("data", ""))))
        except ValueError:
            raise MalformedRequest("the PATCH entry's Binary.data must be a base64 JSON Patch") from None
    return resource


def _failure(error: CairnError) -> dict[str, Any]:
    answer = rest.error(error)
    return {"response": {"status": str(answer.status), "outcome": answer.body}}


def _in_entry(found: Mapping[str, Any], index: int) -> dict[str, Any]:
    """An issue of entry `index`, its expression placed inside the Bundle."""
    moved = dict(found)
    moved["expression"] = [
        f"Bundle.entry[{index}].resource.{path.split('.', 1)[-1]}" for path in found.get("expression") or [""]
    ]
    return moved
