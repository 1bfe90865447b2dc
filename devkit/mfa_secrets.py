"""TOTP secrets of the demo users this machine enrolled, in <state dir>/mfa-secrets.json (0600).

A deployed stage's user pool requires MFA, so `cairn token` enrols each demo user with a software
token the first time it signs one in and keeps the secret here to answer later challenges. The
file is keyed by user pool id, so LocalStack, AWS and several stages never mix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "mfa-secrets.json"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    last_step: int  # the last 30 s window a code was used in: Cognito refuses a code twice


class MfaSecrets:
    """Read and write the enrolments in one file; each write replaces the file atomically."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def get(self, pool_id: str, user: str) -> Enrolment | None:
        entry = self._read().get(pool_id, {}).get(user)
        return Enrolment(entry["secret"], int(entry["last_step"])) if entry else None

    def put(self, pool_id: str, user: str, enrolment: Enrolment) -> None:
        data = self._read()
        data.setdefault(pool_id, {})[user] = {"secret": enrolment.secret, "last_step": enrolment.last_step}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".tmp")
        # Created 0600: these secrets are a second factor, even if only for demo users.
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        staging.replace(self.path)

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        data: dict[str, dict[str, Any]] = json.loads(self.path.read_text(encoding="utf-8"))
        return data
