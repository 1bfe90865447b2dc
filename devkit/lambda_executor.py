"""Run moto's Lambda functions in-process: the real Python handler, not Docker, not an echo.

moto 5.2.5 runs a function in `LambdaFunction.invoke` (via `_invoke_lambda`, which needs
Docker). `install()` replaces that one method, so direct Invoke calls and Step Functions
`lambda:invoke` tasks (which call back into the emulator's Invoke API) run the function's own
code: the uploaded zip is unpacked once per code hash, the handler module is imported under a
unique name, and it is called with the event and a Lambda-like context while the function's
Environment is applied to `os.environ`.

The emulator must run in this process (ThreadedMotoServer or `mock_aws`) for the patch to apply.
tests/integration/test_emulator_capabilities.py fails loudly if a moto upgrade moves the seam.
"""

from __future__ import annotations

import base64
import decimal
import hashlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda.models import LambdaFunction

Handler = Callable[[Any, Any], Any]

# One lock for every environment switch: os.environ is process-wide, so two functions (or a
# function and a route-table import) must never see each other's variables. Invocations are
# therefore serialized, which is fine for one developer's laptop.
ENVIRONMENT_LOCK = threading.RLock()


class EnvironmentBusy(TimeoutError):
    """Another invocation kept the process environment for longer than this one may wait."""


@contextmanager
def function_environment(variables: Mapping[str, str], wait_seconds: float = -1) -> Iterator[None]:
    """Apply `variables` to os.environ for the duration of the block, then restore it.

    With `wait_seconds` >= 0, raise EnvironmentBusy rather than wait longer: a function that
    synchronously invokes another function would otherwise wait for itself forever.
    """
    if not ENVIRONMENT_LOCK.acquire(timeout=wait_seconds):
        raise EnvironmentBusy("another function invocation is running in this process; in-process "
                              "Lambda runs one invocation at a time (a synchronous Lambda-to-Lambda "
                              "invoke cannot complete here)")
    try:
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update({name: str(value) for name, value in variables.items()})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    finally:
        ENVIRONMENT_LOCK.release()


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int = field(repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (not enforced in-process)."""
        return max(0, self.deadline_ms - int(time.time() * 1000))


class HandlerCache:
    """Unpacked code and imported handlers, keyed by function name and code hash."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._lock = threading.Lock()

    def handler_for(self, fn: LambdaFunction) -> Handler:
        """The handler callable of `fn`, importing it (cold start) on first use."""
        code_hash = hashlib.sha256(fn.code_bytes).hexdigest()
        key = (fn.function_name, code_hash)
        with self._lock:
            cached = self._handlers.get(key)
            if cached is None:
                cached = self._cold_start(fn, code_hash)
                self._handlers[key] = cached
            return cached

    def _cold_start(self, fn: LambdaFunction, code_hash: str) -> Handler:
        code_dir = self._unpack(fn, code_hash)
        module_path, _, attribute = str(fn.handler).rpartition(".")
        source = code_dir / (module_path.replace(".", "/") + ".py")
        if not source.is_file():
            raise ImportError(f"Unable to import module '{module_path}': no {source.name} in the code")
        unique_name = f"_cairn_lambda_{fn.function_name.replace('-', '_')}_{code_hash[:12]}"
        # Handlers read their settings at import time, so the cold start sees the environment.
        with function_environment(fn.environment_vars, wait_seconds=float(fn.timeout)):
            module = _import_isolated(unique_name, source, code_dir)
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise AttributeError(f"Handler '{attribute}' missing on module '{module_path}'")
        return handler  # type: ignore[no-any-return]

    def _unpack(self, fn: LambdaFunction, code_hash: str) -> Path:
        target = self._cache_dir / code_hash
        if not target.is_dir():
            staging = self._cache_dir / f".{code_hash}.{uuid.uuid4().hex}"
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        return target


def _import_isolated(unique_name: str, source: Path, code_dir: Path) -> ModuleType:
    """Import `source` as `unique_name`, with its folder first on sys.path as in Lambda.

    Sibling modules it imports are taken out of sys.modules afterwards (the handler keeps its
    references), so two functions that both ship e.g. `models.py` cannot see each other's.
    """
    spec = importlib.util.spec_from_file_location(unique_name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.path.insert(0, str(code_dir))
    sys.modules[unique_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique_name, None)
        raise
    finally:
        sys.path.remove(str(code_dir))
        for name in set(sys.modules) - before - {unique_name}:
            loaded_from = getattr(sys.modules[name], "__file__", None) or ""
            if loaded_from.startswith(str(code_dir)):
                del sys.modules[name]
    return module


def _json_default(value: Any) -> Any:
    # The Python runtime marshals Decimal (what DynamoDB deserializers return) as a number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def error_payload(exc: BaseException) -> bytes:
    """An unhandled exception, shaped as the Python runtime reports it."""
    # The executor's own frames are not the function's; Lambda's trace starts in the handler.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    stack = traceback.format_list(frames)
    body = {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": stack}
    return json.dumps(body).encode("utf-8")


class InProcessExecutor:
    """Calls a moto LambdaFunction's real handler and returns what Lambda's Invoke returns."""

    def __init__(self, cache: HandlerCache) -> None:
        self._cache = cache

    def run(self, fn: LambdaFunction, event: Any) -> tuple[bytes, str | None]:
        """The response payload and the function error ("Unhandled") if the handler raised."""
        context = LambdaContext(
            function_name=fn.function_name,
            function_version=str(fn.version),
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=fn.logs_group_name,
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[{fn.version}]{uuid.uuid4().hex}",
            deadline_ms=int(time.time() * 1000) + int(fn.timeout) * 1000,
        )
        try:
            handler = self._cache.handler_for(fn)
            with function_environment(fn.environment_vars, wait_seconds=float(fn.timeout)):
                result = handler(event, context)
        except Exception as exc:  # every handler failure is the function's error, as in Lambda
            traceback.print_exc()
            return error_payload(exc), "Unhandled"
        try:
            return json.dumps(result, default=_json_default).encode("utf-8"), None
        except (TypeError, ValueError) as exc:
            marshal = {"errorMessage": f"Unable to marshal response: {exc}",
                       "errorType": "Runtime.MarshalError", "stackTrace": []}
            return json.dumps(marshal).encode("utf-8"), "Unhandled"


def _notified_by_s3(event: object) -> bool:
    """Whether `event` is an S3 event notification. S3 invokes its notification functions
    asynchronously in AWS, while moto invokes them inside the PutObject request: run here in the
    request's thread, a function that puts into a notifying bucket (the claims API handing a file
    into the clearinghouse inbox) would wait for its own invocation to end."""
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(
        isinstance(record, dict) and record.get("eventSource") == "aws:s3" for record in records
    )


def _patched_invoke(executor: InProcessExecutor) -> Callable[..., bytes]:
    def invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> bytes:
        event = json.loads(body) if body else {}
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event" or _notified_by_s3(event):
            threading.Thread(target=executor.run, args=(self, event), daemon=True).start()
            return b""
        payload, function_error = executor.run(self, event)
        if function_error:
            response_headers["x-amz-function-error"] = function_error
        response_headers["x-amz-log-result"] = base64.b64encode(b"").decode()
        return payload

    return invoke


@dataclass
class Installation:
    """The patch in place: its executor, and how to take it out again."""

    executor: InProcessExecutor
    original: Callable[..., Any]

    def uninstall(self) -> None:
        """Put moto's own LambdaFunction.invoke back."""
        LambdaFunction.invoke = self.original  # type: ignore[method-assign]


def install(cache_dir: Path) -> Installation:
    """Patch moto so every Lambda invoke in this process runs the function's real handler.

    Raises RuntimeError if moto no longer has the method this patch replaces.
    """
    original = LambdaFunction.__dict__.get("invoke")
    if original is None or "response_headers" not in original.__code__.co_varnames:
        raise RuntimeError("moto's LambdaFunction.invoke changed; devkit/lambda_executor.py needs updating")
    cache_dir.mkdir(parents=True, exist_ok=True)
    executor = InProcessExecutor(HandlerCache(cache_dir))
    LambdaFunction.invoke = _patched_invoke(executor)  # type: ignore[method-assign]
    return Installation(executor=executor, original=original)


@contextmanager
def installed(cache_dir: Path) -> Iterator[InProcessExecutor]:
    """The patch for the duration of a block (tests)."""
    installation = install(cache_dir)
    try:
        yield installation.executor
    finally:
        installation.uninstall()
