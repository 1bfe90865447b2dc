"""The local API front: serves every declared API on 127.0.0.1 as API Gateway (REST) would.

Each request is matched against the Chalice apps' routes, authorized by the declared TOKEN
authorizer (except on the API's declared `public_paths`), and handed to the API's function
through the emulator's Lambda Invoke API (the same path Step Functions uses), so the code under
test is the deployed function.
`GET /health` answers 200 once the stack is provisioned and seeded, 503 before.
`GET|POST /_dev/clock` shows and advances the embedded runtime's virtual clock (devkit/clock.py,
`cairn clock`): a route of this local front only, which nothing deploys.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cairn.aws import AwsClients
from devkit import clock, gateway
from devkit.deployment import Deployment
from devkit.gateway import ApiIdentity, GatewayResponse, IncomingRequest
from devkit.routes import ChaliceApp, RouteTable, load_chalice_app
from infra import declarations
from infra.declarations import ApiDeclaration

LOGGER = logging.getLogger("cairn.api")
HEALTH_PATH = "/health"
HEALTH_METHODS = ("GET", "HEAD")
CLOCK_PATH = "/_dev/clock"
CLOCK_METHODS = ("GET", "POST")
FRONT_ROUTES = {HEALTH_PATH: HEALTH_METHODS, CLOCK_PATH: CLOCK_METHODS}  # the front's own, not an API's
JSON = [("Content-Type", "application/json")]
LOCAL_API_ID = "cairnlocal"


@dataclass(frozen=True)
class LambdaResult:
    payload: Any
    function_error: str | None


class ApiBackend:
    """Authorize and dispatch one request; no sockets, so it is easy to test."""

    def __init__(self, clients: AwsClients, deployment: Deployment,
                 apps: Mapping[ApiDeclaration, ChaliceApp]) -> None:
        self._clients = clients
        self._deployment = deployment
        self._routes = RouteTable.from_apps(apps)
        self._binary_types = {api: app.binary_types for api, app in apps.items()}
        self._identity = ApiIdentity(deployment.region, deployment.account_id, LOCAL_API_ID, deployment.stage)

    def handle(self, request: IncomingRequest) -> GatewayResponse:
        """The response API Gateway would give to `request`."""
        if len(request.body) > gateway.MAX_PAYLOAD_BYTES:
            return gateway.TOO_LARGE
        match = self._routes.match(request.path)
        # API Gateway answers an unknown resource or method with 403, before any authorizer.
        if match is None or request.method not in match.route.methods:
            return gateway.MISSING_AUTHENTICATION_TOKEN
        api = match.route.api
        authorizer: Mapping[str, Any] | None = None
        if api.authorizer is not None and not match.route.public:
            decided = self._authorize(api.authorizer, request)
            if isinstance(decided, GatewayResponse):
                return decided
            authorizer = decided
        event = gateway.proxy_event(request, match, self._identity, authorizer, self._binary_types[api])
        result = self.invoke(api.function, event)
        if result.function_error:
            return gateway.INTEGRATION_FAILURE
        return gateway.proxy_response(result.payload)

    def _authorize(self, authorizer: str, request: IncomingRequest) -> GatewayResponse | dict[str, Any]:
        token = (request.header("Authorization") or "").strip()
        if not token:
            return gateway.UNAUTHORIZED
        event = gateway.token_event(request, self._identity, token)
        result = self.invoke(authorizer, event)
        if result.function_error:
            message = result.payload.get("errorMessage") if isinstance(result.payload, dict) else None
            return gateway.UNAUTHORIZED if message == "Unauthorized" else gateway.AUTHORIZER_FAILURE
        return gateway.authorizer_decision(result.payload, event["methodArn"])

    def invoke(self, function: str, event: Mapping[str, Any]) -> LambdaResult:
        """Invoke a declared function through the emulator's Lambda API."""
        response = self._clients.lambda_().invoke(
            FunctionName=self._deployment.functions[function],
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        raw = response["Payload"].read()
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            payload = raw.decode(errors="replace")
        return LambdaResult(payload=payload, function_error=response.get("FunctionError"))


def load_apps(deployment: Deployment) -> dict[ApiDeclaration, ChaliceApp]:
    """The Chalice app of every declared API, imported with its function's environment."""
    return {api: load_chalice_app(api, deployment.function_environments[api.function])
            for api in declarations.APIS}


class ApiFront:
    """The HTTP server around an ApiBackend, plus the health flag `cairn dev` raises when ready."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.ready = threading.Event()
        self.backend: ApiBackend | None = None
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="cairn-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Listen now (health answers 503 until `ready` is set)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def respond(self, request: IncomingRequest) -> GatewayResponse:
        """Health, or the API's response once the backend is in place."""
        if request.path == HEALTH_PATH and request.method in HEALTH_METHODS:
            ready = self.ready.is_set() and self.backend is not None
            body = {"status": "ok" if ready else "starting"}
            return GatewayResponse(200 if ready else 503, JSON, json.dumps(body).encode())
        if request.path == CLOCK_PATH and request.method in CLOCK_METHODS:
            return virtual_clock(request)
        if self.backend is None:
            return gateway.gateway_error(503, "Cairn is still starting")
        return self.backend.handle(request)


def virtual_clock(request: IncomingRequest) -> GatewayResponse:
    """GET: the virtual clock's now and offset. POST {"advance": "47h"} or {"to": "<instant>"}:
    move it forward first. 400 saying what to send, 409 where no virtual clock runs."""
    try:
        running = clock.current()
    except clock.ClockError as absent:
        return _json(409, {"error": "no-clock", "message": str(absent)})
    if request.method == "POST":
        try:
            change = json.loads(request.body or b"{}")
            if isinstance(change, dict) and isinstance(change.get("advance"), str) and "to" not in change:
                running.advance(clock.parse_duration(change["advance"]))
            elif isinstance(change, dict) and isinstance(change.get("to"), str) and "advance" not in change:
                running.advance_to(datetime.fromisoformat(change["to"].replace("Z", "+00:00")))
            else:
                raise clock.ClockError('send {"advance": "47h"} or {"to": "2026-12-08T14:00:00Z"}')
        except ValueError as wrong:  # bad JSON, dates and durations (ClockError is one too)
            return _json(400, {"error": "invalid", "message": str(wrong)})
    return _json(200, running.as_dict())


def _json(status: int, body: Mapping[str, Any]) -> GatewayResponse:
    return GatewayResponse(status, JSON, json.dumps(body).encode())


def _handler_class(front: ApiFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            if length > gateway.MAX_PAYLOAD_BYTES:
                # Refuse before reading 10 MB+ into memory, and close: the body stays unread.
                self.close_connection = True
                self._send(gateway.TOO_LARGE)
                return
            path, _, query = self.path.partition("?")
            request = IncomingRequest(
                method=self.command,
                path=path or "/",
                query=query,
                headers=list(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
                source_ip=self.client_address[0],
            )
            try:
                response = front.respond(request)
            except Exception:  # a bug in the front or an unreachable emulator: say so, keep serving
                LOGGER.exception("request failed: %s %s", self.command, path)
                response = gateway.INTEGRATION_FAILURE
            self._send(response)
            LOGGER.info("%s %s %d %.0f ms", self.command, path, response.status,
                        (time.perf_counter() - started) * 1000)

        def _send(self, response: GatewayResponse) -> None:
            self.send_response(response.status)
            for key, value in response.headers:
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are logged once, with their latency, by _serve."""

    return Handler
