"""`cairn import` against the embedded runtime: every Synthea bundle through the real
bundle-import workflow (state machine, in-process Lambda, DynamoDB, KMS), counts per type,
Observations searchable by patient, replay stores nothing twice, --direct agrees with the
workflow, and a rejected entry makes the exit code 1.

The Synthea bundles live outside the repo (<repo>/../shared/fixtures/synthea); without them the
Synthea test is skipped and the same checks run on generated chart bundles."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cairn.aws import AwsClients
from cairn.fhir.search import parse_search
from cairn.imports import IMPORTED_TYPES
from devkit import cli, importer
from devkit.demo_data import demo_chart_bundle
from devkit.deployment import Deployment
from infra.declarations import PROJECT_ROOT
from multitenant.context import Role, TenantContext

SYNTHEA_DIR = PROJECT_ROOT.parent / "shared" / "fixtures" / "synthea"


def expected_counts(paths: list[Path]) -> tuple[Counter[str], Counter[str]]:
    """(stored, skipped) entries per resource type in the bundles at `paths`."""
    types = Counter(entry["resource"]["resourceType"]
                    for path in paths for entry in json.loads(path.read_bytes())["entry"])
    return (Counter({t: n for t, n in types.items() if t in IMPORTED_TYPES}),
            Counter({t: n for t, n in types.items() if t not in IMPORTED_TYPES}))


def stored_items(clients: AwsClients, deployment: Deployment, tenant: str) -> int:
    """Items of `tenant` in the clinical table (every version, index entry and key)."""
    paginator = clients.dynamodb().get_paginator("scan")
    return sum(
        1 for page in paginator.paginate(TableName=deployment.tables["clinical"])
        for item in page["Items"] if item["pk"]["S"].startswith(f"{tenant}#")
    )


def import_files(clients: AwsClients, deployment: Deployment, tenant: str,
                 paths: list[Path]) -> list[importer.FileOutcome]:
    files = [importer.load(tenant, path) for path in paths]
    return importer.import_through_workflow(clients, deployment, tenant, files, lambda _: None, 600.0)


def run_cli(deployment: Deployment, state: Path, *args: str) -> tuple[int, str, str]:
    deployment.write(state)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["import", "--state-dir", str(state), *args])
    return code, out.getvalue(), err.getvalue()


def check_import(clients: AwsClients, deployment: Deployment, tenant: str, paths: list[Path],
                 state: Path) -> None:
    """The checks every source of bundles gets."""
    stored, skipped = expected_counts(paths)
    started = time.monotonic()
    outcomes = import_files(clients, deployment, tenant, paths)
    assert [o.failure for o in outcomes] == [None] * len(paths)
    summaries = [o.summary for o in outcomes if o.summary is not None]
    assert [s["rejected"] for s in summaries] == [[]] * len(paths)
    assert sum((Counter(s["created_by_type"]) for s in summaries), Counter()) == stored
    assert sum((Counter(s["skipped"]) for s in summaries), Counter()) == skipped
    print(f"{sum(stored.values())} resources in {time.monotonic() - started:.1f} s")

    runtime = importer.direct_runtime(deployment)
    physician = runtime.records(TenantContext(tenant, "user-physician", Role.PHYSICIAN))
    for path, summary in zip(paths, summaries, strict=True):
        bundle = json.loads(path.read_bytes())
        ids = {c["fullUrl"]: c["id"] for c in summary["created"]}
        by_type = [(e["resource"]["resourceType"], e["fullUrl"]) for e in bundle["entry"]]
        patient_id = next(ids[url] for kind, url in by_type if kind == "Patient")
        observations = {ids[url] for kind, url in by_type if kind == "Observation"}
        query = parse_search("Observation", {"patient": [patient_id], "_count": ["100"]})
        page = physician.search(query)
        assert {o["id"] for o in page.resources} == observations

    before = stored_items(clients, deployment, tenant)
    code, out, err = run_cli(deployment, state, "--tenant", tenant, *map(str, paths))
    assert code == 0, out + err
    assert f"Totals for {tenant}: created 0; existing {sum(stored.values())} " in out
    assert "resources/s" in out
    assert f"{len(paths)}/{len(paths)} files" in err  # the progress bar's last state
    assert stored_items(clients, deployment, tenant) == before


def test_every_synthea_bundle_imports_through_the_workflow(
    clients: AwsClients, deployment: Deployment, tmp_path: Path
) -> None:
    paths = sorted(SYNTHEA_DIR.glob("*.json")) if SYNTHEA_DIR.is_dir() else []
    if not paths:
        pytest.skip(f"no Synthea bundles at {SYNTHEA_DIR} (shared fixtures absent); "
                    "test_generated_chart_bundles_import_through_the_workflow runs the same checks")
    check_import(clients, deployment, "synthea-clinic", paths, tmp_path / "state")


def write_bundles(directory: Path, bundles: list[dict[str, Any]]) -> list[Path]:
    directory.mkdir()
    paths = []
    for index, bundle in enumerate(bundles):
        path = directory / f"chart-{index}.json"
        path.write_text(json.dumps(bundle))
        paths.append(path)
    return paths


def test_generated_chart_bundles_import_through_the_workflow(
    clients: AwsClients, deployment: Deployment, tmp_path: Path
) -> None:
    paths = write_bundles(tmp_path / "bundles", [demo_chart_bundle(seed) for seed in range(3)])
    check_import(clients, deployment, "generated-clinic", paths, tmp_path / "state")


def test_direct_import_stores_what_the_workflow_would_under_the_same_ids(
    clients: AwsClients, deployment: Deployment, tmp_path: Path
) -> None:
    (path,) = write_bundles(tmp_path / "bundles", [demo_chart_bundle(40)])
    code, out, err = run_cli(deployment, tmp_path / "state", "--tenant", "direct-clinic", "--direct",
                             str(path))
    assert code == 0, out + err
    assert "Totals for direct-clinic: created 6 " in out
    (again,) = import_files(clients, deployment, "direct-clinic", [path])
    assert again.summary is not None
    assert (len(again.summary["created"]), len(again.summary["existing"])) == (0, 6)


def test_a_rejected_entry_is_reported_with_its_reason_and_the_exit_code_is_1(
    clients: AwsClients, deployment: Deployment, tmp_path: Path
) -> None:
    bundle = demo_chart_bundle(41)
    visit = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    visit["resource"]["status"] = "not-a-status"
    (path,) = write_bundles(tmp_path / "bundles", [bundle])
    code, out, err = run_cli(deployment, tmp_path / "state", "--tenant", "rejecting-clinic", str(path))
    assert code == 1
    assert f"rejected entry {bundle['entry'].index(visit)} (Encounter): Encounter.status:" in out
    assert "rejected 3 (" in out  # the visit, and its Condition and Observation
    assert "0 file(s) failed and 3 entries were rejected" in err


def test_a_file_that_is_not_a_bundle_is_refused_before_anything_is_uploaded(
    deployment: Deployment, tmp_path: Path
) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"resourceType": "Patient"}')
    code, _, err = run_cli(deployment, tmp_path / "state", "--tenant", "any-clinic", str(path))
    assert code == 1
    assert "is not a FHIR Bundle with an entry list" in err
