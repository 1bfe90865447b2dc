"""A patient's reminder channels and opt-outs, kept in the Patient resource itself (FHIR-native):

- channels are Patient.telecom: `email`, `sms`, or a `phone` whose use is `mobile` (a text
  message reaches a mobile phone); entries whose use is `old` are not used;
- the preferred channel is the telecom entry with the lowest `rank` (1 = most preferred, as
  ContactPoint.rank defines it); without any rank there is no preference;
- opt-outs are the Cairn extension https://cairn.health/fhir/StructureDefinition/reminder-opt-out
  on the Patient, repeated, each with valueCode `email`, `sms` or `all`.

Only flags leave this module for the workflow (ContactPreferences); the address itself goes to
the sender alone.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cairn.errors import CairnError
from cairn.scheduling.reminders import Channel, ContactPreferences

OPT_OUT_URL = "https://cairn.health/fhir/StructureDefinition/reminder-opt-out"
ALL = "all"
UNRANKED = 1_000_000  # ContactPoint.rank is a positive integer; no rank sorts after every rank


class PreferencesNotPossible(CairnError):
    """The preference asks for a channel the patient has no contact details for."""


@dataclass(frozen=True)
class ContactDetails:
    """How to reach one patient: the flags the workflow decides on, and the addresses."""

    preferences: ContactPreferences
    email: str | None
    sms: str | None

    def address(self, channel: Channel) -> str | None:
        """Where `channel` reaches the patient (None: it does not)."""
        return self.email if channel is Channel.EMAIL else self.sms


def _channel(point: Mapping[str, Any]) -> Channel | None:
    if point.get("use") == "old" or not isinstance(point.get("value"), str) or not point["value"].strip():
        return None
    system = point.get("system")
    if system == "email":
        return Channel.EMAIL
    if system == "sms" or (system == "phone" and point.get("use") == "mobile"):
        return Channel.SMS
    return None


def _rank(point: Mapping[str, Any]) -> int:
    rank = point.get("rank")
    return rank if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0 else UNRANKED


def _reachable(patient: Mapping[str, Any]) -> list[tuple[int, int, Channel, dict[str, Any]]]:
    """(rank, position, channel, entry) of each telecom entry a reminder can use, best first."""
    points = [p for p in patient.get("telecom") or () if isinstance(p, dict)]
    found = [
        (_rank(p), index, channel, p)
        for index, p in enumerate(points)
        if (channel := _channel(p)) is not None
    ]
    return sorted(found, key=lambda entry: entry[:2])


def opt_outs(patient: Mapping[str, Any]) -> set[str]:
    """The opt-out codes on the Patient (email, sms, all)."""
    return {
        str(e.get("valueCode"))
        for e in patient.get("extension") or ()
        if isinstance(e, dict) and e.get("url") == OPT_OUT_URL and e.get("valueCode")
    }


def contact_details(patient: Mapping[str, Any]) -> ContactDetails:
    """What the Patient says about reaching them with reminders."""
    reachable = _reachable(patient)
    first: dict[Channel, str] = {}
    for _, _, channel, point in reachable:
        first.setdefault(channel, str(point["value"]).strip())
    ranked = [channel for rank, _, channel, _ in reachable if rank < UNRANKED]
    codes = opt_outs(patient)
    preferences = ContactPreferences(
        preferred=ranked[0] if ranked else None,
        has_email=Channel.EMAIL in first,
        has_phone=Channel.SMS in first,
        opted_out=frozenset(channel for channel in Channel if channel.value in codes),
        opted_out_all=ALL in codes,
    )
    return ContactDetails(preferences, first.get(Channel.EMAIL), first.get(Channel.SMS))


def with_preferences(
    patient: Mapping[str, Any], preferred: Channel | None, opted_out: Collection[Channel], opted_out_all: bool
) -> dict[str, Any]:
    """The Patient with `preferred` ranked first among its reminder channels (the others keep
    their order behind it; no preference clears their ranks) and exactly these opt-outs."""
    changed = copy.deepcopy(dict(patient))
    reachable = _reachable(changed)
    if preferred is not None and not any(channel is preferred for _, _, channel, _ in reachable):
        what = "email address" if preferred is Channel.EMAIL else "mobile phone number"
        raise PreferencesNotPossible(
            f"the patient has no {what} on file: add one to the Patient's telecom "
            f"before preferring {preferred.value}"
        )
    ordered = sorted(reachable, key=lambda entry: (entry[2] is not preferred, entry[:2]))
    for rank, (_, _, _, point) in enumerate(ordered, start=1):
        if preferred is None:
            point.pop("rank", None)
        else:
            point["rank"] = rank
    kept = [
        e for e in changed.get("extension") or () if not (isinstance(e, dict) and e.get("url") == OPT_OUT_URL)
    ]
    codes: Sequence[str] = [ALL] if opted_out_all else sorted(channel.value for channel in opted_out)
    kept += [{"url": OPT_OUT_URL, "valueCode": code} for code in codes]
    if kept:
        changed["extension"] = kept
    else:
        changed.pop("extension", None)
    return changed


def preferences_view(details: ContactDetails) -> dict[str, Any]:
    """What GET /reminders/preferences answers: flags only, never the addresses."""
    preferences = details.preferences
    return {
        "preferred": preferences.preferred.value if preferences.preferred else None,
        "channels": {"email": preferences.has_email, "sms": preferences.has_phone},
        "optedOut": sorted(channel.value for channel in preferences.opted_out),
        "optedOutAll": preferences.opted_out_all,
    }
