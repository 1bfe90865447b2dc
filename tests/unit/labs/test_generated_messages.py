"""Cairn's generated lab messages: deterministic from a seed, read back by the codec to the values
they were made with, for every panel, outcome and version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cairn.labs.framing import normalize, read_header, split_batch
from cairn.labs.model import MalformedMessage, PatientIdentifier, PatientIdentity, Severity
from cairn.labs.results import read_results
from devkit.lab_messages import (
    PANELS,
    Outcome,
    batch_file,
    panel_results,
    result_message,
    truncated,
    with_separators,
    without_segment,
)

PATIENT = PatientIdentity(
    (PatientIdentifier("GEN-1001", "FAIRVIEW", "MR"), PatientIdentifier("55", "ACME", "PI")),
    "Generated", ("Robin",), "1990-12-24", "male")
COLLECTED = datetime(2024, 6, 7, 8, 9, 10, tzinfo=UTC)
SEVERITIES = {Outcome.NORMAL: Severity.NORMAL, Outcome.ABNORMAL: Severity.ABNORMAL,
              Outcome.CRITICAL: Severity.CRITICAL}


def message(panel: str, outcome: Outcome, version: str, seed: int = 11) -> str:
    return result_message(patient=PATIENT, control_id=f"{panel}-{outcome}", placer="PL-1", filler="FI-1",
                          tests=panel_results(PANELS[panel], seed=seed, outcome=outcome), version=version,
                          collected=COLLECTED, panel=PANELS[panel])


@pytest.mark.parametrize("version", ["2.3", "2.5.1"])
@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("panel", sorted(PANELS))
def test_generated_results_read_back_to_the_values_they_were_made_with(panel: str, outcome: Outcome,
                                                                       version: str) -> None:
    tests = panel_results(PANELS[panel], seed=11, outcome=outcome)
    result = read_results(message(panel, outcome, version))
    assert result.warnings == ()
    assert result.patient == PATIENT
    assert read_header(message(panel, outcome, version)).version == version
    (group,) = result.groups
    assert (group.order.placer, group.order.filler) == ("PL-1", "FI-1")
    assert group.report["code"]["coding"][0] == {"system": "http://loinc.org", "code": PANELS[panel].loinc,
                                                 "display": PANELS[panel].name}
    assert group.severity is SEVERITIES[outcome]
    assert len(group.observations) == len(tests)
    for test, observation in zip(tests, group.observations, strict=True):
        assert observation["code"]["coding"][0]["code"] == test.loinc
        assert observation["valueQuantity"]["value"] == float(test.value)
        assert observation["valueQuantity"]["code"] == test.unit
        assert observation["interpretation"][0]["coding"][0]["code"] == test.flag
        assert observation["referenceRange"][0]["text"] == test.reference_range
        assert observation["effectiveDateTime"] == "2024-06-07T08:09:10+00:00"


@pytest.mark.parametrize("outcome", list(Outcome))
def test_values_sit_where_their_flags_say(outcome: Outcome) -> None:
    for seed in range(20):
        for panel in PANELS.values():
            for made, test in zip(panel_results(panel, seed=seed, outcome=outcome), panel.tests, strict=True):
                value = float(made.value)
                inside = (test.low is None or value >= test.low) and (test.high is None or value <= test.high)
                assert inside == (made.flag == "N")
                if made.flag in ("H", "L"):
                    assert not (test.critical_high and value >= test.critical_high)
                    assert not (test.critical_low and value <= test.critical_low)


def test_the_same_seed_gives_the_same_message_and_another_seed_another() -> None:
    first = message("cbc", Outcome.ABNORMAL, "2.5.1", seed=5)
    assert message("cbc", Outcome.ABNORMAL, "2.5.1", seed=5) == first
    assert message("cbc", Outcome.ABNORMAL, "2.5.1", seed=6) != first


def test_exactly_one_result_is_out_of_range_when_abnormal_or_critical() -> None:
    assert [t.flag for t in panel_results(PANELS["bmp"], seed=2)].count("N") == len(PANELS["bmp"].tests)
    assert sum(t.flag != "N" for t in panel_results(PANELS["bmp"], seed=2, outcome=Outcome.ABNORMAL)) == 1
    critical = panel_results(PANELS["bmp"], seed=2, outcome=Outcome.CRITICAL)
    assert [t.flag for t in critical if t.flag != "N"] in (["HH"], ["LL"])


def test_a_batch_file_of_generated_messages_splits_back_into_them() -> None:
    messages = [message(panel, Outcome.NORMAL, "2.5.1") for panel in sorted(PANELS)]
    batch = batch_file(messages)
    assert (batch[:4], batch[-5:]) == ("FHS|", "FTS|1")
    split = split_batch(normalize(batch.replace("\r", "\r\n").encode()))
    assert split == messages
    assert [read_header(m).control_id for m in split] == [f"{p}-normal" for p in sorted(PANELS)]


def test_broken_variants_fail_as_the_labs_broken_messages_do() -> None:
    good = message("potassium", Outcome.NORMAL, "2.3")
    with pytest.raises(MalformedMessage, match="truncated"):
        read_results(truncated(good))
    with pytest.raises(MalformedMessage, match="wrong separators"):
        read_results(with_separators(good, "|", "^~\\"))
    with pytest.raises(MalformedMessage, match="no PID segment"):
        read_results(without_segment(good, "PID"))
    assert with_separators(good) == good
    assert len(truncated(good)) < len(good)
