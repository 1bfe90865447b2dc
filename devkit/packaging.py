"""Lambda deployment packages: the zip of one functions/<source>/ folder.

The zip is byte-for-byte reproducible (sorted entries, fixed timestamps), so the same code
always has the same hash and the in-process executor reuses its unpacked copy across restarts.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

FIXED_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def function_zip(source_dir: Path) -> bytes:
    """The deployment package of `source_dir`, its files at the zip's root as Lambda expects."""
    if not source_dir.is_dir():
        raise FileNotFoundError(f"function source {source_dir} does not exist")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source_dir.rglob("*")):
            relative = path.relative_to(source_dir)
            if path.is_dir() or SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc":
                continue
            entry = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_TIMESTAMP)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()
