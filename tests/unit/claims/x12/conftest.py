"""The X12 tests read the public sample files in <repo>/../shared/fixtures/x12 where they are
(SOURCES.md there says where each came from); without them those tests skip, and the generated
files cover the same code paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[4].parent / "shared" / "fixtures" / "x12"


@pytest.fixture
def x12_sample() -> Callable[[str], str]:
    """Reads a sample file by name, or skips the test where the samples are not next to the repo."""

    def read(name: str) -> str:
        path = FIXTURES / name
        if not path.is_file():
            pytest.skip(f"the public X12 samples are not at {FIXTURES} (a checkout without ../shared)")
        return path.read_text(encoding="ascii")

    return read
