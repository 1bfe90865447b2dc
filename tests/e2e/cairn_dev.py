"""Driving a `cairn dev` subprocess from the e2e tests: ports, health wait, tokens, clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

STARTUP_DEADLINE_SECONDS = 180
STOP_DEADLINE_SECONDS = 30


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cairn_command() -> list[str]:
    """The installed `cairn` console script, or the same entry point through python -m."""
    script = Path(sys.executable).with_name("cairn")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "devkit"]


@dataclass
class CairnDev:
    """A running `cairn dev`: its API URL, its state directory, and its demo users' tokens."""

    api_url: str
    state_dir: Path
    log: Path
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, tenant: str, role: str) -> str:
        """The ID token of a seeded user, from `cairn token` (cached per session)."""
        key = (tenant, role)
        if key not in self._tokens:
            result = subprocess.run(
                [*cairn_command(), "token", "--state-dir", str(self.state_dir), "--tenant", tenant,
                 "--role", role],
                capture_output=True, text=True, timeout=60, check=False,
            )
            assert result.returncode == 0, f"cairn token failed: {result.stderr}"
            self._tokens[key] = result.stdout.strip()
        return self._tokens[key]

    def auth(self, tenant: str, role: str) -> dict[str, str]:
        """The Authorization header of a seeded user."""
        return {"Authorization": f"Bearer {self.token(tenant, role)}"}

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(dev: CairnDev, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"cairn dev exited with {process.returncode}:\n{dev.log_tail()}")
        try:
            if requests.get(f"{dev.api_url}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    pytest.fail(f"cairn dev was not healthy within {STARTUP_DEADLINE_SECONDS} s:\n{dev.log_tail()}")


def stop(dev: CairnDev, process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"cairn dev ignored SIGTERM for {STOP_DEADLINE_SECONDS} s:\n{dev.log_tail()}")
    if process.returncode != 0 or (dev.state_dir / "deployment.json").exists():
        pytest.fail(f"cairn dev did not stop cleanly ({process.returncode}):\n{dev.log_tail()}")
