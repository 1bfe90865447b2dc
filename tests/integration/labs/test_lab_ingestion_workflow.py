"""Lab results through the whole embedded runtime: the lab API function, the real
lab_ingestion.asl.json executed by moto's Step Functions, the step function's real handler,
DynamoDB, KMS and S3. Every fixture message in ../shared/fixtures/hl7 and broken ones made here:
what was stored, what was quarantined, and the ACK codes the lab got."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.aws import AwsClients
from cairn.labs.inbox_files import inbox_key
from cairn.labs.ledger import MessageStatus
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from tests.integration.labs.support import LabClinic, err_codes, msa

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "hl7"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason="../shared/fixtures/hl7 is not beside this clone; "
    "tests/unit/labs cover the same paths with Cairn's generated messages")
LAB = "acme-lab"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def acme(clients: AwsClients, deployment: Deployment) -> LabClinic:
    """A clinic releasing after review, with the fixtures' patients, a practitioner and the NIST
    message's order (placer ORD666555)."""
    clinic = LabClinic("labs-acme", LAB, clients, deployment)
    clinic.set_up("after_review")
    doctor = clinic.practitioner()
    jones = clinic.patient("Jones", "William", "1961-06-15", "PATID1234")
    clinic.patient("Duck", "Donald", "1924-10-10", "10006579")
    clinic.patient("Everywoman", "Eve", "1962-03-20", "555-44-4444")
    clinic.order(jones, doctor, "ORD666555")
    return clinic


@pytest.fixture(scope="module")
def beta(clients: AwsClients, deployment: Deployment) -> LabClinic:
    """Another clinic with the same lab name and none of acme's patients."""
    clinic = LabClinic("labs-beta", LAB, clients, deployment)
    clinic.set_up("immediate")
    return clinic


@needs_fixtures
def test_the_nist_cbc_result_is_filed_against_its_order_flagged_and_acknowledged(acme: LabClinic) -> None:
    status, acks = acme.post_hl7(fixture("LRI_2.0-NG_CBC_Typ_Message.hl7"))

    assert status == 200
    [[_, code, control, *_]] = msa(acks)
    assert code == "CA"
    acme.wait_for_workflows()
    entry = acme.message(control)
    assert entry.status is MessageStatus.PROCESSED, entry
    assert msa(acme.ack(control))[0][1] == "AA"
    reports = [r for r in acme.search("DiagnosticReport")
               if f"DiagnosticReport/{r['id']}" in entry.references]
    assert len(reports) == 1
    report = reports[0]
    [order] = acme.search("ServiceRequest", identifier="https://cairn.health/fhir/sid/placer-order-number|ORD666555")
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{order['id']}"}]
    assert order["status"] == "completed"
    observations = [acme.system().read("Observation", ref.split("/")[1]) for ref in
                    (r["reference"] for r in report["result"])]
    assert len(observations) > 10
    assert all(o["subject"] == report["subject"] for o in observations)
    assert {"http://loinc.org"} <= {c["system"] for o in observations for c in o["code"]["coding"]}
    [task] = acme.search("Task", focus=f"DiagnosticReport/{report['id']}")
    assert task["status"] == "requested"
    assert task["owner"]["reference"].startswith("Practitioner/")  # the ordering clinician


@needs_fixtures
@pytest.mark.parametrize("name", ["LAB-ORU-1.hl7", "LAB-ORU-2.hl7", "ORU-R01-RMGEAD.hl7"])
def test_unsolicited_results_of_a_known_patient_are_filed_and_flagged_unsolicited(
        acme: LabClinic, name: str) -> None:
    status, acks = acme.post_hl7(fixture(name))

    assert status == 200
    [[_, code, control, *_]] = msa(acks)
    assert code == "CA"
    acme.wait_for_workflows()
    entry = acme.message(control)
    assert entry.status is MessageStatus.PROCESSED, entry
    assert msa(acme.ack(control))[0][1] == "AA"
    report_ref = next(ref for ref in entry.references if ref.startswith("DiagnosticReport/"))
    report = acme.system().read("DiagnosticReport", report_ref.split("/")[1])
    assert "basedOn" not in report
    assert "unsolicited" in {t["code"] for t in report["meta"].get("tag", [])}


@needs_fixtures
def test_an_unknown_patient_waits_for_reconciliation_with_an_ae_and_nothing_in_any_chart(
        acme: LabClinic) -> None:
    before = len(acme.search("DiagnosticReport"))
    status, acks = acme.post_hl7(fixture("ORU-R01-01.hl7"))  # Huckleberry Finn: not a patient here

    assert status == 200
    [[_, code, control, *_]] = msa(acks)
    assert code == "CA"
    acme.wait_for_workflows()
    entry = acme.message(control)
    assert entry.status is MessageStatus.AWAITING_RECONCILIATION
    assert entry.task.startswith("Task/")
    ack = acme.ack(control)
    assert msa(ack)[0][1] == "AE"
    assert err_codes(ack) == ["204"]
    assert len(acme.search("DiagnosticReport")) == before
    task = acme.system().read("Task", entry.task.split("/")[1])
    assert task["code"]["coding"][0]["code"] == "reconcile-lab-result"
    assert "Finn" not in str(task)
    assert "Huckleberry" not in str(task)


@needs_fixtures
@pytest.mark.parametrize(("name", "error"), [
    ("LAB-ORM-1.hl7", "200"),  # an order (2.3): not a results message
    ("MDHHS-OML-O21-1.hl7", "200"),  # an order (2.5.1)
    ("ORM-O01-01.hl7", "203"),  # 2.6: a version Cairn does not read
    ("OML-O21-01.hl7", "203"),
    ("ORM-O01-02.hl7", "203"),
])
def test_orders_and_unsupported_versions_are_refused_with_cr_and_kept(
        acme: LabClinic, name: str, error: str) -> None:
    status, acks = acme.post_hl7(fixture(name))

    assert status == 200
    [[_, code, control, *_]] = msa(acks)
    assert code == "CR"
    assert err_codes(acks) == [error]
    entry = acme.message(control)
    assert entry.status is MessageStatus.QUARANTINED
    assert entry.raw_key
    assert msa(acme.ack(control))[0][1] == "AR"


@needs_fixtures
def test_a_message_sent_twice_is_acknowledged_and_stored_once(acme: LabClinic) -> None:
    message = fixture("LAB-ORU-1.hl7")
    acme.post_hl7(message)
    acme.wait_for_workflows()
    reports = len(acme.search("DiagnosticReport"))
    executions = len(acme.wait_for_workflows())

    status, acks = acme.post_hl7(message)

    assert status == 200
    [[_, code, _control, text, *_]] = msa(acks)
    assert code == "CA"
    assert "duplicate" in text
    assert len(acme.wait_for_workflows()) == executions
    assert len(acme.search("DiagnosticReport")) == reports


@needs_fixtures
def test_the_python_hl7_sample_reuses_the_ghh_labs_control_id_so_it_is_a_duplicate(acme: LabClinic) -> None:
    acme.post_hl7(fixture("ORU-R01-RMGEAD.hl7"))  # GHH LAB's CNTRL-3456, filed for Eve Everywoman
    acme.wait_for_workflows()
    filed = acme.message("CNTRL-3456")

    status, acks = acme.post_hl7(fixture("python-hl7_sample_hl7_GHH_ORU_R01.hl7"))  # the same control id

    assert status == 200
    [[_, code, control, text, *_]] = msa(acks)
    assert (code, control) == ("CA", "CNTRL-3456")
    assert "duplicate" in text
    assert acme.message("CNTRL-3456") == filed


def test_a_file_dropped_in_another_clinics_s3_inbox_is_that_clinics_and_reaches_no_other(
        acme: LabClinic, beta: LabClinic) -> None:
    acme_reports = len(acme.search("DiagnosticReport"))

    beta.drop(inbox_key(beta.tenant_id, LAB, "misfiled.hl7"),
              _result("MISFILED-1", "Duck^Donald", "19241010", "10006579").encode())
    beta.wait_for_workflows()

    assert beta.message("MISFILED-1").status is MessageStatus.AWAITING_RECONCILIATION
    assert msa(beta.ack("MISFILED-1"))[0][1] == "AE"
    assert acme.ledger().get(LAB, "MISFILED-1") is None
    assert len(acme.search("DiagnosticReport")) == acme_reports


def test_broken_messages_are_refused_or_quarantined_and_the_good_one_in_the_batch_is_filed(
        acme: LabClinic) -> None:
    good = _result("BATCH-GOOD-1", "Duck^Donald", "19241010", "10006579")
    no_pid = "\r".join(s for s in _result("BATCH-NOPID-1", "Duck^Donald", "19241010", "10006579").split("\r")
                       if not s.startswith("PID"))
    truncated = _result("BATCH-TRUNC-1", "Duck^Donald", "19241010", "10006579")[:-40]
    wrong_separators = _result("BATCH-SEP-1", "Duck^Donald", "19241010", "10006579").replace(
        "MSH|^~\\&", "MSH|^~", 1)
    batch = "\r".join(["FHS|^~\\&|ACME LAB", "BHS|^~\\&|ACME LAB", good, no_pid, truncated, wrong_separators,
                       "BTS|4", "FTS|1"])

    status, acks = acme.post_hl7(batch)

    assert status == 200
    codes = [(fields[2], fields[1]) for fields in msa(acks)]
    assert codes[0] == ("BATCH-GOOD-1", "CA")
    assert len(codes) == 4
    acme.wait_for_workflows()
    assert acme.message("BATCH-GOOD-1").status is MessageStatus.PROCESSED
    assert msa(acme.ack("BATCH-GOOD-1"))[0][1] == "AA"
    missing_pid = acme.message("BATCH-NOPID-1")
    assert missing_pid.status is MessageStatus.QUARANTINED
    assert "PID" in missing_pid.reason
    assert msa(acme.ack("BATCH-NOPID-1"))[0][1] in ("AE", "AR")
    held = [entry for entry in acme.ledger().entries(LAB, MessageStatus.QUARANTINED)
            if entry.control_key != "BATCH-NOPID-1"]
    assert held, "the truncated and mis-separated messages are kept in quarantine"
    assert all(entry.reason and entry.ack_code in ("AE", "AR") for entry in held)


def test_a_message_dropped_for_another_clinic_is_matched_only_there(acme: LabClinic, beta: LabClinic) -> None:
    acme_reports = len(acme.search("DiagnosticReport"))

    status, acks = beta.post_hl7(_result("CROSS-1", "Duck^Donald", "19241010", "10006579"))

    assert status == 200
    assert msa(acks)[0][1] == "CA"
    beta.wait_for_workflows()
    assert beta.message("CROSS-1").status is MessageStatus.AWAITING_RECONCILIATION
    assert len(acme.search("DiagnosticReport")) == acme_reports
    assert acme.ledger().get(LAB, "CROSS-1") is None


def test_only_the_lab_or_an_admin_may_post_and_an_unknown_lab_is_404(acme: LabClinic) -> None:
    message = _result("ROLE-1", "Duck^Donald", "19241010", "10006579")

    nurse = TenantContext(acme.tenant_id, "nurse-1", Role.NURSE)
    assert acme.post_hl7(message, who=nurse)[0] == 403
    assert acme.post_hl7(message, lab_id="no-such-lab")[0] == 404
    assert acme.ledger().get(LAB, "ROLE-1") is None


def _result(control: str, name: str, birth: str, mrn: str, value: str = "4.1", flag: str = "N") -> str:
    """A minimal ORU^R01 (potassium) in 2.5.1."""
    return "\r".join([
        f"MSH|^~\\&|ACME LIS|ACME LAB|CAIRN|CLINIC|20261120101500||ORU^R01^ORU_R01|{control}|P|2.5.1",
        f"PID|1||{mrn}^^^ACME^MR||{name}||{birth}|M",
        "OBR|1||F-" + control + "|2823-3^Potassium [Moles/volume] in Serum or Plasma^LN|||20261120080000"
        "|||||||||||||||20261120100000|||F",
        f"OBX|1|NM|2823-3^Potassium [Moles/volume] in Serum or Plasma^LN||{value}|mmol/L^mmol/L^UCUM|3.5-5.1"
        f"|{flag}|||F|||20261120080000",
    ])


def test_no_patient_detail_reaches_the_logs_whatever_becomes_of_the_message(
        acme: LabClinic, capfd: pytest.CaptureFixture[str]) -> None:
    acme.patient("Quillfeather", "Ottoline", "1951-12-24", "Q-424242")
    filed = _result("LOG-1", "Quillfeather^Ottoline", "19511224", "Q-424242", value="6.9", flag="HH")
    unknown = _result("LOG-2", "Zebulon^Quincey", "19330303", "Z-31337")
    truncated = _result("LOG-3", "Quillfeather^Ottoline", "19511224", "Q-424242")[:-30]

    acme.post_hl7("\r".join([filed, unknown, truncated]))
    acme.wait_for_workflows()

    logged = "".join(capfd.readouterr())
    assert '"service":"lab-ingestion"' in logged  # the functions' own output was captured
    assert acme.message("LOG-1").status is MessageStatus.PROCESSED
    assert acme.message("LOG-2").status is MessageStatus.AWAITING_RECONCILIATION
    for detail in ("Quillfeather", "Ottoline", "Zebulon", "Quincey", "Q-424242", "Z-31337", "19511224"):
        assert detail not in logged, f"{detail!r} reached the logs"
