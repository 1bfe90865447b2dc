"""`cairn`: the developer command line.

  cairn dev                 run Cairn on this machine (embedded AWS emulator, API front, demo clinics)
  cairn token               print an ID token of a demo user of the running stack
  cairn seed --stage S      seed the demo clinics into stage S deployed by the CDK app
  cairn token --stage S     print an ID token of a demo user of deployed stage S
  cairn tenant ...          create, list, show, suspend, reactivate tenants (docs/tenancy.md)
  cairn stripe sync-plans   create or update the tiers' Stripe products and per-seat prices (docs/billing.md)
  cairn import --tenant T PATH...
                            import FHIR Bundle files (or directories of them) into a clinic, through
                            the bundle-import workflow of `cairn dev` (or --stage); --direct: in-process
  cairn clock [advance 47h | advance-to 2026-12-08T14:00:00Z]
                            show or move forward the virtual clock of `cairn dev` (its reminders'
                            waits end when it passes their time)

With --stage, AWS_ENDPOINT_URL picks the emulator the stage was deployed into (LocalStack);
without it the commands talk to AWS with your own credentials.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError

from cairn.errors import CairnError
from devkit import claims_commands, importer, seed, stripe_commands, tenants
from devkit.api_front import CLOCK_PATH
from devkit.deployment import Deployment, state_dir
from devkit.discovery import DiscoveryError, discover, stage_clients
from devkit.emulator import PortInUse
from devkit.lab_demo import DEMO_LAB
from devkit.seed import DEMO_PASSWORD, ROLES, TENANTS
from devkit.stack import DevOptions, DevStack, RunningStack
from devkit.tokens import TokenError, id_token
from multitenant.context import InvalidTenantContext

STAGE_HELP = (
    "a stage deployed by the CDK app (e.g. local in LocalStack, dev in AWS), found by its stack "
    "outputs: in the emulator AWS_ENDPOINT_URL names (LocalStack: http://localhost.localstack.cloud:4566), "
    "or in AWS with your credentials when AWS_ENDPOINT_URL is unset"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cairn` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "dev":
        return run_dev(args.api_port, args.emulator_port, state_dir(args.state_dir))
    if args.command == "token":
        return print_token(args.tenant, args.role, state_dir(args.state_dir), args.stage)
    if args.command == "seed":
        return seed_stage(args.stage)
    if args.command == "tenant":
        return tenant_command(args)
    if args.command == "import":
        return import_command(args)
    if args.command == "stripe":
        return stripe_commands.run(args)
    if args.command == "claims":
        return claims_commands.run(args)
    if args.command == "clock":
        return clock_command(args.action, args.value, state_dir(args.state_dir))
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
    token = commands.add_parser(
        "token", help="print an ID token of a seeded demo user (of `cairn dev`, or of --stage)")
    token.add_argument("--tenant", default=TENANTS[0].tenant_id, help="tenant id (default demo-clinic)")
    token.add_argument("--role", default="physician", choices=ROLES, help="role (default physician)")
    token.add_argument("--state-dir", help=state_help + "; also keeps demo users' MFA secrets")
    token.add_argument("--stage", help=STAGE_HELP + "; default: the `cairn dev` stack in --state-dir")
    seed_command = commands.add_parser(
        "seed", help="seed the demo clinics (tenants, users, patients) into a deployed stage; "
                     "works against LocalStack and against AWS (e.g. --stage dev)")
    seed_command.add_argument("--stage", required=True, help=STAGE_HELP)
    tenants.add_parser(commands, state_help, STAGE_HELP)
    stripe_commands.add_parser(commands, state_help, STAGE_HELP)
    claims_commands.add_parser(commands, state_help, TENANTS[0].tenant_id)
    imports = commands.add_parser(
        "import", help="import FHIR Bundles (files or directories of *.json) into a clinic, with a progress "
                       "bar and a report; exit code 1 if a file failed or an entry was rejected")
    imports.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="Bundle file or directory")
    imports.add_argument("--tenant", required=True, help="the clinic to import into (tenant id)")
    imports.add_argument("--stage", help=STAGE_HELP + "; default: the `cairn dev` stack in --state-dir")
    imports.add_argument("--state-dir", help=state_help)
    imports.add_argument("--direct", action="store_true",
                         help="import in this process through the record service against the `cairn dev` "
                              "emulator, without the workflow (faster; for benchmarks)")
    imports.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the imports")
    clock = commands.add_parser(
        "clock", help="show or advance the virtual clock of `cairn dev` (reminders wait on it)")
    clock.add_argument("action", nargs="?", default="show", choices=("show", "advance", "advance-to"))
    clock.add_argument("value", nargs="?", help="a duration (47h, 2d, 90m, 1h30m) or, for advance-to, an "
                                                 "instant (2026-12-08T14:00:00Z)")
    clock.add_argument("--state-dir", help=state_help)
    return parser


def clock_command(action: str, value: str | None, directory: Path) -> int:
    """`cairn clock`: ask the running `cairn dev` front (its dev-only /_dev/clock) to show or move it."""
    if action != "show" and not value:
        print(f"cairn clock: {action} needs a value, e.g. cairn clock advance 47h", file=sys.stderr)
        return 2
    change = None if action == "show" else {"advance" if action == "advance" else "to": value}
    try:
        api_url = Deployment.read(directory).api_url
        request = urllib.request.Request(  # noqa: S310 (the local front's http URL)
            f"{api_url}{CLOCK_PATH}", method="GET" if change is None else "POST",
            data=None if change is None else json.dumps(change).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as refused:
        print(f"cairn clock: {json.loads(refused.read()).get('message')}", file=sys.stderr)
        return 1
    except (FileNotFoundError, urllib.error.URLError, OSError) as exc:
        print(f"cairn clock: {exc}", file=sys.stderr)
        return 1
    offset = timedelta(seconds=answer["offsetSeconds"])
    print(f"{answer['now']}  (real time + {offset})")
    return 0


def import_command(args: argparse.Namespace) -> int:
    """`cairn import` against `cairn dev` (or --stage); refusals say what to fix."""
    try:
        if args.stage:
            clients = stage_clients(os.environ)
            deployment = discover(clients, args.stage)
        else:
            deployment = Deployment.read(state_dir(args.state_dir))
            clients = importer.clients_for(deployment)
        return importer.run_import(deployment, clients, args.tenant, args.paths, direct=args.direct,
                                   timeout_seconds=args.timeout)
    except (FileNotFoundError, DiscoveryError, importer.BundleFileError, CairnError, TimeoutError) as exc:
        print(f"cairn import: {exc}", file=sys.stderr)
    except (BotoCoreError, ClientError) as exc:  # unreachable emulator, no or refused credentials
        print(f"cairn import: {exc}", file=sys.stderr)
    return 1


def tenant_command(args: argparse.Namespace) -> int:
    """`cairn tenant ...` against `cairn dev` (or --stage); refusals say what to fix."""
    try:
        deployment = discover(stage_clients(os.environ), args.stage) if args.stage else Deployment.read(
            state_dir(args.state_dir))
        return tenants.run(args, tenants.TenantOperations.for_deployment(deployment))
    except (FileNotFoundError, DiscoveryError, CairnError, InvalidTenantContext, TimeoutError) as exc:
        print(f"cairn tenant: {exc}", file=sys.stderr)
    except (BotoCoreError, ClientError) as exc:  # unreachable emulator, no or refused credentials
        print(f"cairn tenant: {exc}", file=sys.stderr)
    return 1


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
        f"  curl -H \"Authorization: Bearer $TOKEN\" {deployment.api_url}/lab-results/inbox",
        f"Labs post HL7 v2 results to {deployment.api_url}/labs/{DEMO_LAB}/hl7 "
        "(token of --role lab_interface; see docs/labs.md)",
        "Reminders wait on a virtual clock: `cairn clock advance 47h` moves it; what they sent is in "
        f"{deployment.api_url}/reminders/outbox (admin or patient token; docs/reminders.md)",
        f"Stripe is a local fake at {deployment.stripe_url} (plans synced; its checkout pages have a pay "
        "button); it signs webhook events with STRIPE_WEBHOOK_SECRET=whsec_cairn_local_development "
        f"and posts them to {deployment.api_url}/webhooks/stripe (docs/billing.md)",
        f"Claims: the demo clinics' 837P files are in {deployment.api_url}/claims/files/outbox (token "
        "of --role billing); `cairn claims list` shows what each claim waits for, and "
        "`cairn claims answer 835` drops a matching 835 into the clearinghouse inbox to post it "
        "(docs/claims.md)",
        "",
    ]
    if deployment.embedded:
        lines.append("State lives in memory: it is gone when cairn dev stops. Ctrl-C to stop.")
    else:
        lines.append(f"Provisioned into the emulator at {deployment.endpoint_url}. Ctrl-C to stop.")
    return "\n".join(lines)


def print_token(tenant: str, role: str, directory: Path, stage: str | None = None) -> int:
    """Print the ID token of a demo user of `cairn dev` (or of deployed `stage`), or say why not."""
    try:
        deployment = discover(stage_clients(os.environ), stage) if stage else Deployment.read(directory)
        print(id_token(deployment, tenant, role, directory))
    except (FileNotFoundError, TokenError, DiscoveryError) as exc:
        print(f"cairn token: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:  # unreachable emulator, no or refused credentials
        print(f"cairn token: {exc}", file=sys.stderr)
        return 1
    return 0


def seed_stage(stage: str) -> int:
    """Seed the demo clinics into deployed `stage` and say how to use them."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    clients = stage_clients(os.environ)
    try:
        deployment = discover(clients, stage)
        report = seed.seed(clients, deployment)
    except (DiscoveryError, BotoCoreError, ClientError) as exc:
        print(f"cairn seed: {exc}", file=sys.stderr)
        return 1
    print(seeded_banner(deployment, report))
    return 1 if report.failures else 0


def seeded_banner(deployment: Deployment, report: seed.SeedReport) -> str:
    """What was seeded into a deployed stage, and how to call its API."""
    endpoint = f"AWS_ENDPOINT_URL={deployment.endpoint_url} " if deployment.endpoint_url else ""
    where = deployment.endpoint_url or f"AWS account {deployment.account_id} ({deployment.region})"
    lines = [f"Seeded stage {deployment.stage} at {where}.", f"  API  {deployment.api_url}",
             "", f"Demo users (password {DEMO_PASSWORD}):"]
    for tenant, users in deployment.users.items():
        imported = len(report.patients.get(tenant, []))
        lines.append(f"  {tenant} ({imported} patients imported): " + ", ".join(users.values()))
    lines += [f"  import failed: {failure}" for failure in report.failures]
    lines += [
        "",
        "Get a token and call the API:",
        f"  TOKEN=$({endpoint}.venv/bin/cairn token --stage {deployment.stage} "
        "--tenant demo-clinic --role physician)",
        f"  curl -H \"Authorization: Bearer $TOKEN\" {deployment.api_url}/fhir/R4/Patient",
    ]
    return "\n".join(lines)
