"""cdk-nag for Cairn: the HIPAA Security and AWS Solutions packs, and acknowledgements with reasons.

cdk-nag 3 runs as a CDK policy-validation plugin (`Validations.of(app).add_plugins`); an
unacknowledged finding fails synthesis, and CDK writes every finding to
`<outdir>/validation-report.json`. Acknowledgements (`Validations.of(x).acknowledge`) are also
written into each resource's template Metadata (`cdk_nag.rules_to_suppress`) so the reasons travel
with the template to whoever audits it.

cdk-nag 3 acknowledges wildcard findings one by one (`AwsSolutions-IAM5[Resource::...]`), so
`acknowledge_grant_wildcards` reads each IAM policy the way the IAM5 rule does and acknowledges
only the wildcard shapes that CDK's grant_* methods produce for declared resources, each with
its reason; any other wildcard fails synthesis here, before it reaches a template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks
from constructs import IConstruct

WILDCARD_RULE = "AwsSolutions-IAM5"
VALIDATION_REPORT = "validation-report.json"


def apply_nag_packs(app: App) -> None:
    """Run the HIPAA Security and AWS Solutions packs over the whole app at synthesis."""
    Validations.of(app).add_plugins(
        # One pack writes the acknowledgements into template Metadata; both read them.
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
        HIPAASecurityChecks(app, verbose=True),
    )


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept finding `rule_id` on `construct` (and everything under it), for `reason`."""
    if len(reason) < 40:
        raise ValueError(f"acknowledging {rule_id} needs a reason an auditor can check, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_managed_policies(construct: IConstruct, reason: str) -> None:
    """Accept the AWS-managed policies (AwsSolutions-IAM4) on the role of a service construct that
    CDK builds with them (AWS Backup selection, ...), naming each policy in its finding id."""
    role = next(child for child in construct.node.find_all() if isinstance(child, iam.CfnRole))
    for arn in Stack.of(role).resolve(role.managed_policy_arns) or []:
        acknowledge(construct, f"AwsSolutions-IAM4[Policy::{flatten_reference(arn)}]", reason)


def flatten_reference(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag's flattenCfnReference prints it in finding ids."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten_reference(item) for item in items)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
    raise ValueError(f"cannot flatten {value!r} the way cdk-nag does")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Reasons for the wildcards that grant_* produces. Each matcher sees the finding and its statement.
_Matcher = Callable[[str, dict[str, Any]], bool]
_ACTION_REASONS: dict[str, str] = {
    "kms:GenerateDataKey*": "CDK's KMS grant for one declared key ARN: the GenerateDataKey variants "
    "DynamoDB and S3 call for SSE-KMS on that key only.",
    "kms:ReEncrypt*": "CDK's KMS grant for one declared key ARN: ReEncryptFrom/To on that key only, "
    "used by DynamoDB and S3 when rotating data keys.",
    "s3:GetObject*": "CDK's bucket grant: object reads (GetObject, versions, tags, ACL) on one declared "
    "bucket's objects only.",
    "s3:GetBucket*": "CDK's bucket grant: bucket metadata reads on one declared bucket only.",
    "s3:List*": "CDK's bucket grant: listing one declared bucket only (ListBucket, versions, uploads).",
    "s3:DeleteObject*": "CDK's read-write bucket grant on one declared bucket; object versioning keeps "
    "every deleted version recoverable.",
    "s3:Abort*": "CDK's read-write bucket grant: abort multipart uploads in one declared bucket only.",
}
_XRAY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
_LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
_SMS_ACTIONS = {"sns:Publish"}
_APIGATEWAY_PREFIX = r"arn:<AWS::Partition>:apigateway:<AWS::Region>::"
_ARN_PREFIX = r"arn:<AWS::Partition>:(?P<service>[a-z0-9-]+):<AWS::Region>:<AWS::AccountId>:"


def _resource_reason(resource: str, statement: dict[str, Any]) -> str | None:
    actions = set(_as_list(statement.get("Action", [])))
    if resource == "*" and actions <= _XRAY_ACTIONS | _LOG_DELIVERY_ACTIONS | _SMS_ACTIONS:
        # CDK merges these into one statement when a resource both traces and logs (and texts).
        reasons = [
            "Only X-Ray trace submission and CloudWatch Logs vended-log delivery (Step Functions "
            "logging), whose APIs have no resource-level permissions; both are audit controls."
        ] if actions - _SMS_ACTIONS else []
        if actions & _SMS_ACTIONS:
            reasons.append("SNS Publish for reminder text messages: an SMS to a phone number has no ARN, "
                           "and the same policy denies Publish to every topic, leaving phone numbers only.")
        return " ".join(reasons)
    if re.fullmatch(_ARN_PREFIX + r"execution:cairn-[a-z0-9-]+:\*", resource):
        return ("Stop and Describe on the executions of one declared state machine: execution names derive "
                "from what they remind of (a withdrawn appointment's, a cancelled reminder's).")
    if re.fullmatch(_ARN_PREFIX + r"table/cairn-[a-z0-9-]+/index/\*", resource):
        return "CDK's table grant covers the global indexes of one declared table, named by its model."
    if re.fullmatch(_ARN_PREFIX + r"function:cairn-[a-z0-9-]+:\*", resource):
        return "CDK's invoke grant covers the versions and aliases of one declared function."
    if re.fullmatch(_APIGATEWAY_PREFIX + r"/(usageplans/\*/keys|apikeys/\*)", resource):
        return ("Onboarding's usage-key grant: add a tenant's API key to a tier usage plan, or delete that "
                "key in compensation; plan and key ids are random, only these paths and methods allowed.")
    if resource.endswith("/*") and ("s3:GetObject*" in actions or "s3:PutObject" in actions):
        return "CDK's bucket grant covers the objects of one declared bucket (tenants under tenants/<id>/)."
    return None


def _finding_reasons(document: dict[str, Any]) -> Iterable[tuple[str, str | None]]:
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            if "*" in action:
                yield f"Action::{action}", _ACTION_REASONS.get(action)
        for raw in _as_list(statement.get("Resource", [])):
            resource = flatten_reference(raw)
            if "*" in resource:
                yield f"Resource::{resource}", _resource_reason(resource, statement)


def acknowledge_grant_wildcards(stack: Stack) -> list[str]:
    """Acknowledge the IAM5 wildcard findings of grant_* in `stack`; fail on any other wildcard.

    Returns the acknowledged finding ids, for the record.
    """
    acknowledged: list[str] = []
    for node in stack.node.find_all():
        if not isinstance(node, iam.CfnPolicy | iam.CfnManagedPolicy):
            continue
        document = stack.resolve(node.policy_document)
        for finding, reason in _finding_reasons(document):
            if reason is None:
                raise ValueError(
                    f"{node.node.path}: wildcard {finding} is not one Cairn's grants produce; narrow the "
                    "grant, or add a reviewed reason in infra/nag.py"
                )
            acknowledge(node, f"{WILDCARD_RULE}[{finding}]", reason)
            acknowledged.append(f"{node.node.path}: {finding}")
    return acknowledged
