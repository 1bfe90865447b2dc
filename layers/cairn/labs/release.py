"""When a patient sees their lab results, per the clinic's policy, and the act of releasing them.

A patient user reads a lab result only once it carries the release tag (multitenant.permissions
in_compartment); the record service enforces that on every read and search. A clinic chooses in
its `lab_results_release` setting when results get the tag: at once ("immediate"), when a
clinician signs the review ("after_review", the default), or a set number of hours after they
are stored ("delay:<hours>"), which gives the clinic time to call first with bad news.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cairn.fhir.references import relative_target
from cairn.records.service import RecordService
from multitenant import permissions
from multitenant.permissions import RELEASE_SYSTEM, RELEASED, Action, is_released

DIAGNOSTIC_REPORT = "DiagnosticReport"
OBSERVATION = "Observation"
RELEASED_TAG = {"system": RELEASE_SYSTEM, "code": RELEASED, "display": "Released to the patient"}
MAX_DELAY_HOURS = 720  # 30 days: a longer wait is no longer a release policy but a withholding
DELAY_PREFIX = "delay:"


class ReleaseMode(StrEnum):
    IMMEDIATE = "immediate"
    AFTER_REVIEW = "after_review"
    DELAY = "delay"


class InvalidReleasePolicy(ValueError):
    """The clinic's lab_results_release setting is not one Cairn knows."""

    def __init__(self) -> None:
        super().__init__(
            'lab_results_release must be "immediate", "after_review" or "delay:<hours>" '
            f"with hours a whole number from 1 to {MAX_DELAY_HOURS} (e.g. \"delay:72\")"
        )


@dataclass(frozen=True)
class ReleasePolicy:
    """A clinic's rule for releasing lab results to its patients."""

    mode: ReleaseMode
    delay_hours: int = 0

    @classmethod
    def parse(cls, value: object) -> ReleasePolicy:
        """The policy a `lab_results_release` setting names; InvalidReleasePolicy otherwise."""
        text = value.strip() if isinstance(value, str) else ""
        if text in (ReleaseMode.IMMEDIATE, ReleaseMode.AFTER_REVIEW):
            return cls(ReleaseMode(text))
        hours = text.removeprefix(DELAY_PREFIX)
        if text.startswith(DELAY_PREFIX) and hours.isdigit() and 1 <= int(hours) <= MAX_DELAY_HOURS:
            return cls(ReleaseMode.DELAY, int(hours))
        raise InvalidReleasePolicy

    @property
    def releases_on_review(self) -> bool:
        return self.mode is ReleaseMode.AFTER_REVIEW

    def release_at(self, stored_at: datetime) -> datetime | None:
        """When results stored at `stored_at` are released; None: when a clinician signs them."""
        if self.mode is ReleaseMode.IMMEDIATE:
            return stored_at
        if self.mode is ReleaseMode.DELAY:
            return stored_at + timedelta(hours=self.delay_hours)
        return None


def release_results(records: RecordService, report_id: str) -> list[str]:
    """Tag the DiagnosticReport and each Observation of its `result` as released; the references
    newly released (already released ones are left alone, so a repeat releases nothing). The
    observations go first: a patient never sees a released report whose results are still hidden."""
    report = records.read(DIAGNOSTIC_REPORT, report_id)
    for resource_type in (OBSERVATION, DIAGNOSTIC_REPORT):  # all or nothing: no half-released report
        permissions.require(records.context, resource_type, Action.UPDATE)
    released: list[str] = []
    for result in report.get("result") or ():
        target = relative_target(str(result.get("reference", "")))
        if target is not None and target[0] == OBSERVATION and _release(records, target[0], target[1]):
            released.append(f"{OBSERVATION}/{target[1]}")
    if _release(records, DIAGNOSTIC_REPORT, report_id):
        released.append(f"{DIAGNOSTIC_REPORT}/{report_id}")
    return released


def _release(records: RecordService, resource_type: str, resource_id: str) -> bool:
    current = records.read(resource_type, resource_id)
    if is_released(current):
        return False
    records.update(resource_type, resource_id, with_release_tag(current), if_match=_etag(current))
    return True


def with_release_tag(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of `resource` carrying the release tag once (the workflow tags results stored
    under the immediate policy before their first write)."""
    tagged = copy.deepcopy(resource)
    if is_released(tagged):
        return tagged
    meta = tagged.setdefault("meta", {})
    meta["tag"] = [*(meta.get("tag") or ()), dict(RELEASED_TAG)]
    return tagged


def _etag(resource: dict[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


__all__ = [
    "InvalidReleasePolicy", "ReleaseMode", "ReleasePolicy", "is_released", "release_results",
    "with_release_tag",
]
