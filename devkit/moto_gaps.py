"""Where moto 5.2.5 differs from AWS in a way Cairn's workflows hit, the smallest fix for it.

Step Functions AWS SDK integrations: AWS serializes a JSON value given for a blob parameter
(e.g. `"Body.$": "$.error"` in an S3 PutObject task) as JSON text; moto hands the object to
botocore, which fails with "'dict' object has no attribute 'tell'". The bundle-import workflow
records failures exactly that way, so without this every failed import would be lost.

tests/integration/test_emulator_capabilities.py covers it (the failed-import record).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore import xform_name
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)


@functools.cache
def _blob_members(service: str, action: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(service)
    operations = {name: model.operation_model(name) for name in model.operation_names}
    by_method = {xform_name(name): operation for name, operation in operations.items()}
    operation = by_method.get(action)
    if operation is None or operation.input_shape is None:
        return frozenset()
    members = operation.input_shape.members
    return frozenset(name for name, shape in members.items() if shape.type_name == "blob")


def json_blobs(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """`parameters` with each JSON object or array given for a blob member serialized as text."""
    blobs = _blob_members(service, action)
    return {
        name: json.dumps(value, separators=(",", ":")) if name in blobs and isinstance(value, dict | list)
        else value
        for name, value in parameters.items()
    }


@dataclass
class GapFixes:
    """The fixes in place, and how to take them out again."""

    original_eval_service_task: Callable[..., Any]

    def uninstall(self) -> None:
        """Restore moto's own methods."""
        StateTaskServiceAwsSdk._eval_service_task = self.original_eval_service_task  # type: ignore[method-assign]


def install() -> GapFixes:
    """Apply the fixes to moto in this process."""
    original = StateTaskServiceAwsSdk.__dict__["_eval_service_task"]

    def eval_service_task(self: StateTaskServiceAwsSdk, env: Any, resource_runtime_part: Any,
                          normalised_parameters: dict[str, Any], state_credentials: Any) -> Any:
        fixed = json_blobs(self._get_boto_service_name(), self._get_boto_service_action(),
                           normalised_parameters)
        return original(self, env, resource_runtime_part, fixed, state_credentials)

    StateTaskServiceAwsSdk._eval_service_task = eval_service_task  # type: ignore[method-assign]
    return GapFixes(original_eval_service_task=original)
