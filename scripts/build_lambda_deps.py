"""Builds build/lambda-deps/: the dependency layer's content, as the Lambda runtime loads it.

    .venv/bin/python scripts/build_lambda_deps.py      (make runs it; it needs PyPI, synth does not)

pip installs pyproject's runtime `dependencies` for Lambda's platform — CPython 3.11 and
manylinux2014 wheels, which the python3.11 runtime's glibc 2.26 can load — at exactly the
versions installed in .venv (its `pip freeze` is the constraint), so what is deployed is what
the tests ran. Chalice goes in without its own requirements: they serve its CLI and packager;
`chalice.app`, all a function imports, needs only the standard library.

The CDK app copies this folder into the dependency layer; `python app.py` stays offline.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import platform
import py_compile
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "build" / "lambda-deps"
MANIFEST = "cairn-manifest.json"
WITHOUT_REQUIREMENTS = frozenset({"chalice"})
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "amd64": "manylinux2014_x86_64",
             "aarch64": "manylinux2014_aarch64", "arm64": "manylinux2014_aarch64"}
PYTHON_VERSION = "3.11"


def requirements() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def frozen_versions() -> str:
    """This environment's pins (editable installs left out): the constraint for the layer."""
    result = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            check=True, capture_output=True, text=True)
    return result.stdout


def pip_install(target: Path, specs: list[str], constraints: Path, platform_tag: str, *, deps: bool) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", str(target), "--platform", platform_tag, "--implementation", "cp",
               "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--upgrade",
               "--constraint", str(constraints), *([] if deps else ["--no-deps"]), *specs]
    subprocess.run(command, check=True)


def precompile(directory: Path) -> None:
    """Bytecode that Lambda uses as is: /opt is read-only, so without it every cold start
    compiles every imported module again. Hash-based and unchecked, because the asset zip does
    not keep the source timestamps that pip's default bytecode is checked against."""
    for cache in list(directory.rglob("__pycache__")):
        shutil.rmtree(cache)
    if sys.version_info[:2] != tuple(int(part) for part in PYTHON_VERSION.split(".")):
        print(f"not precompiling: this is Python {sys.version_info[0]}.{sys.version_info[1]}, "
              f"the layer runs on {PYTHON_VERSION}", file=sys.stderr)
        return
    compileall.compile_dir(directory, quiet=1, workers=0,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def main() -> int:
    machine = platform.machine().lower()
    if machine not in PLATFORMS:
        print(f"Lambda has no architecture for machine {machine!r}", file=sys.stderr)
        return 1
    specs = requirements()
    with_deps = [s for s in specs if Requirement(s).name.lower() not in WITHOUT_REQUIREMENTS]
    alone = [s for s in specs if Requirement(s).name.lower() in WITHOUT_REQUIREMENTS]
    frozen = frozen_versions()
    manifest = {"requirements": specs, "platform": PLATFORMS[machine], "python": PYTHON_VERSION,
                "bytecode": "unchecked-hash",
                "constraints_sha256": hashlib.sha256(frozen.encode()).hexdigest()}
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch, "constraints.txt")
        constraints.write_text(frozen, encoding="utf-8")
        staging = Path(scratch, "lambda-deps")
        pip_install(staging, with_deps, constraints, PLATFORMS[machine], deps=True)
        pip_install(staging, alone, constraints, PLATFORMS[machine], deps=False)
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing runs them
        precompile(staging)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        shutil.rmtree(TARGET, ignore_errors=True)
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), TARGET)
    print(f"built {TARGET.relative_to(ROOT)} for {PLATFORMS[machine]}, CPython {PYTHON_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
