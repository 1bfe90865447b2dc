"""Who is a platform operator: a verified member of the operators group with no tenant."""

from __future__ import annotations

import pytest

from multitenant.context import Role, TenantContext
from multitenant.operators import OPERATORS_GROUP, NotAnOperator, Operator


def test_a_member_of_the_operators_group_without_a_tenant_is_an_operator() -> None:
    operator = Operator.from_claims({"sub": "op-1", "cognito:groups": [OPERATORS_GROUP]})
    assert operator == Operator("op-1")
    assert Operator.from_authorizer(operator.as_context()) == operator


@pytest.mark.parametrize("claims", [
    {"sub": "u-1", "custom:tenant_id": "acme", "custom:role": "admin"},
    {"sub": "u-1", "custom:tenant_id": "acme", "cognito:groups": ["tenant-acme"]},
    {"sub": "u-1", "custom:tenant_id": "acme", "cognito:groups": [OPERATORS_GROUP]},  # a clinic user too
    {"cognito:groups": [OPERATORS_GROUP]},
], ids=["clinic-admin", "clinic-group", "operator-group-with-tenant", "no-subject"])
def test_anyone_else_is_not_an_operator(claims: dict[str, object]) -> None:
    with pytest.raises(NotAnOperator, match="only platform operators"):
        Operator.from_claims(claims)


@pytest.mark.parametrize("role", list(Role))
def test_a_clinic_users_authorizer_context_is_not_an_operators(role: Role) -> None:
    clinic = TenantContext(tenant_id="acme", user_id="u-1", role=role).as_claims()
    with pytest.raises(NotAnOperator):
        Operator.from_authorizer({**clinic, "tenant_status": "active", "tier": "starter"})
    with pytest.raises(NotAnOperator):
        Operator.from_authorizer({**clinic, "operator": "yes"})
