"""The ICD-10-CM lookup built from the CMS FY2026 tabular list, against real codes."""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.claims.icd10 import Icd10Codes, Icd10LookupMissing, dotted, icd10_codes, load, undotted

ROOT = Path(__file__).resolve().parents[3]


def test_the_lookup_holds_every_billable_code_of_fy2026(icd10: Icd10Codes) -> None:
    # CMS's FY2026 ICD-10-CM (April 1, 2026 update) has 74,719 valid codes.
    assert len(icd10) == 74_719
    assert icd10.version == "ICD-10-CM FY2026 (April 1, 2026)"


def test_a_billable_code_is_billable_and_described(icd10: Icd10Codes) -> None:
    assert icd10.billable("E11.9")
    assert icd10.describe("E11.9") == "Type 2 diabetes mellitus without complications"
    assert icd10.problem("E11.9") is None


def test_a_wellness_visit_code_with_a_two_digit_extension_is_billable(icd10: Icd10Codes) -> None:
    assert icd10.billable("Z00.00")
    assert (
        icd10.describe("Z00.00")
        == "Encounter for general adult medical examination without abnormal findings"
    )
    assert icd10.problem("Z00.00") is None


def test_a_category_is_not_billable_and_says_which_codes_are(icd10: Icd10Codes) -> None:
    assert not icd10.billable("E11")
    assert icd10.describe("E11") == "Type 2 diabetes mellitus"
    assert icd10.problem("E11") == (
        "E11 is a category (Type 2 diabetes mellitus), not a billable code: choose the most specific of "
        "the 87 billable codes under it, E11.00 to E11.A"
    )


def test_a_subcategory_that_needs_a_seventh_character_lists_its_extensions(icd10: Icd10Codes) -> None:
    assert icd10.problem("S72.001") == (
        "S72.001 is a subcategory (Fracture of unspecified part of neck of right femur), not a billable "
        "code: choose the most specific of the 16 billable codes under it, S72.001A to S72.001S"
    )
    assert icd10.billable("S72.001A")
    assert icd10.describe("S72.001A") == (
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    )


def test_placeholder_x_codes_from_the_seventh_character_rules_are_billable(icd10: Icd10Codes) -> None:
    # T36.0 (adverse effect of penicillins) has five characters: X pads it before the 7th.
    assert icd10.billable("T36.0X5A")
    assert not icd10.billable("T36.05A")


def test_an_invalid_code_is_not_a_code(icd10: Icd10Codes) -> None:
    assert not icd10.billable("XYZ")
    assert icd10.problem("XYZ") == (
        "XYZ is not an ICD-10-CM code: a code is a letter, a digit, a letter or digit, then up to four more "
        "after a dot (such as E11.9 or Z00.00)"
    )
    assert icd10.describe("XYZ") is None


def test_a_code_of_the_right_shape_not_in_the_list_points_at_its_category(icd10: Icd10Codes) -> None:
    assert icd10.problem("E11.7") == (
        "E11.7 is not in ICD-10-CM FY2026 (April 1, 2026): choose the most specific of the 87 billable "
        "codes under E11 (Type 2 diabetes mellitus), E11.00 to E11.A"
    )
    assert icd10.problem("E11.28") == (
        "E11.28 is not in ICD-10-CM FY2026 (April 1, 2026): choose the most specific of the 3 billable "
        "codes under E11.2 (Type 2 diabetes mellitus with kidney complications), E11.21 to E11.29"
    )


def test_a_billable_code_with_characters_added_says_the_shorter_one_is_billable(icd10: Icd10Codes) -> None:
    assert icd10.problem("I10.0") == (
        "I10.0 is not in ICD-10-CM FY2026 (April 1, 2026): I10 (Essential (primary) hypertension) is "
        "billable as it is"
    )


def test_an_unknown_category_says_to_check_the_code(icd10: Icd10Codes) -> None:
    assert icd10.problem("U99.9") == (
        "U99.9 is not in ICD-10-CM FY2026 (April 1, 2026): check the code (such as E11.9 or Z00.00)"
    )


def test_an_empty_code_says_what_to_enter(icd10: Icd10Codes) -> None:
    assert icd10.problem("  ") == "is empty: enter an ICD-10-CM code such as E11.9 or Z00.00"


@pytest.mark.parametrize("written", ["E11.9", "e11.9", " E11.9 ", "E119", "E1.19", "E11.9."])
def test_codes_are_normalized_to_the_dotted_form_fhir_writes(icd10: Icd10Codes, written: str) -> None:
    assert icd10.normalize(written) == "E11.9"
    assert icd10.billable(written)
    assert icd10.problem(written) is None


def test_the_837p_form_has_no_dot_and_a_three_character_code_no_dot_either() -> None:
    assert undotted(" z00.00 ") == "Z0000"
    assert dotted("I10") == "I10"
    assert dotted("z0000") == "Z00.00"


def test_importing_the_claims_code_does_not_read_the_lookup() -> None:
    probe = (
        "import cairn.claims.scrub, cairn.claims.building, cairn.claims.coding, cairn.claims.settings\n"
        "from cairn.claims import icd10\n"
        "assert icd10._loaded == [], 'read at import'\n"
        "codes = icd10.icd10_codes()\n"
        "assert icd10._loaded == [codes] and icd10.icd10_codes() is codes\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True)


def test_the_process_keeps_one_code_set() -> None:
    assert icd10_codes() is icd10_codes()


def test_a_missing_lookup_names_the_command_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(Icd10LookupMissing, match=r"is missing: build it with make icd10 \(\.venv/bin/python"):
        load(tmp_path / "icd10cm.txt.gz")


def test_a_file_of_another_shape_is_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "icd10cm.txt.gz"
    wrong.write_bytes(gzip.compress(b"B\tE119\tType 2 diabetes mellitus without complications\n"))
    with pytest.raises(Icd10LookupMissing, match="is not an ICD-10-CM lookup Cairn reads: rebuild it"):
        load(wrong)


def test_the_build_is_deterministic_and_idempotent(
    tmp_path: Path, icd10_lookup: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_icd10_lookup", ROOT / "scripts" / "build_icd10_lookup.py"
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_icd10_lookup", script)  # its dataclasses look themselves up
    spec.loader.exec_module(script)
    target = tmp_path / "icd10cm.txt.gz"
    assert script.build(target) == (74_719, 23_467, True)
    assert script.build(target) == (74_719, 23_467, False)
    assert target.read_bytes() == icd10_lookup.read_bytes()
    assert load(target).describe("I10") == "Essential (primary) hypertension"


def test_the_build_script_prints_what_it_wrote() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/build_icd10_lookup.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "layers/cairn/claims/data/icd10cm.txt.gz: 74,719 billable ICD-10-CM codes, 23,467 categories" in (
        result.stdout
    )
