"""The edge of Cairn's JSON (non-FHIR) APIs: request bodies in, errors out as
{"error", "message"}, mapped to HTTP once per app from its table of error types.

The FHIR API has its own edge (cairn.fhir.rest: OperationOutcomes); the user administration and
operator APIs share this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from chalice.app import Response

from cairn.errors import CairnError, MalformedRequest, PayloadTooLarge

ErrorTable = Sequence[tuple[type[Exception], int, str]]  # (error type, HTTP status, error code)
View = Callable[..., tuple[int, object]]


def parse_body(raw: bytes | None, max_bytes: int) -> object:
    """The JSON of a request body within `max_bytes`, or an error that says what to send."""
    if raw is not None and len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is over {max_bytes} bytes")
    if not raw:
        raise MalformedRequest("the request has no body; send a JSON object")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequest("the body is not valid JSON") from exc


def json_object(raw: bytes | None, max_bytes: int) -> dict[str, object]:
    """The request body as a JSON object within `max_bytes` (parse_body's errors, or one saying
    to send an object)."""
    parsed = parse_body(raw, max_bytes)
    if not isinstance(parsed, dict):
        raise MalformedRequest("send a JSON object")
    return parsed


def query_value(params: Mapping[str, object] | None, name: str) -> str | None:
    """One query-string parameter's value, or None when absent or empty."""
    value = (params or {}).get(name)
    return str(value) if value else None


def error_response(exc: Exception, table: ErrorTable) -> tuple[int, dict[str, str]]:
    """The status and JSON of `exc`: its message says what to fix; a 500 says nothing more."""
    for kind, status, code in table:
        if isinstance(exc, kind):
            return status, {"error": code, "message": str(exc)}
    return 500, {"error": "server-error", "message": "the server failed; try again later"}


def responder(table: ErrorTable, logger: Any, metrics: Any) -> Callable[[View], Callable[..., Response]]:
    """A decorator rendering a view's (status, JSON), or its error through `table`; refusals are
    logged by error type only (messages may echo input), failures with their traceback."""

    def respond(view: View) -> Callable[..., Response]:
        @wraps(view)
        def render(*args: Any, **kwargs: Any) -> Response:
            try:
                status, answer = view(*args, **kwargs)
            except CairnError as exc:
                logger.info("request refused", extra={"error": type(exc).__name__})
                status, answer = error_response(exc, table)
            except Exception as exc:
                logger.exception("request failed")
                status, answer = error_response(exc, table)
            metrics.add_metric(name=f"Responses{status // 100}xx", unit=MetricUnit.Count, value=1)
            return Response(body=json.dumps(answer), status_code=status,
                            headers={"Content-Type": "application/json"})

        return render

    return respond
