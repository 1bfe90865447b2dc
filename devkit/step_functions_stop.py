"""StopExecution in the embedded emulator as in AWS: a stopped execution ends ABORTED.

moto 5.2.5 stops an execution by marking its program stopped and waking its states. A state
inside a Map (reminders wait in one) then fails on the way out: the iteration reports
MapIterationAborted with the stop's error (a string) as its details, the Map state cannot read
them ("'str' object has no attribute 'get'"), and moto records that failure over the stop
(`Environment.set_error` replaces any state): the execution ends FAILED, with an error logged.
In AWS a stop is final. The patch makes `set_error` leave a stopped program stopped, and lets
the error output read details that are not a dict; everything else is moto's own code.
`uninstall` puts moto's back; tests/integration/test_emulator_capabilities.py checks the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped


def _stop_is_final(original: Callable[..., None]) -> Callable[..., None]:
    def set_error(self: Environment, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # the error is the stop itself, surfacing through the states it interrupted
        original(self, error)

    return set_error


def _readable(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def construct_error_output_value(failure_event: Any) -> Any:
        details = list(failure_event.event_details.values())
        if len(details) == 1 and not isinstance(details[0], dict):  # the stop's error string
            return {"Error": str(details[0] or ""), "Cause": ""}
        return original(failure_event)

    return construct_error_output_value


@dataclass
class Installation:
    set_error: Callable[..., None]
    error_output: Any

    def uninstall(self) -> None:
        Environment.set_error = self.set_error  # type: ignore[method-assign]
        ExecutionState._construct_error_output_value = self.error_output


def install() -> Installation:
    """Patch moto in this process; RuntimeError if the methods it wraps are gone."""
    set_error = Environment.__dict__.get("set_error")
    error_output = ExecutionState.__dict__.get("_construct_error_output_value")
    if set_error is None or not isinstance(error_output, staticmethod):
        raise RuntimeError("moto's Step Functions changed; devkit/step_functions_stop.py needs updating")
    Environment.set_error = _stop_is_final(set_error)  # type: ignore[method-assign]
    ExecutionState._construct_error_output_value = staticmethod(_readable(error_output.__func__))
    return Installation(set_error, error_output)
