"""The clinical table's key layout, in one place. Every partition key starts with the tenant."""

from __future__ import annotations

CURRENT_SK = "current"


def resource_pk(tenant_id: str, resource_type: str, resource_id: str) -> str:
    return f"{tenant_id}#{resource_type}#{resource_id}"


def version_sk(version_id: int) -> str:
    return f"v{version_id:09d}"


def index_pk(tenant_id: str, resource_type: str, parameter: str, token: str) -> str:
    return f"{tenant_id}#idx#{resource_type}#{parameter}#{token}"


def type_key(tenant_id: str, resource_type: str) -> str:
    return f"{tenant_id}#{resource_type}"


def type_sort(last_updated: str, resource_id: str) -> str:
    return f"{last_updated}#{resource_id}"


def counter_pk(tenant_id: str) -> str:
    """The tenant's counters (sort key: the counted resource type), e.g. its patients."""
    return f"{tenant_id}#counters"
