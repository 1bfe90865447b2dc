"""Physical names and stack output keys of a stage, shared by the CDK app and devkit.

Plain strings only (no CDK, no boto3): the stacks name their resources with these functions and
`devkit.discovery` finds a deployed stage by the same names, so neither can drift from the other.
"""

from __future__ import annotations

# The CDK app's deployment units, in deployment order (app.py).
DATA_STACK = "data"
API_STACK = "api"
WORKFLOWS_STACK = "workflows"
STACK_UNITS = (DATA_STACK, API_STACK, WORKFLOWS_STACK)

# Output keys that name one thing each (there is exactly one user pool; infra/stacks/api.py).
USER_POOL_ID_OUTPUT = "UserPoolId"
USER_POOL_CLIENT_ID_OUTPUT = "UserPoolClientId"


def resource_name(stage: str, key: str) -> str:
    """`cairn-<stage>-<key>`: tables, functions, state machines, APIs."""
    return f"cairn-{stage}-{key}"


def stack_name(stage: str, unit: str) -> str:
    """The CloudFormation stack of deployment unit `unit` (data, api, workflows) in `stage`."""
    return resource_name(stage, unit)


def bucket_name(stage: str, key: str, account: str, region: str) -> str:
    """`cairn-<stage>-<key>-<account>-<region>`: bucket names are global, so they carry both."""
    return f"{resource_name(stage, key)}-{account}-{region}"


def key_alias(alias: str, stage: str) -> str:
    """A declared key alias, stage-suffixed so two stages can share an account."""
    return f"{alias}-{stage}"


def user_pool_name(name: str, stage: str) -> str:
    """The user pool of declaration name `name` (e.g. cairn-users) in `stage`."""
    return f"{name}-{stage}"


def _pascal(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace("_", "-").split("-"))


def table_output(key: str) -> str:
    """Output key of the name of declared table `key`, e.g. TableTenantsName."""
    return f"Table{_pascal(key)}Name"


def bucket_output(key: str) -> str:
    """Output key of the name of declared bucket `key`, e.g. BucketDocumentsName."""
    return f"Bucket{_pascal(key)}Name"


def key_output(key: str) -> str:
    """Output key of the ARN of declared KMS key `key`, e.g. KeyDataArn."""
    return f"Key{_pascal(key)}Arn"


def api_url_output(function: str) -> str:
    """Output key of the base URL of the API served by `function`, e.g. ApiFhirApiUrl."""
    return f"Api{_pascal(function)}Url"


def state_machine_output(name: str) -> str:
    """Output key of the ARN of declared state machine `name`, e.g. StateMachineBundleImportArn."""
    return f"StateMachine{_pascal(name)}Arn"
