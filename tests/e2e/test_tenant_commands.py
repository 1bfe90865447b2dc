"""`cairn tenant` against a running `cairn dev`: the demo clinics were onboarded through the
workflow, and an operator can onboard, suspend and reactivate a clinic from the command line."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import requests

from tests.e2e.cairn_dev import CairnDev, cairn_command

pytestmark = pytest.mark.e2e


def _tenant(cairn_dev: CairnDev, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cairn_command(), "tenant", "--state-dir", str(cairn_dev.state_dir), *arguments],
                          capture_output=True, text=True, timeout=120, check=False)


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    printed: dict[str, Any] = json.loads(result.stdout)
    return printed


def test_the_demo_clinics_were_onboarded_through_the_workflow(cairn_dev: CairnDev) -> None:
    listed = _tenant(cairn_dev, "list")
    shown = _json(_tenant(cairn_dev, "show", "demo-clinic"))

    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in listed.stdout.splitlines()[1:]}
    assert rows["demo-clinic"] == rows["second-clinic"] == ["active", "practice"]
    assert (shown["onboarding_request_id"], shown["admin_email"]) == (
        "seed-demo-clinic", "admin@demo-clinic.example")


def test_an_operator_onboards_suspends_and_reactivates_a_clinic(cairn_dev: CairnDev) -> None:
    created = _json(_tenant(cairn_dev, "create", "e2e-clinic", "--name", "E2E Clinic", "--tier", "enterprise",
                            "--admin-email", "admin@e2e-clinic.example"))
    suspended = _json(_tenant(cairn_dev, "suspend", "e2e-clinic", "--reason", "e2e test"))
    reactivated = _json(_tenant(cairn_dev, "reactivate", "e2e-clinic", "--reason", "e2e test done"))
    taken = _tenant(cairn_dev, "create", "e2e-clinic", "--name", "Someone Else", "--tier", "starter",
                    "--admin-email", "other@e2e-clinic.example")

    assert created["status"] == "SUCCEEDED", created
    assert suspended["status"] == "suspended"
    assert reactivated["status"] == "active"
    assert taken.returncode == 1
    assert "already taken" in taken.stderr


@pytest.mark.parametrize("role", ["admin", "physician"])
def test_clinic_users_are_refused_by_the_operator_api(cairn_dev: CairnDev, role: str) -> None:
    headers = cairn_dev.auth("demo-clinic", role)
    operator_tenants = f"{cairn_dev.api_url}/operator/tenants"
    listed = requests.get(operator_tenants, headers=headers, timeout=30)
    created = requests.post(operator_tenants, headers=headers, timeout=30, json={
        "request_id": "r1", "tenant_id": "sneaky", "name": "Sneaky", "tier": "starter",
        "admin_email": "a@sneaky.example"})

    assert (listed.status_code, created.status_code) == (403, 403)
    assert "sneaky" not in _tenant(cairn_dev, "list").stdout


def test_the_operator_api_wants_a_token(cairn_dev: CairnDev) -> None:
    assert requests.get(f"{cairn_dev.api_url}/operator/tenants", timeout=30).status_code == 401
