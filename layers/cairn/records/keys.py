"""The clinical table's key layout, in one place. Every partition key starts with the tenant.

Item kinds (partition key -> sort key):
  "<t>#<Type>#<id>"               -> "current"                 the latest version (by_type lists it)
  "<t>#<Type>#<id>"               -> "v000000001"...           every version (vread, history)
  "<t>#idx#<Type>#<param>#<token>" -> "<order>#<id>"           token/string/reference index entry
  "<t>#date#<Type>#<param>"        -> "<start>#<id>"           date index entry, whole clinic
  "<t>#date#<Type>#<param>#<token>"-> "<start>#<id>"           date index entry, one patient's
  "<t>#idx#<Type>#patient+code#<token>" -> "<order>#<id>"       one patient's resources of a code
  "<t>#compartment#<token>"        -> "<Type>#<id>"             a patient's compartment entry
  "<t>#export#<job id>"            -> "job"                     a bulk export job
  "<t>#counters"                   -> "<Type>"                 counters (patients per tier)
  "<t>#hold#<scope>"               -> "<key>"                   a hold (a practitioner's 5 minutes)
  "<t>#working-week#<schedule id>" -> "current"                 a schedule's hours, breaks, time off
`<token>` is a blind index token (keyed HMAC), never a value; `<order>` is the start of the type's
clinical date (cairn.fhir.search.TIMELINE), so index entries list a patient's resources in time.
"""

from __future__ import annotations

CURRENT_SK = "current"
VERSION_PREFIX = "v"
NO_ORDER = "0"  # sorts before every date: resources without a clinical date come first


def resource_pk(tenant_id: str, resource_type: str, resource_id: str) -> str:
    return f"{tenant_id}#{resource_type}#{resource_id}"


def version_sk(version_id: int) -> str:
    return f"{VERSION_PREFIX}{version_id:09d}"


def index_pk(tenant_id: str, resource_type: str, parameter: str, token: str) -> str:
    return f"{tenant_id}#idx#{resource_type}#{parameter}#{token}"


def date_pk(tenant_id: str, resource_type: str, parameter: str, patient_token: str | None = None) -> str:
    base = f"{tenant_id}#date#{resource_type}#{parameter}"
    return f"{base}#{patient_token}" if patient_token else base


def compartment_pk(tenant_id: str, patient_token: str) -> str:
    """The partition listing every resource in one patient's compartment (Patient/$everything)."""
    return f"{tenant_id}#compartment#{patient_token}"


def compartment_sk(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}#{resource_id}"


def entry_sk(order: str | None, resource_id: str) -> str:
    """An index entry's sort key: its order (a date start, or none) then the resource id."""
    return f"{order or NO_ORDER}#{resource_id}"


def entry_resource_id(sk: str) -> str:
    return sk.rsplit("#", 1)[-1]


def type_key(tenant_id: str, resource_type: str) -> str:
    return f"{tenant_id}#{resource_type}"


def type_sort(last_updated: str, resource_id: str) -> str:
    return f"{last_updated}#{resource_id}"


def history_sort(last_updated: str, resource_id: str, version_id: int) -> str:
    return f"{last_updated}#{resource_id}#{version_id:09d}"


def counter_pk(tenant_id: str) -> str:
    """The tenant's counters (sort key: the counted resource type), e.g. its patients."""
    return f"{tenant_id}#counters"


def hold_pk(tenant_id: str, scope: str) -> str:
    """The partition of one scope's holds (e.g. a practitioner's booked time), keys in order."""
    return f"{tenant_id}#hold#{scope}"


def working_week_pk(tenant_id: str, schedule_id: str) -> str:
    """The item holding one Schedule's working week (cairn.scheduling.working_weeks)."""
    return f"{tenant_id}#working-week#{schedule_id}"
