"""`cairn`: the developer command line.

  cairn dev    run Cairn on this machine (embedded AWS emulator, API front, demo clinics)
  cairn token  print an ID token of a demo user of the running stack
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from devkit.deployment import Deployment, state_dir
from devkit.emulator import PortInUse
from devkit.seed import DEMO_PASSWORD, ROLES, TENANTS
from devkit.stack import DevOptions, DevStack, RunningStack
from devkit.tokens import TokenError, id_token


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cairn` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "dev":
        return run_dev(args.api_port, args.emulator_port, state_dir(args.state_dir))
    if args.command == "token":
        return print_token(args.tenant, args.role, state_dir(args.state_dir))
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cairn", description="Cairn developer tools")
    commands = parser.add_subparsers(dest="command")
    state_help = "where the running stack's deployment.json lives (default: $CAIRN_STATE_DIR or .cairn/)"
    dev = commands.add_parser("dev", help="run Cairn locally on an embedded AWS emulator")
    dev.add_argument("--api-port", type=int, default=8080, help="port of the API front (default 8080)")
    dev.add_argument("--emulator-port", type=int, default=4566,
                     help="port of the embedded AWS emulator (default 4566)")
    dev.add_argument("--state-dir", help=state_help)
    token = commands.add_parser("token", help="print an ID token of a seeded demo user")
    token.add_argument("--tenant", default=TENANTS[0].tenant_id, help="tenant id (default demo-clinic)")
    token.add_argument("--role", default="physician", choices=ROLES, help="role (default physician)")
    token.add_argument("--state-dir", help=state_help)
    return parser


def run_dev(api_port: int, emulator_port: int, directory: Path) -> int:
    """Run the embedded stack until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    stack = DevStack(DevOptions(api_port=api_port, emulator_port=emulator_port, state_dir=directory))
    try:
        running = stack.start()
        print(banner(running, directory), flush=True)
        while not stop.wait(timeout=1.0):
            pass
    except KeyboardInterrupt:
        pass
    except PortInUse as exc:
        print(f"cairn dev: {exc}", file=sys.stderr)
        return 1
    finally:
        print("cairn dev: stopping", file=sys.stderr, flush=True)
        stack.stop()
    return 0


def banner(running: RunningStack, directory: Path) -> str:
    """What a developer needs to start using the stack."""
    deployment = running.deployment
    lines = [
        "",
        f"Cairn is running (ready in {running.startup_seconds:.1f} s).",
        f"  API       {deployment.api_url}   e.g. GET {deployment.api_url}/fhir/R4/Patient",
        f"  health    {deployment.api_url}/health",
        f"  emulator  {deployment.endpoint_url}   (AWS_ENDPOINT_URL={deployment.endpoint_url})",
        f"  state     {directory / 'deployment.json'}",
        "",
        f"Demo users (password {DEMO_PASSWORD}):",
    ]
    for tenant, users in deployment.users.items():
        imported = len(running.seeded.patients.get(tenant, []))
        lines.append(f"  {tenant} ({imported} patients imported): " + ", ".join(users.values()))
    lines += [f"  import failed: {failure}" for failure in running.seeded.failures]
    lines += [
        "",
        "Get a token and call the API:",
        "  TOKEN=$(cairn token --tenant demo-clinic --role physician)",
        f"  curl -H \"Authorization: Bearer $TOKEN\" {deployment.api_url}/fhir/R4/Patient",
        "",
    ]
    if deployment.embedded:
        lines.append("State lives in memory: it is gone when cairn dev stops. Ctrl-C to stop.")
    else:
        lines.append(f"Provisioned into the emulator at {deployment.endpoint_url}. Ctrl-C to stop.")
    return "\n".join(lines)


def print_token(tenant: str, role: str, directory: Path) -> int:
    """Print the ID token of the demo user, or say why there is none."""
    try:
        print(id_token(Deployment.read(directory), tenant, role))
    except (FileNotFoundError, TokenError) as exc:
        print(f"cairn token: {exc}", file=sys.stderr)
        return 1
    return 0
