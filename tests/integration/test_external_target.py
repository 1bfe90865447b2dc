"""`cairn dev` provisioning into an external emulator (LocalStack's role), played by a plain moto server.

The server runs without devkit's in-process Lambda executor, as an external emulator would: the
functions are only deployed, never imported here. What must hold for them to run in the
emulator's own Lambda containers: both layers published and attached to every function, every
environment variable the declarations promise, and a second provisioning that reuses what exists.
"""

from __future__ import annotations

import io
import json
import os
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from moto.awslambda.models import LambdaFunction
from moto.server import ThreadedMotoServer

from cairn.aws import AwsClients, AwsSettings
from devkit import emulator, lambda_executor, seed
from devkit.deployment import Deployment
from devkit.discovery import discover
from devkit.provision import ProvisionTarget, provision
from devkit.seed import TENANTS
from devkit.tokens import id_token
from infra import declarations, names
from infra.layer_contents import DEPENDENCIES_MANIFEST

STAGE = "external"  # moto's backends are per process: a stage no other test provisions


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A plain ThreadedMotoServer on a free loopback port: no Lambda patch, no executor."""
    saved_environ = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    emulator.use_local_credentials()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved_environ)


@pytest.fixture(scope="module")
def dependencies_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for build/lambda-deps: a manifest and one package (the real one is ~136 MB)."""
    directory = tmp_path_factory.mktemp("lambda-deps")
    (directory / DEPENDENCIES_MANIFEST).write_text(json.dumps({"requirements": ["example==1.0"]}))
    (directory / "example").mkdir()
    (directory / "example" / "__init__.py").write_text("VERSION = '1.0'\n")
    return directory


@pytest.fixture(scope="module")
def clients(endpoint: str) -> AwsClients:
    return AwsClients(AwsSettings(region=emulator.REGION, endpoint_url=endpoint))


@pytest.fixture(scope="module")
def target(endpoint: str, dependencies_dir: Path) -> ProvisionTarget:
    return ProvisionTarget(endpoint_url=endpoint, embedded=False, stage=STAGE,
                           dependencies_dir=dependencies_dir)


@pytest.fixture(scope="module")
def first(clients: AwsClients, target: ProvisionTarget) -> Deployment:
    return provision(clients, target)


@pytest.fixture(scope="module")
def second(clients: AwsClients, target: ProvisionTarget, first: Deployment) -> Deployment:
    """Provisioning again into the same emulator, as a second `cairn dev` would."""
    return provision(clients, target)


def _layer_arns(clients: AwsClients) -> dict[str, list[str]]:
    aws_lambda = clients.lambda_()
    layers = [layer["LayerName"] for layer in aws_lambda.list_layers()["Layers"]
              if layer["LayerName"].startswith(f"cairn-{STAGE}-")]
    return {name: [v["LayerVersionArn"]
                   for v in aws_lambda.list_layer_versions(LayerName=name)["LayerVersions"]]
            for name in layers}


def test_the_emulator_runs_without_the_in_process_lambda_executor(endpoint: str) -> None:
    assert LambdaFunction.invoke.__module__ != lambda_executor.__name__


def test_both_layers_are_published_once_and_attached_to_every_function(
    clients: AwsClients, first: Deployment
) -> None:
    layers = _layer_arns(clients)
    assert set(layers) == {f"cairn-{STAGE}-layer-core", f"cairn-{STAGE}-layer-dependencies"}
    published = {arns[0] for arns in layers.values()}
    for declared in declarations.FUNCTIONS:
        configuration = clients.lambda_().get_function_configuration(
            FunctionName=first.functions[declared.name])
        assert {layer["Arn"] for layer in configuration["Layers"]} == published, declared.name


def test_the_layers_hold_cairn_multitenant_and_the_dependencies_under_python(
    clients: AwsClients, first: Deployment
) -> None:
    s3 = clients.s3()
    bucket = f"cairn-{STAGE}-artifacts"
    contents = {}
    for item in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        contents[item["Key"].split("/")[1]] = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    core = contents[f"cairn-{STAGE}-layer-core"]
    assert {"python/cairn/__init__.py", "python/cairn/aws.py", "python/multitenant/__init__.py"} <= core
    assert not [name for name in core if "__pycache__" in name or name.endswith(".pyc")]
    assert contents[f"cairn-{STAGE}-layer-dependencies"] == {
        f"python/{DEPENDENCIES_MANIFEST}", "python/example/__init__.py"}


def test_every_function_gets_its_complete_environment(clients: AwsClients, first: Deployment) -> None:
    pool = first.user_pools["clinic"]
    for declared in declarations.FUNCTIONS:
        variables = clients.lambda_().get_function_configuration(
            FunctionName=first.functions[declared.name])["Environment"]["Variables"]
        assert variables == first.function_environments[declared.name]
        assert set(declarations.environment_names(declared)) <= set(variables)
        assert all(variables.values()), declared.name
        # The emulator tells its containers where it is; localhost would be the container itself.
        assert "AWS_ENDPOINT_URL" not in variables
        if declared.identity:
            assert variables["CAIRN_JWKS_URL"] == f"{first.endpoint_url}/{pool.id}/.well-known/jwks.json"
            # moto's discovery document names the issuer of its tokens: Cognito's form.
            assert variables["CAIRN_JWT_ISSUER"] == f"https://cognito-idp.{first.region}.amazonaws.com/{pool.id}"


def test_a_second_provisioning_reuses_every_resource(
    clients: AwsClients, first: Deployment, second: Deployment
) -> None:
    assert second.keys == first.keys
    assert second.tables == first.tables
    assert second.buckets == first.buckets
    assert second.user_pools == first.user_pools
    assert second.functions == first.functions
    assert second.state_machines == first.state_machines
    assert second.function_environments == first.function_environments
    assert all(len(arns) == 1 for arns in _layer_arns(clients).values())  # unchanged: not republished
    pools = [p for p in clients.cognito().list_user_pools(MaxResults=60)["UserPools"]
             if p["Name"] == f"cairn-{STAGE}-clinic"]
    assert len(pools) == 1
    aliases = {a["AliasName"] for a in clients.kms().list_aliases()["Aliases"]}
    assert {f"{k.alias}-{STAGE}" for k in declarations.KEYS} <= aliases


def _publish_outputs(clients: AwsClients, deployment: Deployment) -> None:
    """Stacks named as the CDK app names them, whose outputs describe `deployment` as CDK's would."""
    pool = deployment.user_pools["clinic"]
    by_unit = {
        names.DATA_STACK: {
            **{names.table_output(k): v for k, v in deployment.tables.items()},
            **{names.bucket_output(k): v for k, v in deployment.buckets.items()},
            **{names.key_output(k): v for k, v in deployment.keys.items()},
        },
        names.API_STACK: {
            names.USER_POOL_ID_OUTPUT: pool.id,
            names.USER_POOL_CLIENT_ID_OUTPUT: pool.client_id,
            names.api_url_output("fhir-api"): "https://abc123.execute-api.us-east-1.amazonaws.com/external/",
        },
        names.WORKFLOWS_STACK: {
            names.state_machine_output(k): v for k, v in deployment.state_machines.items()},
    }
    for unit, outputs in by_unit.items():
        marker = {"Type": "AWS::SSM::Parameter",
                  "Properties": {"Name": f"/cairn/{STAGE}/{unit}", "Type": "String", "Value": unit}}
        template = {"Resources": {"Marker": marker},
                    "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
        clients.client("cloudformation").create_stack(StackName=names.stack_name(STAGE, unit),
                                                      TemplateBody=json.dumps(template))


def test_a_deployed_stage_is_discovered_and_its_demo_users_get_tokens(
    clients: AwsClients, second: Deployment, endpoint: str, tmp_path: Path
) -> None:
    _publish_outputs(clients, second)
    found = discover(clients, STAGE)
    assert (found.tables, found.buckets, found.keys) == (second.tables, second.buckets, second.keys)
    assert found.state_machines == second.state_machines
    assert found.functions == second.functions
    assert found.user_pools["clinic"].issuer == second.user_pools["clinic"].issuer
    assert found.api_url == f"{endpoint}/restapis/abc123/external/_user_request_"
    for tenant in TENANTS:
        seed.create_users(clients, found, tenant.tenant_id)
    token = id_token(found, "second-clinic", "nurse", tmp_path)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["custom:tenant_id"], claims["custom:role"]) == ("second-clinic", "nurse")
