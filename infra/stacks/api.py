"""The API stack: the user directory, every declared function, the buckets whose objects invoke one,
and the REST APIs in front."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra import names
from infra.components.catalog import DataCatalog
from infra.components.functions import Functions
from infra.components.identity import UserDirectory
from infra.components.keys import STORAGE_ENCRYPTION_KEY
from infra.components.notifying_buckets import NotifyingBuckets
from infra.components.rest_api import ChaliceRestApi
from infra.declarations import APIS, FUNCTIONS, USER_POOLS
from infra.stage import StageConfig


class ApiStack(Stack):
    """What callers reach. Functions live here rather than beside the state machines because the
    API needs their ARNs at deploy time while workflows find them by name: the workflows stack
    depends on this one, never the other way round, and a function that starts a workflow gets
    the machine's ARN from its name (infra/components/catalog.py), not from a reference. Buckets
    whose new objects invoke a function are built here too, beside that function
    (infra/components/notifying_buckets.py says why)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        keys: Mapping[str, kms.IKey],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        log_key = keys[STORAGE_ENCRYPTION_KEY]
        self.directory = UserDirectory(self, "Users", stage=stage)
        (pool,) = USER_POOLS  # FunctionDeclaration.identity names no pool: there is exactly one
        catalog = DataCatalog(self, "Data", stage=stage, keys=keys, user_pools=self.directory.pools)
        self.functions = Functions(
            self,
            "Functions",
            stage=stage,
            catalog=catalog,
            identity_environment=self.directory.environment(pool.key),
            log_key=log_key,
        )
        self.notifying_buckets = NotifyingBuckets(
            self, "Buckets", stage=stage, keys=keys, functions=self.functions.functions
        )
        for key, bucket in self.notifying_buckets.buckets.items():
            CfnOutput(self, names.bucket_output(key), value=bucket.bucket_name)
        declared_names = {f.name for f in FUNCTIONS}
        for declared in APIS:
            if declared.function not in declared_names or (
                declared.authorizer and declared.authorizer not in declared_names
            ):
                raise ValueError(f"API {declared.app_module} names an undeclared function")
            rest_api = ChaliceRestApi(
                self,
                f"{declared.function.title().replace('-', '')}Api",
                stage=stage,
                declared=declared,
                handler=self.functions.functions[declared.function],
                authorizer_function=self.functions.functions[declared.authorizer]
                if declared.authorizer
                else None,
                log_key=log_key,
            )
            CfnOutput(self, names.api_url_output(declared.function), value=rest_api.api.url,
                      description=f"base URL of {declared.function}")
        CfnOutput(self, names.USER_POOL_ID_OUTPUT, value=self.directory.pools[pool.key].user_pool_id)
        CfnOutput(self, names.USER_POOL_CLIENT_ID_OUTPUT,
                  value=self.directory.clients[pool.key].user_pool_client_id)
