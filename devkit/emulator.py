"""The AWS emulator `cairn dev` talks to: an embedded moto server, or one already running.

The embedded target is moto's ThreadedMotoServer on 127.0.0.1 with fake credentials, Step
Functions execution switched on, Lambda functions run in-process (devkit.lambda_executor), and
one virtual clock for Wait states and the functions' time (devkit.clock).
If AWS_ENDPOINT_URL already points at a reachable emulator (LocalStack, or a moto server) the
stack is provisioned there instead, and that emulator runs the functions its own way, from the
layers devkit/provision.py publishes. For LocalStack use AWS_ENDPOINT_URL=
http://localhost.localstack.cloud:4566: the functions are given the JWKS URL under that address,
and only that host resolves to LocalStack both here and inside its Lambda containers.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devkit import clock, dynamodb_queries, dynamodb_transactions, lambda_executor, step_functions_stop

REGION = "us-east-1"
LOOPBACK = "127.0.0.1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
STEP_FUNCTIONS_EXECUTION = {"stepfunctions": {"execute_state_machine": True}}


class Patch(Protocol):
    def uninstall(self) -> None: ...


@dataclass
class Emulator:
    """A running emulator: where it listens, and whether this process owns it."""

    endpoint_url: str
    embedded: bool
    _server: object | None = field(default=None, repr=False)
    _patches: list[Patch] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop the embedded server and remove its patches; a reused emulator is left alone."""
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
        while self._patches:
            self._patches.pop().uninstall()


def is_reachable(endpoint_url: str, timeout: float = 1.0) -> bool:
    """Whether anything answers HTTP at `endpoint_url` (any status counts)."""
    try:
        with urllib.request.urlopen(endpoint_url, timeout=timeout):  # noqa: S310 (local http only)
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def use_local_credentials(region: str = REGION) -> None:
    """Fake credentials and the emulator's region, so nothing here can ever reach real AWS."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)


def enable_step_functions_execution(endpoint_url: str) -> bool:
    """Ask a moto server to execute state machines; False if it is not moto (e.g. LocalStack)."""
    request = urllib.request.Request(  # noqa: S310 (local http only)
        f"{endpoint_url}/moto-api/config",
        data=b'{"stepfunctions": {"execute_state_machine": true}}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return bool(response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def start(port: int, cache_dir: Path) -> Emulator:
    """An emulator for `cairn dev`: the one AWS_ENDPOINT_URL names if it answers, else embedded moto."""
    use_local_credentials()
    existing = os.environ.get("AWS_ENDPOINT_URL")
    if existing and is_reachable(existing):
        enable_step_functions_execution(existing)
        return Emulator(endpoint_url=existing.rstrip("/"), embedded=False)
    return start_embedded(port, cache_dir)


class PortInUse(RuntimeError):
    """The port asked for is taken; the message says which flag picks another."""


def require_free_port(port: int, flag: str) -> None:
    """Raise PortInUse unless 127.0.0.1:`port` can be listened on."""
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            raise PortInUse(f"{LOOPBACK}:{port} is already in use; choose another port with {flag}") from exc


def start_embedded(port: int, cache_dir: Path) -> Emulator:
    """moto's ThreadedMotoServer on 127.0.0.1:`port`, executing state machines and Lambdas."""
    from moto.server import ThreadedMotoServer  # imported late: moto is a dev-only dependency

    # ThreadedMotoServer waits forever if its thread cannot bind, so check the port first.
    require_free_port(port, "--emulator-port")

    # moto's Step Functions executor calls Lambda back through http://localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    endpoint_url = f"http://{LOOPBACK}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call is noise
    running = Emulator(endpoint_url=endpoint_url, embedded=True)
    running._patches += [lambda_executor.install(cache_dir), dynamodb_transactions.install(),
                         dynamodb_queries.install(), clock.install(), step_functions_stop.install()]
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    try:
        server.start()
        running._server = server
        if not enable_step_functions_execution(endpoint_url):
            raise RuntimeError(f"the embedded emulator on {endpoint_url} did not accept its configuration")
    except BaseException:
        running.stop()
        raise
    return running
