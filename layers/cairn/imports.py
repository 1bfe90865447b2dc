"""Importing a FHIR Bundle (a Synthea export, a clinic's migration) into one tenant's chart.

Every entry goes through the record service, like an API write: authorized, validated,
audited, its references resolved inside the tenant. Nothing is dropped silently: each entry is
created, found already imported ("existing"), rejected with its index and reason, or counted as
skipped by resource type (types Cairn does not import: ExplanationOfBenefit, which it does not
store, and Claim, which only its claims workflow writes).

References are resolved before anything is stored:
  - an entry's fullUrl (urn:uuid:..., or an absolute URL, whose "Type/id" tail other entries may
    use too) becomes "Type/<derived id>";
  - a conditional reference ("Practitioner?identifier=system|value") names the one entry of the
    bundle that matches it, else the one resource of the tenant that matches it; none or several
    and the referring entry is rejected (a guess would put a record in the wrong chart).
Entries are stored in dependency order: the directory (Organization, Location, Practitioner,
PractitionerRole), then Patients, then the rest, each entry after the entries it refers to
(Encounter before the Observations of the visit). An entry referring to an entry that was
rejected is rejected too, saying which entry it needed.

The one change an import makes to a resource: a reference to an entry of a type Cairn does not
store (or to such a type by "Type/id" or a conditional reference) is removed when its element is
optional (the resource is still valid without it), and the removal is listed in `adjusted` with
the entry's index and the element. When the element is required, the entry is rejected instead.

Who writes: the import is Cairn's own trusted work (TenantContext.system), which acts for the
clinic as a whole (multitenant.permissions.require); every write is still validated, versioned
and audited as that system actor.

An import is idempotent, because the workflow retries it: each resource's id is derived (uuid5)
from the tenant, the bundle's key and the entry's fullUrl (or its index), so importing the same
bundle again finds its resources stored ("existing") instead of storing them twice.
"""

from __future__ import annotations

import heapq
import json
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.claims.guard import WORKFLOW_TYPES
from cairn.errors import AccessDenied, CairnError, InvalidBundle, InvalidResource, ResourceConflict
from cairn.fhir.references import RELATIVE_REFERENCE, find_references, rewrite_references
from cairn.fhir.resource_types import PATIENT, STORED_TYPES
from cairn.fhir.search import SearchQuery, parse_search
from cairn.fhir.validation import validate_resource
from cairn.records.service import RecordService
from multitenant.context import TenantContext

# Namespace of imported resource ids (uuid5); fixed forever, or replays would get new ids.
IMPORTED_ID_NAMESPACE = uuid.UUID("5f0c8e2e-3b7a-4c52-9a0e-6f1d2b8c4a17")
BUNDLE = "Bundle"
DENIED = "access-denied"
DIRECTORY_TYPES = ("Organization", "Location", "Practitioner", "PractitionerRole")
# Roles whose system services write an import, in order of preference per type.
CONFLICT_REASON = (
    "an earlier import of this bundle key stored a different resource for this entry "
    "(was the bundle replaced, or does it repeat a fullUrl?); import it under a new key"
)

# What an import stores: every stored type but those only a workflow writes (a Synthea bundle's
# Claims were never sent by this clinic: they are skipped like ExplanationOfBenefit).
IMPORTED_TYPES: tuple[str, ...] = tuple(t for t in STORED_TYPES if t not in WORKFLOW_TYPES)


@dataclass
class ImportSummary:
    """What an import did, entry by entry; `as_dict` is the workflow's output."""

    created: list[dict[str, str]] = field(default_factory=list)  # {"fullUrl", "id", "type"}
    existing: list[dict[str, str]] = field(default_factory=list)  # imported before: same shape
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index", "type", "reason"}
    skipped: Counter[str] = field(default_factory=Counter)  # resource type -> entries
    adjusted: list[dict[str, Any]] = field(default_factory=list)  # {"index", "reason"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "existing": self.existing,
            "rejected": self.rejected,
            "skipped": dict(self.skipped),
            "adjusted": self.adjusted,
            "created_by_type": _by_type(self.created),
            "existing_by_type": _by_type(self.existing),
            "rejected_by_type": _by_type(self.rejected),
        }


def _by_type(entries: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(str(entry.get("type", "unknown")) for entry in entries))


@dataclass(frozen=True)
class BundleImportRequest:
    """The workflow's input: which tenant, and the object key of the Bundle in its prefix."""

    tenant_id: str
    bundle_key: str

    @classmethod
    def from_event(cls, event: object) -> BundleImportRequest:
        if not isinstance(event, dict):
            raise InvalidBundle("the import event must be an object with tenant_id and bundle_key")
        tenant_id, bundle_key = event.get("tenant_id"), event.get("bundle_key")
        if not isinstance(tenant_id, str) or not isinstance(bundle_key, str) or not bundle_key:
            raise InvalidBundle("the import event needs tenant_id and bundle_key strings")
        return cls(tenant_id, bundle_key)


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/"


def require_tenant_key(context: TenantContext, bundle_key: str) -> None:
    """Refuse an object key outside the tenant's prefix: a workflow input is not a claim."""
    if not bundle_key.startswith(tenant_prefix(context.tenant_id)) or ".." in bundle_key.split("/"):
        raise AccessDenied(f"bundle keys of this tenant must start with {tenant_prefix(context.tenant_id)}")


def read_bundle(s3: Any, bucket: str, audit: BaseAuditTrail, bundle_key: str) -> dict[str, Any]:
    """The Bundle stored at `bundle_key` in the prefix of the audit trail's tenant, parsed;
    InvalidBundle if it is not JSON or not a Bundle with an entry list. A key outside that
    prefix is refused (AccessDenied) and audited as a denial, without the key (it may name a
    person)."""
    try:
        require_tenant_key(audit.context, bundle_key)
    except AccessDenied:
        audit.record(AuditEvent(AuditAction.EXECUTE, "import", AuditOutcome.MINOR_FAILURE, BUNDLE, None,
                                DENIED))
        raise
    body = s3.get_object(Bucket=bucket, Key=bundle_key)["Body"].read()
    try:
        bundle = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBundle(f"{bundle_key} is not JSON") from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidBundle(f"{bundle_key} is not a FHIR Bundle")
    if not isinstance(bundle.get("entry", []), list):
        raise InvalidBundle(f"{bundle_key} has an entry element that is not a list")
    return bundle


def imported_id(tenant_id: str, bundle_key: str, entry: Mapping[str, Any], index: int) -> str:
    """The id of the resource of `entry`, the same on every import of the bundle at `bundle_key`.

    FHIR requires fullUrl to be unique within a Bundle, so distinct entries get distinct ids
    (entries without one are told apart by index); the import still compares the stored
    resource on a taken id, in case a bundle breaks that rule or is replaced at the same key.
    """
    full_url = entry.get("fullUrl")
    source = f"fullUrl:{full_url}" if isinstance(full_url, str) and full_url else f"index:{index}"
    return str(uuid.uuid5(IMPORTED_ID_NAMESPACE, "\n".join((tenant_id, bundle_key, source))))


@dataclass(frozen=True)
class _Entry:
    """An entry Cairn stores: where it sits in the bundle, its resource and its target "Type/id"."""

    index: int
    full_url: str | None
    resource: dict[str, Any]
    resource_id: str

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def target(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


class _Resolution:
    """Where each reference of the bundle points: an entry to store, an entry (or type) Cairn
    does not store, or nowhere it can tell (with the reason)."""

    def __init__(self, records: RecordService, entries: list[_Entry], unstored: Mapping[str, int]) -> None:
        self._records = records
        self._entries = entries
        self.targets: dict[str, str] = {}  # reference as written -> "Type/id"
        self.unstored = dict(unstored)  # fullUrl of an entry Cairn does not store -> its index
        self.unresolved: dict[str, str] = {}  # conditional reference -> why it resolves nowhere
        self.index_of_target = {entry.target: entry.index for entry in entries}
        for entry in entries:
            if entry.full_url:
                self.targets[entry.full_url] = entry.target
                tail = _type_id_tail(entry.full_url)
                if tail is not None and tail.split("/")[0] == entry.resource_type:
                    self.targets.setdefault(tail, entry.target)

    def resolve_conditionals(self) -> None:
        for entry in self._entries:
            for found in find_references(entry.resource):
                reference = found.reference
                if "?" in reference and reference not in self.targets and reference not in self.unresolved:
                    self._resolve_conditional(reference)

    def _resolve_conditional(self, reference: str) -> None:
        resource_type, _, query = reference.partition("?")
        if resource_type not in IMPORTED_TYPES:
            return  # a type Cairn does not store: handled like a reference to a skipped entry
        try:
            search = parse_search(resource_type, parse_qs(query, keep_blank_values=True))
        except CairnError as exc:
            self.unresolved[reference] = f"its conditional reference cannot be searched: {exc}"
            return
        in_bundle = [
            entry.target for entry in self._entries
            if entry.resource_type == resource_type
            and all(criterion.matches(entry.resource) for criterion in search.criteria)
        ]
        if len(in_bundle) == 1:
            self.targets[reference] = in_bundle[0]
        elif in_bundle:
            self.unresolved[reference] = "its conditional reference matches several entries of the bundle"
        else:
            self._resolve_in_tenant(reference, replace(search, count=2))

    def _resolve_in_tenant(self, reference: str, search: SearchQuery) -> None:
        try:
            found = self._records.search(search).resources
        except CairnError as exc:
            self.unresolved[reference] = f"its conditional reference cannot be searched: {exc}"
            return
        if len(found) == 1:
            self.targets[reference] = f"{found[0]['resourceType']}/{found[0]['id']}"
        else:
            how_many = "no" if not found else "several"
            self.unresolved[reference] = (
                f"its conditional reference matches {how_many} {search.resource_type} in the bundle or "
                "the clinic; make it match exactly one, or refer to the entry's fullUrl"
            )

    def is_unstored_type(self, reference: str) -> bool:
        """Whether `reference` points at an entry, or a type, Cairn does not store."""
        if reference in self.unstored:
            return True
        if reference in self.targets or reference.startswith(("#", "urn:")):
            return False
        if "?" in reference:
            named: str | None = reference.partition("?")[0]
        else:
            match = RELATIVE_REFERENCE.fullmatch(reference)
            named = match["type"] if match else None
        return named is not None and named.isalpha() and named[:1].isupper() and named not in IMPORTED_TYPES


def import_bundle(records: RecordService, bundle: Mapping[str, Any], bundle_key: str) -> ImportSummary:
    """Import every entry of `bundle` (stored at `bundle_key`) of a type Cairn stores, in
    dependency order; count the others as skipped. Importing it again stores nothing twice."""
    require_tenant_key(records.context, bundle_key)
    summary = ImportSummary()
    entries: list[_Entry] = []
    unstored: dict[str, int] = {}
    for index, raw in enumerate(bundle.get("entry") or []):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        if not isinstance(resource, dict):
            summary.rejected.append({"index": index, "type": "unknown",
                                     "reason": "entry has no resource object"})
            continue
        full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
        resource_type = str(resource.get("resourceType", "unknown"))
        if resource_type not in IMPORTED_TYPES:
            summary.skipped[resource_type] += 1
            if full_url:
                unstored[full_url] = index
            continue
        entry_id = imported_id(records.context.tenant_id, bundle_key, raw, index)
        entries.append(_Entry(index, full_url, resource, entry_id))
    resolution = _Resolution(records, entries, unstored)
    resolution.resolve_conditionals()
    failed: dict[str, int] = {}  # "Type/id" of a rejected entry -> its index
    for entry in dependency_order(entries, resolution.targets):
        problems, resource, adjustments = _prepared(entry, resolution, failed)
        if not problems:
            problems = _stored(records, entry, resource, resolution, failed, summary)
        if problems:
            failed[entry.target] = entry.index
            summary.rejected.append({"index": entry.index, "type": entry.resource_type,
                                     "reason": "; ".join(problems)})
        else:
            summary.adjusted += [{"index": entry.index, "reason": note} for note in adjustments]
    summary.rejected.sort(key=lambda rejected: int(rejected["index"]))
    return summary


def dependency_order(entries: list[_Entry], targets: Mapping[str, str]) -> list[_Entry]:
    """`entries` with the directory first, then Patients, then the rest; each entry after the
    entries of the bundle it refers to (bundle order otherwise). Entries in a reference cycle
    keep that order among themselves."""
    by_target = {entry.target: entry for entry in entries}
    needs: dict[int, set[int]] = {}
    needed_by: dict[int, list[_Entry]] = {entry.index: [] for entry in entries}
    for entry in entries:
        needed = {
            by_target[targets[found.reference]].index
            for found in find_references(entry.resource)
            if targets.get(found.reference) in by_target
        } - {entry.index}
        needs[entry.index] = needed
        for index in needed:
            needed_by[index].append(entry)
    ready = [(_tier(entry), entry.index, entry) for entry in entries if not needs[entry.index]]
    heapq.heapify(ready)
    ordered: list[_Entry] = []
    placed: set[int] = set()
    while len(ordered) < len(entries):
        if not ready:  # a cycle: place the first remaining entry, in tier and bundle order
            entry = min((e for e in entries if e.index not in placed), key=lambda e: (_tier(e), e.index))
            needs[entry.index].clear()
            ready.append((_tier(entry), entry.index, entry))
        _, _, entry = heapq.heappop(ready)
        if entry.index in placed:
            continue
        placed.add(entry.index)
        ordered.append(entry)
        for waiting in needed_by[entry.index]:
            needs[waiting.index].discard(entry.index)
            if not needs[waiting.index] and waiting.index not in placed:
                heapq.heappush(ready, (_tier(waiting), waiting.index, waiting))
    return ordered


def _tier(entry: _Entry) -> int:
    if entry.resource_type in DIRECTORY_TYPES:
        return 0
    return 1 if entry.resource_type == PATIENT else 2


def _prepared(
    entry: _Entry, resolution: _Resolution, failed: Mapping[str, int]
) -> tuple[list[str], dict[str, Any], list[str]]:
    """(problems, the resource to store, adjustments) of `entry`: references to rejected entries
    and unresolvable conditionals are problems; references to types Cairn does not store are
    removed where the element is optional."""
    problems: list[str] = []
    unstored: set[str] = set()
    for found in find_references(entry.resource):
        target = resolution.targets.get(found.reference)
        if target is not None and target in failed:
            problems.append(f"{found.path}: refers to entry {failed[target]}, which was rejected")
        elif found.reference in resolution.unresolved:
            problems.append(f"{found.path}: {resolution.unresolved[found.reference]}")
        elif target is None and resolution.is_unstored_type(found.reference):
            unstored.add(found.reference)
    if problems or not unstored:
        return problems, entry.resource, []
    trimmed = dict(entry.resource)
    removed = list(_remove_references(trimmed, unstored, entry.resource_type))
    required = _required_missing(trimmed, entry.resource_type) - _required_missing(
        entry.resource, entry.resource_type
    )
    if required:
        return [
            f"{path}: refers to a type Cairn does not store, and {', '.join(sorted(required))} is required"
            for path in removed
        ], entry.resource, []
    return [], trimmed, [
        f"{path}: removed a reference to a type Cairn does not store (the element is optional)"
        for path in removed
    ]


def _required_missing(resource: Mapping[str, Any], resource_type: str) -> set[str]:
    """The elements validation finds missing though required."""
    try:
        validate_resource(resource, resource_type)
    except InvalidResource as exc:
        return {
            str(path) for found in exc.issues if found.get("code") == "required"
            for path in found.get("expression") or ()
        }
    return set()


def _remove_references(resource: dict[str, Any], references: set[str], path: str) -> Iterator[str]:
    """Remove, in place, each Reference whose `reference` is in `references`; yield its path.
    Lists and objects on the way are copied, so the caller's resource is left as it was."""
    for name, value in list(resource.items()):
        if name == "contained":
            continue
        here = f"{path}.{name}"
        if _is_reference_to(value, references):
            del resource[name]
            yield here
        elif isinstance(value, dict):
            copied = dict(value)
            resource[name] = copied
            yield from _remove_references(copied, references, here)
        elif isinstance(value, list):
            kept = []
            for position, item in enumerate(value):
                if _is_reference_to(item, references):
                    yield f"{here}[{position}]"
                    continue
                if isinstance(item, dict):
                    item = dict(item)
                    yield from _remove_references(item, references, f"{here}[{position}]")
                kept.append(item)
            if kept:
                resource[name] = kept
            else:
                del resource[name]


def _is_reference_to(value: object, references: set[str]) -> bool:
    return isinstance(value, dict) and value.get("reference") in references


def _stored(
    records: RecordService,
    entry: _Entry,
    resource: dict[str, Any],
    resolution: _Resolution,
    failed: Mapping[str, int],
    summary: ImportSummary,
) -> list[str]:
    """Store `resource` with its references rewritten; problems if the record service refuses it.
    References to the bundle's other entries are accepted unless that entry was rejected."""
    rewritten = rewrite_references(resource, resolution.targets)

    def brought_by_bundle(reference: str) -> bool:
        return reference in resolution.index_of_target and reference not in failed

    try:
        written = records.import_resource(rewritten, entry.resource_id, brought_by_bundle)
    except InvalidResource as exc:
        return [_issue_text(issue) for issue in exc.issues]
    except ResourceConflict:
        return [CONFLICT_REASON]
    except CairnError as exc:  # a refusal (role, tier limit): its message says what to fix, never values
        return [str(exc)]
    imported = {"fullUrl": entry.full_url or "", "id": str(written.resource["id"]),
                "type": entry.resource_type}
    (summary.created if written.created else summary.existing).append(imported)
    return []


def _issue_text(issue: Mapping[str, Any]) -> str:
    where = ", ".join(issue.get("expression") or ["Bundle.entry.resource"])
    return f"{where}: {issue.get('diagnostics', '')}"


def _type_id_tail(full_url: str) -> str | None:
    """"Type/id" at the end of an absolute fullUrl (http://host/fhir/Patient/123), else None."""
    if full_url.startswith("urn:"):
        return None
    parts = full_url.rstrip("/").split("/")
    if len(parts) < 2:
        return None
    tail = f"{parts[-2]}/{parts[-1]}"
    return tail if RELATIVE_REFERENCE.fullmatch(tail) else None
