"""The stacks publish what `cairn seed --stage` and `cairn token --stage` discover a stage by."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import names
from infra.declarations import APIS, BUCKETS, KEYS, STATE_MACHINES, TABLES
from tests.infra.conftest import Synthesis, load_cdk_app_module

pytestmark = pytest.mark.infra


def _outputs(synthesis: Synthesis, stack: str) -> dict[str, object]:
    return {key: output["Value"] for key, output in synthesis.templates[stack].get("Outputs", {}).items()}


def test_data_stack_outputs_every_table_and_key_and_each_bucket_is_output_by_its_stack(
    synthesis: Synthesis,
) -> None:
    outputs = _outputs(synthesis, "Data")
    expected = {names.table_output(t.key) for t in TABLES}
    expected |= {names.key_output(k.key) for k in KEYS}
    assert expected <= set(outputs)
    for bucket in BUCKETS:  # discovery reads the outputs of every stack
        output = names.bucket_output(bucket.key)
        (stack,) = [s for s in synthesis.templates if output in _outputs(synthesis, s)]
        value = _outputs(synthesis, stack)[output]
        assert isinstance(value, dict)
        assert synthesis.templates[stack]["Resources"][value["Ref"]]["Type"] == "AWS::S3::Bucket"
    tenants = _logical_id(synthesis, "Data", "AWS::DynamoDB::Table", "TableName", "cairn-dev-tenants")
    assert outputs[names.table_output("tenants")] == {"Ref": tenants}


def test_api_stack_outputs_the_api_url_and_the_user_pool(synthesis: Synthesis) -> None:
    outputs = _outputs(synthesis, "Api")
    for api in APIS:
        assert names.api_url_output(api.function) in outputs
    pool_id = _only_logical_id(synthesis, "Api", "AWS::Cognito::UserPool")
    client_id = _only_logical_id(synthesis, "Api", "AWS::Cognito::UserPoolClient")
    assert outputs[names.USER_POOL_ID_OUTPUT] == {"Ref": pool_id}
    assert outputs[names.USER_POOL_CLIENT_ID_OUTPUT] == {"Ref": client_id}


def test_workflows_stack_outputs_every_state_machine_arn(synthesis: Synthesis) -> None:
    outputs = _outputs(synthesis, "Workflows")
    for machine in STATE_MACHINES:
        value = outputs[names.state_machine_output(machine.name)]
        assert isinstance(value, dict)
        assert "Ref" in value


def test_dev_stage_client_allows_admin_password_auth_alongside_srp(synthesis: Synthesis) -> None:
    (client,) = [r for _, r in synthesis.resources("AWS::Cognito::UserPoolClient").values()]
    flows = set(client["Properties"]["ExplicitAuthFlows"])
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"} <= flows
    assert "ALLOW_USER_PASSWORD_AUTH" not in flows  # never the client-side plain-password flow


def test_stack_names_follow_the_stage_convention(synthesis: Synthesis) -> None:
    stacks = {stack.node.id: stack.stack_name for stack in synthesis.app.node.children
              if hasattr(stack, "stack_name")}
    assert stacks == {"Data": names.stack_name("dev", names.DATA_STACK),
                      "Api": names.stack_name("dev", names.API_STACK),
                      "Workflows": names.stack_name("dev", names.WORKFLOWS_STACK)}


def _only_logical_id(synthesis: Synthesis, stack: str, resource_type: str) -> str:
    (logical_id,) = [lid for lid, resource in synthesis.templates[stack]["Resources"].items()
                     if resource["Type"] == resource_type]
    return logical_id


def _logical_id(synthesis: Synthesis, stack: str, resource_type: str, name_property: str, name: str) -> str:
    (logical_id,) = [lid for lid, resource in synthesis.templates[stack]["Resources"].items()
                     if resource["Type"] == resource_type
                     and resource["Properties"].get(name_property) == name]
    return logical_id


@pytest.fixture(scope="module")
def local_api_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Api stack of the `local` stage (LocalStack), synthesized with cdk.json's context."""
    cdk_app = load_cdk_app_module()
    outdir = tmp_path_factory.mktemp("cdk.out.local")
    cdk_app.build_app(outdir=str(outdir), context=cdk_app.cli_context(["-c", "stage=local"])).synth()
    template: dict[str, Any] = json.loads((outdir / "Api.template.json").read_text(encoding="utf-8"))
    return template


def test_local_stage_verifies_tokens_against_localstack_and_runs_without_waf(
    local_api_template: dict[str, Any],
) -> None:
    resources = local_api_template["Resources"].values()
    assert not [r for r in resources if r["Type"].startswith("AWS::WAFv2::")]
    (pool_id,) = [lid for lid, r in local_api_template["Resources"].items()
                  if r["Type"] == "AWS::Cognito::UserPool"]
    issuer = {"Fn::Join": ["", ["http://localhost.localstack.cloud:4566/", {"Ref": pool_id}]]}
    identity = [r["Properties"]["Environment"]["Variables"] for r in resources
                if r["Type"] == "AWS::Lambda::Function"
                and "CAIRN_JWT_ISSUER" in r["Properties"]["Environment"]["Variables"]]
    assert identity
    assert all(variables["CAIRN_JWT_ISSUER"] == issuer for variables in identity)
    assert {names.USER_POOL_ID_OUTPUT, names.api_url_output("fhir-api")} <= set(local_api_template["Outputs"])
