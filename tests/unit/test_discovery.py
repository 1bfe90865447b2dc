"""Finding a CDK-deployed stage from its stack outputs, and the `--stage` commands built on it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cairn.aws import AwsSettings
from devkit import cli, discovery
from devkit.deployment import Deployment
from devkit.discovery import DiscoveryError, deployment_from_outputs, reachable_api_url, stack_outputs
from devkit.emulator import FAKE_CREDENTIALS
from infra import declarations, names

ACCOUNT = "000000000000"
REGION = "us-east-1"
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/local/"


def _outputs(stage: str = "local") -> dict[str, str]:
    """What the three stacks of `stage` output, as infra/stacks publish it."""
    outputs = {
        names.USER_POOL_ID_OUTPUT: "us-east-1_pool",
        names.USER_POOL_CLIENT_ID_OUTPUT: "client-1",
        names.api_url_output("fhir-api"): API_URL,
        names.state_machine_output("bundle-import"):
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:cairn-{stage}-bundle-import",
    }
    outputs.update({names.table_output(t.key): f"cairn-{stage}-{t.key}" for t in declarations.TABLES})
    outputs.update({names.bucket_output(b.key): f"cairn-{stage}-{b.key}-{ACCOUNT}-{REGION}"
                    for b in declarations.BUCKETS})
    outputs.update({names.key_output(k.key): f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{k.key}"
                    for k in declarations.KEYS})
    return outputs


def _deployment(outputs: dict[str, str], endpoint_url: str | None = "http://localhost.localstack.cloud:4566"):
    return deployment_from_outputs(stage="local", region=REGION, account_id=ACCOUNT,
                                   endpoint_url=endpoint_url, outputs=outputs)


def test_a_deployment_is_built_from_the_stack_outputs() -> None:
    deployment = _deployment(_outputs())
    assert deployment.tables["tenants"] == "cairn-local-tenants"
    assert deployment.buckets["documents"] == f"cairn-local-documents-{ACCOUNT}-{REGION}"
    assert deployment.keys["data"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data"
    assert deployment.state_machines["bundle-import"].endswith(":stateMachine:cairn-local-bundle-import")
    pool = deployment.user_pools["clinic"]
    assert (pool.id, pool.client_id) == ("us-east-1_pool", "client-1")
    assert deployment.functions["fhir-api"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cairn-local-fhir-api")
    assert deployment.api_url == "http://abc123.execute-api.localhost.localstack.cloud:4566/local"
    assert deployment.users["demo-clinic"]["physician"] == "physician@demo-clinic.example"
    assert deployment.demo_password is not None
    assert not deployment.embedded


def test_names_no_output_carries_come_from_the_stage_convention() -> None:
    conventional = ("Table", "Bucket", "Key", "StateMachine")
    outputs = {k: v for k, v in _outputs().items() if not k.startswith(conventional)}
    deployment = _deployment(outputs)
    assert deployment.tables == {t.key: f"cairn-local-{t.key}" for t in declarations.TABLES}
    assert deployment.buckets["documents"] == f"cairn-local-documents-{ACCOUNT}-{REGION}"
    assert deployment.keys["data"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/cairn-data-local"
    assert deployment.state_machines["bundle-import"] == (
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:cairn-local-bundle-import")


@pytest.mark.parametrize("missing", [names.USER_POOL_ID_OUTPUT, names.USER_POOL_CLIENT_ID_OUTPUT,
                                     names.api_url_output("fhir-api")])
def test_an_output_nothing_else_can_name_is_required(missing: str) -> None:
    outputs = _outputs()
    del outputs[missing]
    with pytest.raises(DiscoveryError, match=missing):
        _deployment(outputs)


def test_in_aws_the_deployment_has_no_endpoint_and_keeps_the_api_url() -> None:
    deployment = _deployment(_outputs(), endpoint_url=None)
    assert deployment.endpoint_url == ""
    assert deployment.api_url == API_URL.rstrip("/")


@pytest.mark.parametrize(("endpoint", "expected"), [
    (None, "https://abc123.execute-api.us-east-1.amazonaws.com/local"),
    ("http://localhost.localstack.cloud:4566", "http://abc123.execute-api.localhost.localstack.cloud:4566/local"),
    ("http://localhost:4566/", "http://localhost:4566/restapis/abc123/local/_user_request_"),
])
def test_the_api_url_is_rewritten_to_what_the_emulator_serves(endpoint: str | None, expected: str) -> None:
    assert reachable_api_url(API_URL, endpoint) == expected


def test_an_api_url_that_is_not_execute_api_is_kept() -> None:
    assert reachable_api_url("https://api.example.org/v1/", "http://localhost:4566") == "https://api.example.org/v1"


class FakeCloudFormation:
    """describe_stacks over a fixed listing: stack name -> (status, outputs)."""

    def __init__(self, stacks: dict[str, tuple[str, dict[str, str]]]) -> None:
        self.stacks = stacks
        self.asked: list[str] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.asked.append(StackName)
        if StackName not in self.stacks:
            raise ClientError({"Error": {"Code": "ValidationError",
                                         "Message": f"Stack with id {StackName} does not exist"}},
                              "DescribeStacks")
        status, outputs = self.stacks[StackName]
        return {"Stacks": [{"StackName": StackName, "StackStatus": status,
                            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}


class FakeSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": ACCOUNT}


class FakeClients:
    def __init__(self, cloudformation: FakeCloudFormation, endpoint_url: str | None) -> None:
        self.settings = AwsSettings(region=REGION, endpoint_url=endpoint_url)
        self._clients = {"cloudformation": cloudformation, "sts": FakeSts()}

    def client(self, service: str) -> Any:
        return self._clients[service]


def _listing(stage: str = "local", status: str = "CREATE_COMPLETE") -> dict[str, tuple[str, dict[str, str]]]:
    """The three stacks, each with its share of the outputs."""
    outputs = _outputs(stage)
    share = {
        names.DATA_STACK: {k: v for k, v in outputs.items() if k.startswith(("Table", "Bucket", "Key"))},
        names.API_STACK: {k: v for k, v in outputs.items() if k.startswith(("Api", "UserPool"))},
        names.WORKFLOWS_STACK: {k: v for k, v in outputs.items() if k.startswith("StateMachine")},
    }
    return {names.stack_name(stage, unit): (status, share[unit]) for unit in names.STACK_UNITS}


def test_discover_reads_the_outputs_of_the_three_stacks_of_the_stage() -> None:
    cloudformation = FakeCloudFormation(_listing())
    deployment = discovery.discover(FakeClients(cloudformation, None), "local")  # type: ignore[arg-type]
    assert cloudformation.asked == ["cairn-local-data", "cairn-local-api", "cairn-local-workflows"]
    assert deployment == _deployment(_outputs(), endpoint_url=None)


def test_a_stage_that_is_not_deployed_says_how_to_deploy_it() -> None:
    cloudformation = FakeCloudFormation(_listing(stage="dev"))
    with pytest.raises(DiscoveryError, match=r"cairn-local-data is not deployed at http://e:1.*deploy-localstack"):
        discovery.discover(FakeClients(cloudformation, "http://e:1"), "local")  # type: ignore[arg-type]


def test_a_stack_that_rolled_back_is_not_taken_for_deployed() -> None:
    cloudformation = FakeCloudFormation(_listing(status="UPDATE_ROLLBACK_COMPLETE"))
    with pytest.raises(DiscoveryError, match="UPDATE_ROLLBACK_COMPLETE"):
        stack_outputs(cloudformation, "cairn-local-data", None)


# ---- the --stage commands ----

def test_seed_requires_a_stage() -> None:
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["seed"])
    assert cli._parser().parse_args(["seed", "--stage", "local"]).stage == "local"


def test_token_defaults_to_the_cairn_dev_stack_and_takes_a_stage() -> None:
    assert cli._parser().parse_args(["token"]).stage is None
    args = cli._parser().parse_args(
        ["token", "--stage", "dev", "--tenant", "second-clinic", "--role", "nurse"])
    assert (args.stage, args.tenant, args.role) == ("dev", "second-clinic", "nurse")


def test_token_with_a_stage_discovers_it_instead_of_reading_deployment_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = _deployment(_outputs())
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(cli, "stage_clients", lambda *_: "clients")
    monkeypatch.setattr(cli, "discover", lambda clients, stage: calls.append(("discover", clients, stage))
                        or deployment)
    monkeypatch.setattr(cli, "id_token", lambda d, tenant, role, directory: calls.append(
        ("id_token", d, tenant, role, directory)) or "the-token")
    code = cli.main(["token", "--stage", "local", "--role", "nurse", "--state-dir", str(tmp_path)])
    assert code == 0
    assert capsys.readouterr().out.strip() == "the-token"
    assert calls == [("discover", "clients", "local"),
                     ("id_token", deployment, "demo-clinic", "nurse", tmp_path.resolve())]


def test_token_for_a_stage_that_is_not_deployed_fails_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def not_deployed(clients: Any, stage: str) -> Deployment:
        raise DiscoveryError(f"stack cairn-{stage}-data is not deployed")

    monkeypatch.setattr(cli, "stage_clients", lambda *_: "clients")
    monkeypatch.setattr(cli, "discover", not_deployed)
    assert cli.main(["token", "--stage", "local"]) == 1
    assert "cairn token: stack cairn-local-data is not deployed" in capsys.readouterr().err


def test_seed_with_a_stage_seeds_the_discovered_deployment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = _deployment(_outputs())
    seeded: list[tuple[Any, Deployment]] = []
    monkeypatch.setattr(cli, "stage_clients", lambda *_: "clients")
    monkeypatch.setattr(cli, "discover", lambda *_: deployment)
    monkeypatch.setattr(cli.seed, "seed", lambda clients, d: seeded.append((clients, d))
                        or cli.seed.SeedReport(patients={"demo-clinic": ["p1", "p2"]}))
    assert cli.main(["seed", "--stage", "local"]) == 0
    assert seeded == [("clients", deployment)]
    out = capsys.readouterr().out
    assert "demo-clinic (2 patients imported)" in out
    endpoint = "AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566"
    assert f"{endpoint} .venv/bin/cairn token --stage local" in out
    assert f"{deployment.api_url}/fhir/R4/Patient" in out


def test_seed_reports_failed_imports_with_a_nonzero_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "stage_clients", lambda *_: "clients")
    monkeypatch.setattr(cli, "discover", lambda *_: _deployment(_outputs()))
    failed = cli.seed.SeedReport(failures=["demo-clinic/x: FAILED"])
    monkeypatch.setattr(cli.seed, "seed", lambda *_: failed)
    assert cli.main(["seed", "--stage", "local"]) == 1


def test_stage_clients_use_fake_credentials_only_for_an_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*FAKE_CREDENTIALS, "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)  # restored afterwards, whatever the test sets
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-REAL")
    clients = discovery.stage_clients({"AWS_REGION": "eu-west-1"})
    assert clients.settings == AwsSettings(region="eu-west-1", endpoint_url=None)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIA-REAL"
    clients = discovery.stage_clients({"AWS_ENDPOINT_URL": "http://localhost.localstack.cloud:4566",
                                       "AWS_REGION": "eu-west-1"})
    assert clients.settings.endpoint_url == "http://localhost.localstack.cloud:4566"
    assert os.environ["AWS_ACCESS_KEY_ID"] != "AKIA-REAL"
    assert os.environ["AWS_REGION"] == "eu-west-1"
