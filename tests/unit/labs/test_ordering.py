"""Sending an order to a lab over fakes: the HL7 order the lab picks up, the placer number and
performer kept on the ServiceRequest, a resend that is the same order, and who may send what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import hl7
import pytest

from cairn.errors import AccessDenied, InvalidResource, ResourceNotFound
from cairn.labs.directory import endpoint, lab_organization
from cairn.labs.framing import read_header, segments
from cairn.labs.model import PLACER_ORDER_SYSTEM, LabEndpoint
from cairn.labs.ordering import placer_number_of, submit_order
from cairn.labs.outbox import OutboxKind
from multitenant.context import Role
from tests.unit.labs.lab_fakes import FakeLabOutbox
from tests.unit.labs.test_release import Clinic

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


class Ordering:
    """A clinic with a patient, a physician, a lab of the given order type and an empty outbox."""

    def __init__(self, order_message_type: str = "OML^O21") -> None:
        self.clinic = Clinic()
        system = self.clinic.system()
        organization = system.create("Organization", lab_organization(
            "acme-lab", "Acme Lab", order_message_type=order_message_type)).resource
        self.lab: LabEndpoint = endpoint(organization, "acme-lab")
        self.patient_id = self.clinic.patient("Nguyen", "1970-01-31", "MRN-1")
        self.doctor = self.clinic.practitioner()
        self.outbox = FakeLabOutbox(system.context)
        self.numbers: Iterator[str] = iter(["CRNAAAAAAAAAAAA", "CRNBBBBBBBBBBBB"])

    def service_request(self, status: str = "active") -> str:
        return str(self.clinic.service().create("ServiceRequest", {
            "resourceType": "ServiceRequest", "status": status, "intent": "order",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
            "subject": {"reference": f"Patient/{self.patient_id}"},
            "requester": {"reference": self.doctor}}).resource["id"])

    def send(self, service_request_id: str, role: Role = Role.PHYSICIAN, tenant: str = "acme") -> str:
        submitted = submit_order(self.clinic.service(role, tenant=tenant), self.outbox, self.lab,
                                 service_request_id, clinic_name="Fairview Clinic", now=lambda: NOW,
                                 new_number=lambda: next(self.numbers))
        return submitted.placer_number


@pytest.mark.parametrize(("order_type", "msh_9", "version"), [("OML^O21", "OML^O21^OML_O21", "2.5.1"),
                                                               ("ORM^O01", "ORM^O01", "2.3")])
def test_an_order_reaches_the_outbox_as_the_lab_wants_it_with_the_placer_number(
        order_type: str, msh_9: str, version: str) -> None:
    ordering = Ordering(order_type)
    order_id = ordering.service_request()

    placer = ordering.send(order_id)

    message = ordering.outbox.collect("acme-lab", OutboxKind.ORDERS, placer)
    assert str(hl7.parse(message).segment("MSH")(9)) == msh_9
    header = read_header(message)
    assert (header.message_type, header.version) == (order_type, version)
    found = {s.name: s for s in segments(message)}
    assert (found["ORC"].get(2), found["OBR"].get(2)) == (placer, placer)
    assert found["OBR"].get(4) == "2823-3"


def test_the_order_keeps_its_placer_number_and_names_the_lab_as_performer() -> None:
    ordering = Ordering()
    order_id = ordering.service_request(status="draft")

    placer = ordering.send(order_id)

    stored = ordering.clinic.service().read("ServiceRequest", order_id)
    assert placer == "CRNAAAAAAAAAAAA"
    assert placer_number_of(stored) == placer
    assert {"system": PLACER_ORDER_SYSTEM, "value": placer} in [
        {k: i[k] for k in ("system", "value")} for i in stored["identifier"]]
    assert stored["performer"] == [{"reference": f"Organization/{ordering.lab.organization_id}",
                                    "display": "Acme Lab"}]
    assert stored["status"] == "active"


def test_sending_again_resends_the_same_order_without_changing_the_service_request() -> None:
    ordering = Ordering()
    order_id = ordering.service_request()
    first = ordering.send(order_id)
    version = ordering.clinic.service().read("ServiceRequest", order_id)["meta"]["versionId"]

    again = ordering.send(order_id)

    assert again == first
    stored = ordering.clinic.service().read("ServiceRequest", order_id)
    assert stored["meta"]["versionId"] == version
    assert len(stored["performer"]) == 1
    assert [name for (_, kind, name) in ordering.outbox.delivered if kind is OutboxKind.ORDERS] == [first]


@pytest.mark.parametrize("status", ["completed", "revoked"])
def test_a_finished_order_is_not_sent(status: str) -> None:
    ordering = Ordering()
    order_id = ordering.service_request()
    system = ordering.clinic.system()
    current = system.read("ServiceRequest", order_id)
    system.update("ServiceRequest", order_id, {**current, "status": status},
                  if_match=f'W/"{current["meta"]["versionId"]}"')

    with pytest.raises(InvalidResource, match=status):
        ordering.send(order_id)

    assert ordering.outbox.delivered == {}
    assert placer_number_of(system.read("ServiceRequest", order_id)) is None


def test_a_nurse_cannot_send_an_order() -> None:
    ordering = Ordering()
    order_id = ordering.service_request()

    with pytest.raises(AccessDenied):
        ordering.send(order_id, Role.NURSE)

    assert ordering.outbox.delivered == {}


def test_another_clinics_order_is_not_found() -> None:
    ordering = Ordering()
    order_id = ordering.service_request()

    with pytest.raises(ResourceNotFound):
        ordering.send(order_id, tenant="beta")

    assert ordering.outbox.delivered == {}


def test_the_order_message_control_id_fits_msh_10() -> None:
    ordering = Ordering()
    placer = ordering.send(ordering.service_request())

    header = read_header(ordering.outbox.collect("acme-lab", OutboxKind.ORDERS, placer))

    assert len(header.control_id) <= 20
