"""`cairn claims ...`: the clearinghouse's side of a `cairn dev` clinic's claims, by hand.

  cairn claims list [--tenant T]                 the clinic's claims and what each waits for
  cairn claims answer 835 [--tenant T] [--claim NUMBER] [--deny CARC]
                                                 the fake clearinghouse's 835 (or 999, 277CA)
                                                 for each claim waiting for one, dropped into
                                                 the clinic's clearinghouse inbox
  cairn claims answer 277CA --reject "reason"    a payer rejection instead
  cairn claims answer 999 --print                print the file instead of dropping it (to drop
                                                 it yourself: aws s3 cp - s3://<inbox>/tenants/T/<name>)

The answers are made from the claims' own 837P in the outbox by devkit/clearinghouse_fake.py,
so they match: the inbox function reads them, resumes the waiting workflows and files them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cairn.claims.record import ClaimState
from cairn.claims.services import ClaimServices
from cairn.config import DataSettings
from cairn.errors import CairnError
from cairn.runtime import ClinicalRuntime
from devkit.claims_demo import drop
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from devkit.deployment import Deployment, state_dir
from devkit.importer import clients_for
from multitenant.context import TenantContext

WAITING_FOR = {"999": ClaimState.SUBMITTED, "277CA": ClaimState.ACCEPTED, "835": ClaimState.ACKNOWLEDGED}


def add_parser(commands: Any, state_help: str, default_tenant: str) -> None:
    claims = commands.add_parser(
        "claims", help="a `cairn dev` clinic's claims and its fake clearinghouse (docs/claims.md)"
    )
    actions = claims.add_subparsers(dest="claims_command", required=True)
    listing = actions.add_parser("list", help="the clinic's claims and what each waits for")
    answer = actions.add_parser(
        "answer", help="the fake clearinghouse's 999, 277CA or 835 for claims waiting for it"
    )
    answer.add_argument("what", choices=tuple(WAITING_FOR), help="which answer")
    answer.add_argument("--claim", help="only this claim (its number, e.g. C1A2B3C4D5E)")
    answer.add_argument(
        "--deny", metavar="CARC", help="835: deny instead of paying, with this reason code (e.g. 50)"
    )
    answer.add_argument(
        "--reject", metavar="REASON", help="999: reject the file; 277CA: the payer rejects the claim"
    )
    answer.add_argument(
        "--print", action="store_true", help="print the file instead of dropping it in the inbox"
    )
    for action in (listing, answer):
        action.add_argument("--tenant", default=default_tenant, help=f"the clinic (default {default_tenant})")
        action.add_argument("--state-dir", help=state_help)


def run(args: argparse.Namespace) -> int:
    try:
        deployment = Deployment.read(state_dir(args.state_dir))
        clients = clients_for(deployment)
        environment = deployment.environment_of("claims-api", clients)
        services = ClaimServices(
            ClinicalRuntime(DataSettings.from_environ(environment), clients), environment
        )
        context = TenantContext.system(args.tenant, "cairn-claims-command")
        records = services.ledger(context).records()
        if args.claims_command == "list":
            for record in records:
                waiting = ", ".join(sorted(record.waiting)) or "-"
                print(
                    f"{record.claim_number}  {record.status:<12}  attempt {record.attempt}  "
                    f"charge {record.charge_cents / 100:.2f}  paid {record.paid_cents / 100:.2f}  "
                    f"waits for {waiting}"
                )
            return 0
        chosen = [
            r
            for r in records
            if r.status is WAITING_FOR[args.what] and (args.claim is None or r.claim_number == args.claim)
        ]
        if not chosen:
            print(
                f"cairn claims: no claim of {args.tenant} waits for a {args.what}"
                + (f" under number {args.claim}" if args.claim else ""),
                file=sys.stderr,
            )
            return 1
        clearinghouse = services.clearinghouse(context)
        for record in chosen:
            outbound = clearinghouse.read("outbox", record.outbox_key.rsplit("/", 1)[-1]).decode()
            if args.what == "999":
                text = answer_999(outbound, accept=args.reject is None)
            elif args.what == "277CA":
                text = answer_277ca(
                    outbound, rejected={record.control_number: args.reject} if args.reject else {}
                )
            else:
                text = answer_835(outbound, denied={record.control_number: args.deny} if args.deny else {})
            name = f"{record.control_number}.{args.what}.txt"
            if args.print:
                print(text)
            else:
                key = drop(clients, deployment, args.tenant, name, text)
                print(f"{record.claim_number}: {args.what} dropped as {key}")
    except (FileNotFoundError, KeyError, CairnError) as exc:
        print(f"cairn claims: {exc}", file=sys.stderr)
        return 1
    return 0
