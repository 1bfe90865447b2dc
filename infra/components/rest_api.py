"""A Chalice application behind an API Gateway REST API, routed from the app's own route table.

The Chalice app object is itself the Lambda handler and dispatches API Gateway proxy events by
`requestContext.resourcePath`, so the API declares one resource per path segment with the exact
Chalice path, and a proxy integration to the declared function for each method. Every method
uses the TOKEN authorizer except those on the declaration's `public_paths`, each of which needs
a reviewed reason in PUBLIC_PATH_REASONS. Chalice's own CDK construct (a SAM transform) and
packager (downloads wheels) are not used.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.components.logs import encrypted_log_group
from infra.declarations import ApiDeclaration
from infra.nag import acknowledge, acknowledge_managed_policies
from infra.stage import StageConfig
from multitenant.tiers import Tier, limits
from multitenant.usage_keys import usage_plan_name as tier_usage_plan_name

# JSON bodies on routes under this prefix are FHIR resources: API Gateway rejects anything that
# is not an object with a resourceType before it reaches (and is billed to) the function.
FHIR_PATH_PREFIX = "/fhir/"


def takes_fhir_resource(path: str, method: str) -> bool:
    """Whether a route's JSON body is a FHIR resource: a create (POST [type]), an update (PUT),
    or a batch/transaction Bundle (POST [base]). Not a JSON Patch (an array), a search form, or
    an operation's optional Parameters."""
    if not path.startswith(FHIR_PATH_PREFIX):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return method == "PUT" or (method == "POST" and last in ("R4", "{type}"))
FHIR_RESOURCE_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="FhirResource",
    type=apigw.JsonSchemaType.OBJECT,
    required=["resourceType"],
    properties={
        "resourceType": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern="^[A-Z][A-Za-z]+$")
    },
)
# A bearer JWT (three base64url parts); anything else is refused without invoking the authorizer.
TOKEN_PATTERN = r"^(Bearer )?[-0-9A-Za-z_=]+\.[-0-9A-Za-z_=]+\.[-0-9A-Za-z_=]+$"  # noqa: S105 (a pattern, not a secret)
# Access log fields: who, what route, outcome and timing; ids only, no bodies, no tokens.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "xrayTraceId": "$context.xrayTraceId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "tenantId": "$context.authorizer.tenant_id",
    "role": "$context.authorizer.role",
    "sub": "$context.authorizer.sub",
    "authorizerError": "$context.authorizer.error",
    "wafStatus": "$context.waf.status",
}
# Why each declared public path may skip the authorizer; a public path without one fails synth.
PUBLIC_PATH_REASONS = {
    "/fhir/R4/metadata": "FHIR capability discovery is public by specification (clients read "
    "GET [base]/metadata before they authenticate) and the response holds no PHI or tenant data: "
    "only the CapabilityStatement built from the code's routes and search parameters.",
    "/webhooks/stripe": "Stripe cannot present a Cognito token: it authenticates every delivery with "
    "the Stripe-Signature header (HMAC-SHA256 under the endpoint's signing secret over timestamp and raw "
    "body, 5-minute tolerance), which the function verifies before it stores or does anything; unsigned, "
    "tampered and stale requests get 400. The route takes only POST and answers no data.",
    "/billing/signup": "A clinic signing up has no account yet, so no token: the route only opens a Stripe "
    "Checkout session for the tier and seats asked (no tenant, data or user is created until Stripe "
    "confirms payment through the signed webhook), answers the session's URL, and is throttled by the "
    "stage and the WAF's per-IP rate rule.",
}
AUTHORIZED_REASON = (
    "This method uses the REST TOKEN authorizer, which verifies Cognito-issued ID tokens against the "
    "user pool's JWKS, issuer and client ids, and adds the tenant, role and user from them."
)
_PATH_PARAMETER = re.compile(r"{([^}+]+)\+?}")


@dataclass(frozen=True)
class Route:
    """One method of the Chalice app, as API Gateway needs it."""

    path: str
    method: str
    content_types: tuple[str, ...]  # the body types the Chalice route accepts


def chalice_routes(app_module: str) -> list[Route]:
    """The routes of the Chalice app object `app` in `app_module` ({path: {method: RouteEntry}})."""
    module = importlib.import_module(app_module)
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "routes"):
        raise TypeError(f"{app_module} has no Chalice app object named `app`")
    routes = [
        Route(path, method, tuple(entry.content_types or ()))
        for path, entries in sorted(app.routes.items())
        for method, entry in sorted(entries.items())
    ]
    if not routes:
        raise ValueError(f"the Chalice app in {app_module} declares no routes")
    return routes


class ChaliceRestApi(Construct):
    """The REST API of one APIS declaration: authorizer on every method but the declared public
    paths, validated requests, access and execution logs (KMS-encrypted), X-Ray, stage
    throttling, and a WAF web ACL."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        declared: ApiDeclaration,
        handler: lambda_.IFunction,
        authorizer_function: lambda_.IFunction | None,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        name = stage.resource_name(declared.function)
        metered = authorizer_function is not None and declared.tier_usage_plans
        access_logs = encrypted_log_group(self, "AccessLogs", stage=stage, key=log_key)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=name,
            description=f"Cairn {stage.name}: the {declared.function} application ({declared.app_module})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Each tenant's API key (its tier's usage plan) comes from the authorizer's
            # usageIdentifierKey, derived from the verified token, never from a client header.
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER if metered else None,
            cloud_watch_role=True,  # execution logging needs the account's API Gateway logging role
            deploy_options=apigw.StageOptions(
                stage_name=stage.name,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                logging_level=apigw.MethodLoggingLevel[stage.api_execution_log_level],
                data_trace_enabled=False,  # full request/response logging would write PHI to logs
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=stage.api_throttle_rate,
                throttling_burst_limit=stage.api_throttle_burst,
            ),
        )
        self._execution_log_group(stage, log_key)
        authorizer = self._authorizer(stage, authorizer_function)
        self._add_routes(declared, handler, authorizer, metered)
        self.usage_plans = self._usage_plans(stage, declared) if metered else {}
        if stage.waf_enabled:
            self._web_acl(stage, log_key)
        self._acknowledge(stage, authorizer is not None)

    def _execution_log_group(self, stage: StageConfig, log_key: kms.IKey) -> None:
        """Create the group API Gateway writes execution logs to, before the stage exists, so it is
        encrypted and expires like every other log group instead of defaulting to neither."""
        group = encrypted_log_group(
            self,
            "ExecutionLogs",
            stage=stage,
            key=log_key,
            name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{stage.name}",
        )
        self.api.deployment_stage.node.add_dependency(group)

    def _authorizer(
        self, stage: StageConfig, function: lambda_.IFunction | None
    ) -> apigw.TokenAuthorizer | None:
        if function is None:
            return None
        return apigw.TokenAuthorizer(
            self,
            "Authorizer",
            handler=function,
            identity_source=apigw.IdentitySource.header("Authorization"),
            validation_regex=TOKEN_PATTERN,
            results_cache_ttl=Duration.seconds(stage.authorizer_cache_seconds),
        )

    def _add_routes(
        self,
        declared: ApiDeclaration,
        handler: lambda_.IFunction,
        authorizer: apigw.TokenAuthorizer | None,
        metered: bool,
    ) -> None:
        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        validator = apigw.RequestValidator(
            self, "Validator", rest_api=self.api, validate_request_body=True, validate_request_parameters=True
        )
        resource_model = self.api.add_model(
            "FhirResource", content_type="application/json", schema=FHIR_RESOURCE_SCHEMA
        )
        routes = chalice_routes(declared.app_module)
        _check_public_paths(declared, {route.path for route in routes})
        for route in routes:
            public = authorizer is None or route.path in declared.public_paths
            resource = self.api.root.resource_for_path(route.path) if route.path != "/" else self.api.root
            parameters = {f"method.request.path.{p}": True for p in _PATH_PARAMETER.findall(route.path)}
            models = None
            if takes_fhir_resource(route.path, route.method):
                models = {kind: resource_model for kind in route.content_types if kind.endswith("json")}
            method = resource.add_method(
                route.method,
                integration,
                authorizer=None if public else authorizer,
                authorization_type=apigw.AuthorizationType.NONE if public else apigw.AuthorizationType.CUSTOM,
                api_key_required=metered and not public,  # the tenant's tier usage plan throttles it
                request_validator=validator,
                request_parameters=parameters or None,
                request_models=models or None,
            )
            if route.path in declared.public_paths:
                acknowledge(method, "AwsSolutions-APIG4", PUBLIC_PATH_REASONS[route.path])
                acknowledge(method, "AwsSolutions-COG4", PUBLIC_PATH_REASONS[route.path])
            elif not public:
                acknowledge(method, "AwsSolutions-COG4", AUTHORIZED_REASON)

    def _usage_plans(self, stage: StageConfig, declared: ApiDeclaration) -> dict[Tier, apigw.UsagePlan]:
        """One usage plan per tier on this API's stage, throttled at the tier's rate and burst
        (multitenant/tiers.py). Onboarding puts each tenant's API key in its tier's plan."""
        plans: dict[Tier, apigw.UsagePlan] = {}
        for tier in Tier:
            tier_limits = limits(tier)
            plans[tier] = self.api.add_usage_plan(
                f"{tier.value.title()}UsagePlan",
                name=usage_plan_name(stage, declared, tier),
                description=f"Cairn {stage.name} {tier.value} tier: {tier_limits.api_rate_per_second} "
                f"requests/s, burst {tier_limits.api_burst}, per tenant",
                throttle=apigw.ThrottleSettings(
                    rate_limit=tier_limits.api_rate_per_second, burst_limit=tier_limits.api_burst
                ),
                api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
            )
        return plans

    def _web_acl(self, stage: StageConfig, log_key: kms.IKey) -> None:
        def managed(priority: int, name: str, *, count: tuple[str, ...] = ()) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for rule in count
                        ]
                        or None,
                    )
                ),
                visibility_config=_visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{self.api.rest_api_name}-acl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("cairn-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerClientIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=stage.waf_rate_limit_per_5_min, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=_visibility("RatePerClientIp"),
                ),
                managed(1, "AWSManagedRulesAmazonIpReputationList"),
                # FHIR resources and Bundles are routinely larger than the 8 KB body limit of the
                # common rule set; API Gateway's own 10 MB limit and the schema check still apply.
                managed(2, "AWSManagedRulesCommonRuleSet", count=("SizeRestrictions_BODY",)),
                managed(3, "AWSManagedRulesKnownBadInputsRuleSet"),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        log_name = f"aws-waf-logs-{self.api.rest_api_name}"  # WAF requires this prefix
        log_group = encrypted_log_group(self, "WafLogs", stage=stage, key=log_key, name=log_name)
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=acl.attr_arn,
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=log_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # Bearer tokens must not be copied into WAF logs.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})
            ],
        )
        logging.node.add_dependency(log_group)

    def _acknowledge(self, stage: StageConfig, authorized: bool) -> None:
        acknowledge_managed_policies(
            self.api.node.find_child("CloudWatchRole"),
            "AmazonAPIGatewayPushToCloudWatchLogs is AWS's maintained policy for the account-level API "
            "Gateway logging role, which only writes the KMS-encrypted execution logs.",
        )
        acknowledge(
            self.api,
            "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
            "Caching is off on purpose: responses are tenant-scoped PHI and must be authorized and "
            "audited per request, so no response is stored in an API Gateway cache at all.",
        )
        acknowledge(
            self.api,
            "HIPAA.Security-APIGWSSLEnabled",
            "Backend client certificates authenticate API Gateway to HTTP backends; every integration "
            "here is a Lambda proxy integration invoked through IAM, which a certificate cannot secure.",
        )
        if not authorized:
            reason = (
                "Declared public in infra/declarations.py APIS (authorizer None): the application "
                "authenticates each request itself, e.g. by a webhook signature."
            )
            acknowledge(self.api, "AwsSolutions-APIG4", reason)
            acknowledge(self.api, "AwsSolutions-COG4", reason)
        if not stage.waf_enabled:
            acknowledge(
                self.api,
                "AwsSolutions-APIG3",
                f"Stage {stage.name} runs without WAF (cdk.json stages: waf_enabled false), e.g. on "
                "LocalStack; requests are still authorized, validated and throttled.",
            )


def usage_plan_name(stage: StageConfig, declared: ApiDeclaration, tier: Tier) -> str:
    """The name onboarding finds a tier's usage plan by: "cairn-<stage>-<function>-<tier>"
    (multitenant/usage_keys.py, shared with onboarding and the embedded runtime)."""
    return tier_usage_plan_name(stage.name, declared.function, tier)


def _check_public_paths(declared: ApiDeclaration, paths: set[str]) -> None:
    """Every declared public path is a route of the app and has a reviewed reason."""
    for path in declared.public_paths:
        if path not in paths:
            raise ValueError(f"{declared.app_module} has no route {path}, declared public in APIS")
        if path not in PUBLIC_PATH_REASONS:
            raise ValueError(f"public path {path} needs a reviewed reason in PUBLIC_PATH_REASONS")


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
