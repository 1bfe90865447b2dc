"""Lambda deployment packages: the zip of one functions/<source>/ folder, and layer zips.

Zips are byte-for-byte reproducible (sorted entries, fixed timestamps), so the same code
always has the same hash and the in-process executor reuses its unpacked copy across restarts.
What goes into a layer is infra/layer_contents.py's answer, the same one CDK bundles.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from infra.layer_contents import layer_entries, source_files

FIXED_TIMESTAMP = (2020, 1, 1, 0, 0, 0)


def function_zip(source_dir: Path) -> bytes:
    """The deployment package of `source_dir`, its files at the zip's root as Lambda expects."""
    if not source_dir.is_dir():
        raise FileNotFoundError(f"function source {source_dir} does not exist")
    return _zip((path.relative_to(source_dir).as_posix(), path) for path in source_files(source_dir))


def layer_zip(trees: Mapping[str, Path], *, bytecode: bool = False) -> bytes:
    """A layer's zip: each tree of `trees` ({name: root}) under python/<name>/ ("" under python/)."""
    return _zip(layer_entries(trees, bytecode=bytecode))


def _zip(entries: Iterable[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            # Keep the executable bit (wheels ship scripts and .so files that need it).
            entry.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()
