"""The e2e session: one `cairn dev` started as a subprocess on free loopback ports.

It gets its own state directory (so it never touches a developer's .cairn/), is waited for
through /health with a deadline, hands out demo users' tokens through `cairn token`, and is
stopped with SIGTERM at the end of the session whatever happened.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.cairn_dev import CairnDev, cairn_command, free_port, stop, wait_healthy


@pytest.fixture(scope="session")
def cairn_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnDev]:
    """`cairn dev` on free ports with its own state directory, stopped after the session."""
    state_dir = tmp_path_factory.mktemp("cairn-state")
    api_port, emulator_port = free_port(), free_port()
    dev = CairnDev(api_url=f"http://127.0.0.1:{api_port}", state_dir=state_dir,
                   log=state_dir / "cairn-dev.log")
    environ = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}  # always embedded
    environ["CAIRN_STATE_DIR"] = str(state_dir)
    with dev.log.open("wb") as log:
        process = subprocess.Popen(
            [*cairn_command(), "dev", "--api-port", str(api_port), "--emulator-port", str(emulator_port),
             "--state-dir", str(state_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=environ,
        )
        try:
            wait_healthy(dev, process)
            yield dev
        finally:
            stop(dev, process)
