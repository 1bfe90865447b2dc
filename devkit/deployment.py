"""What `cairn dev` provisioned, written to <state dir>/deployment.json for the other tools.

`cairn token`, the e2e tests and the benchmarks read it to find the emulator, the API front,
the user pool and the resource names without provisioning anything themselves.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.declarations import PROJECT_ROOT

STATE_DIR_ENV = "CAIRN_STATE_DIR"
DEPLOYMENT_FILE = "deployment.json"


def state_dir(explicit: str | Path | None = None) -> Path:
    """Where the embedded runtime keeps its files: the flag, then $CAIRN_STATE_DIR, then .cairn/."""
    chosen = explicit or os.environ.get(STATE_DIR_ENV) or PROJECT_ROOT / ".cairn"
    return Path(chosen).resolve()


@dataclass
class UserPoolOutput:
    id: str
    arn: str
    client_id: str
    issuer: str
    jwks_url: str


@dataclass
class Deployment:
    """Names, ARNs and addresses of one provisioned embedded, emulated or deployed stack."""

    stage: str
    region: str
    account_id: str
    endpoint_url: str  # "" for a stage deployed in AWS itself (devkit/discovery.py)
    embedded: bool
    keys: dict[str, str] = field(default_factory=dict)  # declaration key -> key ARN
    tables: dict[str, str] = field(default_factory=dict)  # declaration key -> table name
    buckets: dict[str, str] = field(default_factory=dict)  # declaration key -> bucket name
    user_pools: dict[str, UserPoolOutput] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)  # function name -> ARN
    function_environments: dict[str, dict[str, str]] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # machine name -> ARN
    roles: dict[str, str] = field(default_factory=dict)  # shared role name (tenant-data) -> ARN
    api_url: str | None = None
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> role -> username
    demo_password: str | None = None
    stripe_url: str | None = None  # the local fake Stripe of `cairn dev` (devkit/stripe_fake.py)

    def environment_of(self, name: str, clients: Any) -> dict[str, str]:
        """The environment function `name` runs with: as provisioned here (`cairn dev`), or, for a
        discovered stage (LocalStack, AWS), read once from its Lambda configuration."""
        if name not in self.function_environments:
            configuration = clients.lambda_().get_function_configuration(FunctionName=self.functions[name])
            self.function_environments[name] = dict(configuration.get("Environment", {}).get("Variables", {}))
        return self.function_environments[name]

    def write(self, directory: Path) -> Path:
        """Write deployment.json into `directory` (created if needed); returns its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / DEPLOYMENT_FILE
        staging = path.with_suffix(".json.tmp")
        staging.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
        staging.replace(path)  # readers never see half a file
        return path

    @classmethod
    def read(cls, directory: Path) -> Deployment:
        """The deployment in `directory`, or FileNotFoundError saying how to create one."""
        path = directory / DEPLOYMENT_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: start the stack with `cairn dev` first")
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        pools = {key: UserPoolOutput(**value) for key, value in raw.pop("user_pools", {}).items()}
        return cls(user_pools=pools, **raw)
