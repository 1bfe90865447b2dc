"""`cairn import`: load FHIR Bundle files into one clinic, the way production imports them.

Each file is put in the tenant's documents prefix under a name derived from its content
(tenants/<tenant>/imports/<name>-<sha256 prefix>.json) and imported by the bundle-import state
machine, so importing the same file again stores nothing twice (its resources' ids derive from
that key) and a changed file is a new import. `--direct` runs the same import in this process
through the record service against the `cairn dev` emulator: no workflow, faster (benchmarks).

Progress goes to stderr as a text bar over files and entries; the report (per file: created,
existing, rejected with reasons, skipped and adjusted by type; totals; resources per second)
goes to stdout. The exit code is 1 when a file failed or an entry was rejected.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from cairn.aws import AwsClients, AwsSettings
from cairn.errors import CairnError
from cairn.imports import import_bundle
from cairn.runtime import ClinicalRuntime
from devkit.deployment import Deployment
from devkit.emulator import use_local_credentials
from devkit.seed import import_key, wait_for_execution
from multitenant.context import TenantContext

PARALLEL_EXECUTIONS = 4  # imports running at once: enough to overlap, few enough for the emulator
BAR_WIDTH = 30
ACTOR = "bundle-import"
OUTCOMES = ("created", "existing", "rejected", "skipped")


class BundleFileError(RuntimeError):
    """The files cannot be imported as given; the message says what to fix."""


@dataclass(frozen=True)
class BundleFile:
    """A Bundle file to import: where it is, its bytes, its object key and its entry count."""

    path: Path
    body: bytes
    key: str
    entries: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class FileOutcome:
    """The import of one file: the workflow's summary, or why the file failed."""

    file: BundleFile
    summary: dict[str, Any] | None = None
    failure: str | None = None

    @property
    def rejected(self) -> int:
        return len(self.summary["rejected"]) if self.summary else 0

    @property
    def stored(self) -> int:
        return len(self.summary["created"]) + len(self.summary["existing"]) if self.summary else 0


def clients_for(deployment: Deployment) -> AwsClients:
    """Clients for the `cairn dev` stack (fake credentials: an emulator never gets real ones)."""
    if deployment.endpoint_url:
        use_local_credentials(deployment.region)
    return AwsClients(AwsSettings(region=deployment.region, endpoint_url=deployment.endpoint_url or None))


def bundle_paths(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the *.json files of the directories named, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.glob("*.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise BundleFileError(f"{path} does not exist: name Bundle files or directories of them")
    if not found:
        raise BundleFileError("no *.json files in the directories named: name Bundle files or their folders")
    return found


def load(tenant_id: str, path: Path) -> BundleFile:
    """`path` read and checked to be a Bundle with an entry list; BundleFileError otherwise."""
    body = path.read_bytes()
    try:
        bundle = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleFileError(f"{path} is not JSON: export the chart as a FHIR Bundle (JSON)") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or not isinstance(
            bundle.get("entry", []), list):
        raise BundleFileError(f"{path} is not a FHIR Bundle with an entry list")
    return BundleFile(path, body, import_key(tenant_id, path.name, body), len(bundle.get("entry", [])))


class ProgressBar:
    """A one-line progress bar over files and entries, redrawn in place on a terminal."""

    def __init__(self, files: Sequence[BundleFile], stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._files_total = len(files)
        self._entries_total = sum(f.entries for f in files) or 1
        self._files = 0
        self._entries = 0
        self._stored = 0
        self._started = time.monotonic()
        self._draw()

    def advance(self, outcome: FileOutcome) -> None:
        self._files += 1
        self._entries += outcome.file.entries
        self._stored += outcome.stored
        self._draw()

    def close(self) -> None:
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self) -> None:
        done = int(BAR_WIDTH * self._entries / self._entries_total)
        rate = self._stored / max(time.monotonic() - self._started, 1e-6)
        self._stream.write(
            f"\r[{'#' * done}{'.' * (BAR_WIDTH - done)}] {self._files}/{self._files_total} files  "
            f"{self._entries}/{self._entries_total} entries  {rate:.1f} resources/s"
        )
        self._stream.flush()


def import_through_workflow(
    clients: AwsClients,
    deployment: Deployment,
    tenant_id: str,
    files: Sequence[BundleFile],
    on_done: Callable[[FileOutcome], None],
    timeout_seconds: float,
) -> list[FileOutcome]:
    """Upload each file and import it with the bundle-import state machine, a few at a time."""
    s3, sfn = clients.s3(), clients.stepfunctions()
    bucket, machine = deployment.buckets["documents"], deployment.state_machines["bundle-import"]
    deadline = time.monotonic() + timeout_seconds
    outcomes: dict[int, FileOutcome] = {}
    running: dict[int, str] = {}  # file position -> execution ARN
    waiting = list(enumerate(files))
    while waiting or running:
        while waiting and len(running) < PARALLEL_EXECUTIONS:
            position, file = waiting.pop(0)
            s3.put_object(Bucket=bucket, Key=file.key, Body=file.body, ContentType="application/fhir+json")
            digest = file.key.rsplit("-", 1)[-1].removesuffix(".json")
            execution = sfn.start_execution(
                stateMachineArn=machine, name=f"import-{digest}-{uuid.uuid4().hex[:8]}",
                input=json.dumps({"tenant_id": tenant_id, "bundle_key": file.key}))
            running[position] = execution["executionArn"]
        position = next(iter(running))
        ended = wait_for_execution(clients, running.pop(position), deadline)
        outcomes[position] = _outcome(files[position], ended, s3, bucket, tenant_id)
        on_done(outcomes[position])
    return [outcomes[position] for position in range(len(files))]


def _outcome(file: BundleFile, ended: Mapping[str, Any], s3: Any, bucket: str, tenant_id: str) -> FileOutcome:
    if ended["status"] == "SUCCEEDED":
        return FileOutcome(file, summary=json.loads(ended.get("output") or "{}"))
    reason = f"the import {str(ended['status']).lower()}"
    name = str(ended.get("executionArn", "")).rsplit(":", 1)[-1]
    try:  # the workflow keeps the reason under imports/failed/<execution name>.json
        stored = s3.get_object(Bucket=bucket, Key=f"tenants/{tenant_id}/imports/failed/{name}.json")
        error = json.loads(stored["Body"].read())
        cause = error.get("Cause", "")
        with_message = json.loads(cause) if cause.startswith("{") else {"errorMessage": cause}
        reason += f": {error.get('Error', '')} {with_message.get('errorMessage', '')}".rstrip()
    except (ClientError, ValueError, AttributeError):
        reason += f" ({ended.get('error') or 'no reason recorded'})"
    return FileOutcome(file, failure=reason)


def direct_runtime(deployment: Deployment) -> ClinicalRuntime:
    """The clinical runtime of the bundle-import function, in this process, against the
    `cairn dev` emulator (the environment provisioning gave the function)."""
    environment = deployment.function_environments.get("bundle-import")
    if not environment or not deployment.endpoint_url:
        raise BundleFileError("--direct imports into the `cairn dev` emulator only: drop it for --stage")
    return ClinicalRuntime.from_environ({**environment, "AWS_ENDPOINT_URL": deployment.endpoint_url,
                                         "AWS_REGION": deployment.region})


def import_directly(
    runtime: ClinicalRuntime, tenant_id: str, files: Sequence[BundleFile],
    on_done: Callable[[FileOutcome], None],
) -> list[FileOutcome]:
    """Import each file in this process, through the record service, under the same keys (so
    the ids, and a later workflow import of the same file, agree)."""
    caller = TenantContext.system(tenant_id, ACTOR)
    service = runtime.records(caller)
    outcomes = []
    for file in files:
        try:
            summary = import_bundle(service, json.loads(file.body), file.key)
            outcome = FileOutcome(file, summary=summary.as_dict())
        except CairnError as exc:
            outcome = FileOutcome(file, failure=f"{type(exc).__name__}: {exc}")
        on_done(outcome)
        outcomes.append(outcome)
    return outcomes


def report(tenant_id: str, outcomes: Sequence[FileOutcome], seconds: float) -> str:
    """Per file and in total: created, existing, rejected (with reasons), skipped, adjusted."""
    totals: dict[str, Counter[str]] = {name: Counter() for name in OUTCOMES}
    lines = []
    for outcome in outcomes:
        if outcome.summary is None:
            lines.append(f"{outcome.file.name}: FAILED, nothing imported: {outcome.failure}")
            continue
        summary = outcome.summary
        counts = {
            "created": Counter(summary.get("created_by_type", {})),
            "existing": Counter(summary.get("existing_by_type", {})),
            "rejected": Counter(summary.get("rejected_by_type", {})),
            "skipped": Counter(summary.get("skipped", {})),
        }
        for name, counted in counts.items():
            totals[name].update(counted)
        lines.append(f"{outcome.file.name}: " + "; ".join(_counted(n, c) for n, c in counts.items()))
        lines += [f"    rejected entry {r['index']} ({r.get('type', 'unknown')}): {r['reason']}"
                  for r in summary["rejected"]]
        lines += [f"    adjusted entry {a['index']}: {a['reason']}" for a in summary.get("adjusted", [])]
    stored = sum(outcome.stored for outcome in outcomes)
    failed = sum(1 for outcome in outcomes if outcome.summary is None)
    lines += [
        "",
        f"Totals for {tenant_id}: " + "; ".join(_counted(n, c) for n, c in totals.items()),
        f"{len(outcomes)} files ({failed} failed), {stored} resources stored or found in {seconds:.1f} s: "
        f"{stored / max(seconds, 1e-6):.1f} resources/s",
    ]
    return "\n".join(lines)


def _counted(name: str, counted: Counter[str]) -> str:
    by_type = ", ".join(f"{t} {n}" for t, n in counted.most_common())
    return f"{name} {sum(counted.values())}" + (f" ({by_type})" if by_type else "")


def verdict(outcomes: Sequence[FileOutcome]) -> str | None:
    """Why the import is not a full success (exit code 1), or None."""
    failed = sum(1 for outcome in outcomes if outcome.summary is None)
    rejected = sum(outcome.rejected for outcome in outcomes)
    if not failed and not rejected:
        return None
    return (f"{failed} file(s) failed and {rejected} entr{'y was' if rejected == 1 else 'ies were'} rejected "
            "(see above): fix them and import again; what was imported stays, nothing is stored twice")


def run_import(
    deployment: Deployment, clients: AwsClients, tenant_id: str, paths: Sequence[Path], *,
    direct: bool = False, timeout_seconds: float = 600.0,
    progress: TextIO | None = None, out: TextIO | None = None,
) -> int:
    """Import the Bundles at `paths` into `tenant_id`, with progress (default stderr) and a report
    (default stdout); the exit code."""
    progress = progress or sys.stderr
    out = out or sys.stdout
    files = [load(tenant_id, path) for path in bundle_paths(paths)]
    bar = ProgressBar(files, progress)
    started = time.monotonic()
    try:
        if direct:
            outcomes = import_directly(direct_runtime(deployment), tenant_id, files, bar.advance)
        else:
            outcomes = import_through_workflow(clients, deployment, tenant_id, files, bar.advance,
                                               timeout_seconds)
    finally:
        bar.close()
    print(report(tenant_id, outcomes, time.monotonic() - started), file=out)
    problem = verdict(outcomes)
    if problem:
        print(f"cairn import: {problem}", file=progress)
        return 1
    return 0
