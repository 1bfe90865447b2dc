"""Builds layers/cairn/claims/data/icd10cm.txt.gz: the ICD-10-CM codes a claim may carry.

    .venv/bin/python scripts/build_icd10_lookup.py      (make runs it before `test` and `dev`)

The source is the public CMS/CDC ICD-10-CM tabular list (FY2026, April 1 2026 update) and its
code list, as the PyPI package simple-icd-10-cm ships them; the package is located, never
imported (importing it parses the whole list, ~2 s). The lookup is gzipped text in columns,
codes without the dot, each column in tabular order, so loading it is a few splits, not a loop:

    cairn-icd10cm <version> <n> <m>       a header: the list's version and the column lengths
    n lines: the billable codes (the leaves)
    n lines: their descriptions
    m lines: the categories and subcategories (not billable)
    m lines: <first> <last> <count> <description>: their first and last billable codes, how many

Codes that need a seventh character are expanded as the tabular list directs (sevenChrDef,
inherited from the nearest ancestor that defines one; X placeholders pad short codes), keeping
only those the code list confirms. Output is deterministic (gzip without a timestamp), so a
rebuild from the same list is byte-identical and only written when it changed.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "layers" / "cairn" / "claims" / "data" / "icd10cm.txt.gz"
PACKAGE = "simple_icd_10_cm"
TABULAR = "icd10c-tabular-April-1-2026.xml"
CODE_LIST = "code-list-April-2026.txt"
VERSION = "ICD-10-CM FY2026 (April 1, 2026)"
MAGIC = "cairn-icd10cm"  # cairn.claims.icd10 checks it: a file of another shape is refused


@dataclass
class Node:
    code: str  # without the dot
    description: str
    children: list[Node] = field(default_factory=list)


def source_files() -> tuple[Path, Path]:
    """The tabular XML and the code list inside the installed package (found, not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{PACKAGE} is not installed: `.venv/bin/python -m pip install -e '.[dev]'` "
            "(pyproject's dev extra pins simple-icd-10-cm==1.5.0)"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data / TABULAR, data / CODE_LIST


def confirmed_codes(code_list: Path) -> frozenset[str]:
    """Every code the CMS code list names, without dots (chapters and sections included)."""
    lines = code_list.read_text(encoding="utf-8").splitlines()
    return frozenset(line.split(" ")[0].replace(".", "") for line in lines if line.strip())


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return " ".join((found.text or "").split()) if found is not None else ""


def _seven_characters(element: ET.Element) -> dict[str, str] | None:
    definition = element.find("sevenChrDef")
    if definition is None:
        return None
    return {
        extension.attrib["char"]: " ".join((extension.text or "").split())
        for extension in definition.findall("extension")
    }


def _diag(element: ET.Element, inherited: dict[str, str] | None, confirmed: frozenset[str]) -> Node:
    code = _text(element, "name").replace(".", "")
    node = Node(code, _text(element, "desc"))
    sevens = _seven_characters(element) or inherited
    node.children = [_diag(child, sevens, confirmed) for child in element.findall("diag")]
    if not node.children and sevens:
        padded = code.ljust(6, "X")
        node.children = [
            Node(padded + char, f"{node.description}, {meaning}")
            for char, meaning in sevens.items()
            if padded + char in confirmed
        ]
    return node


def tabular_tree(tabular: Path, confirmed: frozenset[str]) -> list[Node]:
    """The 3-character categories of every chapter and section, with their descendants."""
    root = ET.parse(tabular).getroot()  # noqa: S314 - a pinned CMS file, not user input
    return [
        _diag(diag, None, confirmed)
        for chapter in root.findall("chapter")
        for section in chapter.findall("section")
        for diag in section.findall("diag")
    ]


def columns(categories: list[Node]) -> tuple[dict[str, str], dict[str, str]]:
    """Billable code -> description, and non-billable code -> "first\tlast\tcount\tdescription",
    both in tabular order."""
    billable: dict[str, str] = {}
    parents: dict[str, str] = {}

    def walk(node: Node) -> list[str]:
        if not node.children:
            billable[node.code] = node.description
            return [node.code]
        parents[node.code] = ""  # keeps tabular order: a category before its leaves
        leaves = [leaf for child in node.children for leaf in walk(child)]
        parents[node.code] = f"{leaves[0]}\t{leaves[-1]}\t{len(leaves)}\t{node.description}"
        return leaves

    for category in categories:
        walk(category)
    return billable, parents


def lookup_text(version: str, billable: dict[str, str], parents: dict[str, str]) -> str:
    header = f"{MAGIC}\t{version}\t{len(billable)}\t{len(parents)}"
    return "\n".join([header, *billable, *billable.values(), *parents, *parents.values()]) + "\n"


def gzipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(text.encode("utf-8"))
    return buffer.getvalue()


def build(target: Path = TARGET) -> tuple[int, int, bool]:
    """Writes the lookup if it changed: (billable codes, non-billable codes, written?)."""
    tabular, code_list = source_files()
    billable, parents = columns(tabular_tree(tabular, confirmed_codes(code_list)))
    body = gzipped(lookup_text(VERSION, billable, parents))
    unchanged = target.is_file() and target.read_bytes() == body
    if unchanged:
        target.touch()  # make compares times: an unchanged lookup is still up to date
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(body)
        partial.replace(target)
    return len(billable), len(parents), not unchanged


def main() -> int:
    started = time.perf_counter()
    billable, categories, written = build()
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()[:12]
    print(
        f"{'wrote' if written else 'unchanged'} {TARGET.relative_to(ROOT)}: {billable:,} billable "
        f"ICD-10-CM codes, {categories:,} categories and subcategories, "
        f"{TARGET.stat().st_size / 1024:,.0f} KiB, sha256 {digest}, in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
