"""Benchmark: claims per second through the X12 layer, beside the floors it cannot beat.

    .venv/bin/python -m bench.claims_x12 [--claims 500] [--runs 5]

Rows, each over one batch of --claims generated claims (the shapes of
tests/unit/claims/x12/claims_factory.py in turn: subscriber, dependent, replacement, void,
12 diagnoses, 4 modifiers and several lines), run --runs times in this process:
1. generation: write_837p of the batch;
2. validation: validate_837p of that file (pyx12 with its maps built once per process);
3. both, as cairn.claims.steps does them;
4. floor A: pyx12's own x12n_document on the same file (the maps parsed again per call);
5. floor B: pyx12's X12Reader tokenizing the same file, no map at all;
then an 835 of --claims claims (the fake clearinghouse's answer to the batch):
6. read_835;
7. floor: splitting its segments and elements with str.split, nothing read.
No AWS calls: this is CPU in the claims workflow's generate and inbox steps.
"""

from __future__ import annotations

import argparse
import io
import logging
from collections.abc import Callable
from dataclasses import replace

import pyx12.params
import pyx12.x12file
import pyx12.x12n_document

from bench.measure import CallCounter, Figures, measure
from cairn.claims.x12.claim_837p import write_837p
from cairn.claims.x12.remittance import read_835
from cairn.claims.x12.validation import validate_837p, warm
from devkit.clearinghouse_fake import answer_835
from tests.unit.claims.x12.claims_factory import CLINIC, PAYER, batch, interchange


def _pyx12_stock(text: str) -> None:
    pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None, None)


def _pyx12_tokens(text: str) -> None:
    for _ in pyx12.x12file.X12Reader(io.StringIO(text)):
        pass


def _split(text: str) -> None:
    for segment in text.split("~"):
        segment.strip().split("*")


def figures(claims: int, runs: int) -> list[tuple[Figures, int]]:
    """Each row's figures and the claims one run handles."""
    counter = CallCounter()
    batch_claims = batch(claims)
    envelope = interchange()
    text = write_837p(envelope, batch_claims).text
    if validate_837p(text):
        raise SystemExit("the generated batch is not valid: fix the writer before measuring it")

    def row(name: str, operation: Callable[[], object]) -> tuple[Figures, int]:
        return measure(name, runs, lambda _: operation(), counter), claims

    rows = [
        row("generation: write_837p", lambda: write_837p(envelope, batch_claims)),
        row("validation: validate_837p (maps built once)", lambda: validate_837p(text)),
        row(
            "both: write_837p + validate_837p", lambda: validate_837p(write_837p(envelope, batch_claims).text)
        ),
        row("floor A: pyx12 x12n_document (maps per call)", lambda: _pyx12_stock(text)),
        row("floor B: pyx12 X12Reader tokens only", lambda: _pyx12_tokens(text)),
    ]
    one_payee = [replace(claim, payer=PAYER, billing=CLINIC) for claim in batch_claims]
    remittance = answer_835(write_837p(envelope, one_payee).text)
    if len(read_835(remittance).claims) != claims:
        raise SystemExit("the 835 does not carry every claim")
    rows.append(row("835: read_835", lambda: read_835(remittance)))
    rows.append(row("835 floor: str.split of segments and elements", lambda: _split(remittance)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=500, help="claims per batch")
    parser.add_argument("--runs", type=int, default=5, help="runs per row")
    args = parser.parse_args(argv)
    logging.getLogger("pyx12").setLevel(logging.CRITICAL + 1)
    warm()
    rows = figures(max(1, args.claims), max(1, args.runs))
    print(f"| per batch of {args.claims} claims | runs | p50 ms | p95 ms | claims/s (at p50) |")
    print("|---|---|---|---|---|")
    for figure, count in rows:
        print(
            f"| {figure.name} | {figure.runs} | {figure.p50_ms:,.1f} | {figure.p95_ms:,.1f} "
            f"| {count / figure.p50_ms * 1000:,.0f} |"
        )


if __name__ == "__main__":
    main()
