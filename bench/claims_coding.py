"""Benchmark: coding and scrubbing insurance claims, all in this process (no AWS calls).

    .venv/bin/python -m bench.claims_coding [--claims 500] [--checks 200000] [--loads 10]

Rows:
1. loading the ICD-10-CM lookup (layers/cairn/claims/data/icd10cm.txt.gz, built by `make icd10`)
   from disk into its dictionaries (`--loads` times), and in fresh interpreters, import included,
   as a cold Lambda's first claim pays it;
2. ICD-10-CM checks (`Icd10Codes.problem`) over a primary-care mix of billable codes, categories,
   unknown and malformed codes, written with and without dots, in checks per second;
3. per claim, over `--claims` claims of 1 to 6 services and 1 to 8 diagnoses: the coding parsed
   (parse_coding), the FHIR Claim built (claim_resource), the submission read back
   (submission_from) and the scrub (scrub), with scrubs per second for the whole batch.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from cairn.billing.fee_schedule import FeeSchedule
from cairn.claims.building import EIN_SYSTEM, NPI_SYSTEM, claim_resource, submission_from
from cairn.claims.coding import parse_coding
from cairn.claims.icd10 import LOOKUP, Icd10Codes, load
from cairn.claims.posting import PAYER_ID_SYSTEM
from cairn.claims.scrub import scrub
from cairn.claims.settings import PayerRules

TODAY = date(2026, 12, 1)
BILLABLE = (
    "E11.9", "I10", "E78.5", "Z00.00", "Z00.01", "J06.9", "M54.50", "F41.1", "K21.9", "E66.9", "Z79.4",
    "J45.909", "G47.33", "N18.30", "R05.9", "E03.9", "F32.A", "M25.561", "L70.0", "B34.9", "Z23",
    "E11.65", "I25.10", "J02.9", "N39.0", "R51.9", "S93.401A", "Z68.30", "E55.9", "D64.9",
)  # fmt: skip
OTHER = ("E11", "I25", "S93.401", "E11.99", "U99.9", "XYZ", "1234", "", "e119", "I1.0")
FEES = FeeSchedule.parse(
    {
        "fees": [
            {"code": "99212", "display": "Office visit, established, straightforward", "amount": 80},
            {"code": "99213", "display": "Office visit, established, low", "amount": 120},
            {"code": "99214", "display": "Office visit, established, moderate", "amount": 175.5},
            {"code": "36415", "display": "Routine venipuncture", "amount": 15},
            {"code": "81002", "display": "Urinalysis, non-automated", "amount": 12},
            {"code": "90471", "display": "Immunization administration", "amount": 25},
            {"code": "93000", "display": "Electrocardiogram, complete", "amount": 60},
        ]
    }
)
RULES = PayerRules("EMP01", "Empire Health", timely_filing_days=180, requires_group_number=True)
PATIENT = {
    "resourceType": "Patient",
    "id": "pat-1",
    "name": [{"family": "Bench", "given": ["Pat"]}],
    "birthDate": "1970-01-01",
    "gender": "female",
}
COVERAGE = {
    "resourceType": "Coverage",
    "id": "cov-1",
    "status": "active",
    "subscriberId": "M000111222",
    "beneficiary": {"reference": "Patient/pat-1"},
    "payor": [{"reference": "Organization/payer"}],
    "class": [{"type": {"coding": [{"code": "group"}]}, "value": "G-1"}],
}
PAYER = {
    "resourceType": "Organization",
    "name": "Empire Health",
    "identifier": [{"system": PAYER_ID_SYSTEM, "value": "EMP01"}],
}
BILLING = {
    "resourceType": "Organization",
    "id": "org-1",
    "name": "Bench Family Medicine",
    "identifier": [
        {"system": NPI_SYSTEM, "value": "1245319599"},
        {"system": EIN_SYSTEM, "value": "12-3456789"},
    ],
    "address": [{"line": ["1 Main St"], "city": "Albany", "state": "NY", "postalCode": "12207"}],
}
PRACTITIONER = {
    "resourceType": "Practitioner",
    "id": "dr-1",
    "name": [{"family": "Doc", "given": ["Ada"]}],
    "identifier": [{"system": NPI_SYSTEM, "value": "1003000126"}],
}


def codings(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` realistic codings: 1-8 distinct diagnoses, 1-6 services pointing at them."""
    chooser = random.Random(seed)
    codes = [fee.code for fee in FEES.fees]
    made = []
    for _ in range(count):
        diagnoses = chooser.sample(BILLABLE, chooser.randint(1, 8))
        services = [
            {
                "code": chooser.choice(codes),
                "units": chooser.choice((1, 1, 1, 2)),
                "modifiers": chooser.choice(([], [], ["25"])),
                "diagnoses": chooser.sample(
                    range(1, len(diagnoses) + 1), min(len(diagnoses), chooser.randint(1, 4))
                ),
            }
            for _ in range(chooser.randint(1, 6))
        ]
        made.append({"diagnoses": diagnoses, "services": services, "place_of_service": "11"})
    return made


def encounter(index: int) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": f"enc-{index}",
        "status": "finished",
        "subject": {"reference": "Patient/pat-1"},
        "participant": [{"individual": {"reference": "Practitioner/dr-1"}}],
        "period": {"start": f"2026-11-{1 + index % 28:02d}T10:00:00-05:00"},
    }


HEADER = "| operation | runs | p50 µs | p95 µs | per second |\n|---|---|---|---|---|"


def timed(name: str, runs: int, operation: Callable[[int], object]) -> str:
    """A table row: `operation(i)` for i in range(runs), its percentiles and rate (microseconds:
    bench.measure's milliseconds would show these as 0.0)."""
    samples = []
    for index in range(runs):
        started = time.perf_counter()
        operation(index)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    per_second = runs / sum(samples) * 1e6
    return f"| {name} | {runs} | {statistics.median(samples):,.0f} | {p95:,.0f} | {per_second:,.0f} |"


COLD = (
    "import time; started = time.perf_counter(); from cairn.claims.icd10 import icd10_codes; "
    "icd10_codes(); print((time.perf_counter() - started) * 1000)"
)


def cold_ms(runs: int) -> list[float]:
    """Import and first load in a fresh interpreter, as a cold Lambda's first claim pays them."""
    return sorted(
        float(subprocess.run([sys.executable, "-c", COLD], check=True, capture_output=True, text=True).stdout)
        for _ in range(runs)
    )


def rate(label: str, count: int, seconds: float) -> str:
    return f"{label}: {count:,} in {seconds * 1000:.0f} ms = {count / seconds:,.0f} per second"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=500, help="claims coded, built and scrubbed")
    parser.add_argument("--checks", type=int, default=200_000, help="ICD-10-CM checks")
    parser.add_argument("--loads", type=int, default=10, help="loads of the lookup from disk")
    args = parser.parse_args(argv)
    loaded: list[Icd10Codes] = []
    rows = [timed("load the ICD-10-CM lookup", args.loads, lambda _: loaded.append(load()))]
    icd10 = loaded[-1]
    print(
        f"{LOOKUP.name}: {LOOKUP.stat().st_size / 1024:,.0f} KiB on disk, {len(icd10):,} billable codes "
        f"({icd10.version})",
        flush=True,
    )

    mix = [*BILLABLE, *OTHER, *(code.replace(".", "") for code in BILLABLE)]
    checks = [mix[i % len(mix)] for i in range(args.checks)]
    started = time.perf_counter()
    flagged = sum(1 for code in checks if icd10.problem(code) is not None)
    checked = time.perf_counter() - started

    raws = codings(args.claims)
    parsed = [parse_coding(raw, icd10, FEES) for raw in raws]
    claims = [
        {**claim_resource(encounter(i), COVERAGE, coding, FEES, "org-1", TODAY, icd10), "id": f"claim-{i}"}
        for i, coding in enumerate(parsed)
    ]
    submissions = [
        submission_from(claim, PATIENT, COVERAGE, PAYER, BILLING, PRACTITIONER, f"C{i:08d}")
        for i, claim in enumerate(claims)
    ]
    # Every fifth claim has something to fix: a category for its principal diagnosis.
    submissions = [
        replace(s, diagnoses=("E11", *s.diagnoses[1:])) if i % 5 == 0 else s
        for i, s in enumerate(submissions)
    ]
    n = args.claims
    rows += [
        timed("parse_coding (one claim)", n, lambda i: parse_coding(raws[i], icd10, FEES)),
        timed(
            "claim_resource (one claim)",
            n,
            lambda i: claim_resource(encounter(i), COVERAGE, parsed[i], FEES, "org-1", TODAY, icd10),
        ),
        timed(
            "submission_from (one claim)",
            n,
            lambda i: submission_from(claims[i], PATIENT, COVERAGE, PAYER, BILLING, PRACTITIONER, "C1"),
        ),
        timed("scrub (one claim)", n, lambda i: scrub(submissions[i], RULES, icd10, TODAY)),
    ]
    started = time.perf_counter()
    found = [scrub(submission, RULES, icd10, TODAY) for submission in submissions]
    scrubbed = time.perf_counter() - started

    print()
    print("\n".join([HEADER, *rows]))
    print()
    cold = cold_ms(max(1, args.loads // 2))
    print(
        "cold process (import cairn.claims.icd10 + first icd10_codes()): "
        f"median {statistics.median(cold):.0f} ms over {len(cold)} fresh interpreters"
    )
    print(rate("ICD-10-CM checks (Icd10Codes.problem)", len(checks), checked) + f"; {flagged:,} not billable")
    print(
        rate("scrubs", n, scrubbed)
        + f"; {sum(1 for f in found if f):,} claims with problems, "
        + f"{statistics.mean(len(s.lines) for s in submissions):.1f} lines and "
        + f"{statistics.mean(len(s.diagnoses) for s in submissions):.1f} diagnoses per claim on average"
    )


if __name__ == "__main__":
    main()
