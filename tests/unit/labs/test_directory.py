"""The clinic's labs: Organizations of its own directory with a lab identifier, read into the
endpoint the workflow and orders use; any other name, an inactive or doubled lab, or another
clinic's lab is not found."""

from __future__ import annotations

import pytest

from cairn.labs.directory import (
    HL7_VERSION_EXTENSION,
    ORDER_MESSAGE_EXTENSION,
    LabNotFound,
    endpoint,
    find_lab,
    lab_organization,
    valid_lab_id,
)
from cairn.labs.model import LAB_IDENTIFIER_SYSTEM
from tests.unit.labs.test_release import Clinic


def test_a_lab_of_the_directory_is_found_with_how_it_wants_its_orders() -> None:
    clinic = Clinic()
    system = clinic.system()
    organization = lab_organization("old-lab", "Old Lab", order_message_type="ORM^O01")
    created = system.create("Organization", organization).resource

    lab = find_lab(clinic.service(), "old-lab")

    assert (lab.lab_id, lab.organization_id, lab.name) == ("old-lab", created["id"], "Old Lab")
    assert (lab.order_message_type, lab.hl7_version) == ("ORM^O01", "2.3")
    assert (lab.application, lab.facility) == ("OLD-LAB", "Old Lab")


@pytest.mark.parametrize("lab_id", ["Acme", "acme_lab", "-acme", "", "a" * 64, "acme/../beta"])
def test_a_name_that_cannot_be_a_lab_is_not_found_without_searching(lab_id: str) -> None:
    assert not valid_lab_id(lab_id)
    with pytest.raises(LabNotFound):
        find_lab(Clinic().service(), lab_id)


def test_an_unknown_lab_is_not_found_and_the_error_says_how_to_add_it() -> None:
    with pytest.raises(LabNotFound) as refused:
        find_lab(Clinic().service(), "nowhere-lab")

    assert LAB_IDENTIFIER_SYSTEM in str(refused.value)
    assert refused.value.lab_id == "nowhere-lab"


def test_an_inactive_lab_and_a_lab_listed_twice_are_not_found() -> None:
    clinic = Clinic()
    system = clinic.system()
    system.create("Organization", {**lab_organization("closed-lab", "Closed"), "active": False})
    system.create("Organization", lab_organization("twice-lab", "Twice A"))
    system.create("Organization", lab_organization("twice-lab", "Twice B"))

    for lab_id in ("closed-lab", "twice-lab"):
        with pytest.raises(LabNotFound):
            find_lab(clinic.service(), lab_id)


def test_another_clinics_lab_is_not_found() -> None:
    clinic = Clinic()
    clinic.system("beta").create("Organization", lab_organization("beta-lab", "Beta Lab"))

    assert find_lab(clinic.service(tenant="beta"), "beta-lab").name == "Beta Lab"
    with pytest.raises(LabNotFound):
        find_lab(clinic.service(tenant="acme"), "beta-lab")


def test_an_endpoint_defaults_to_oml_2_5_1_and_takes_a_stated_version() -> None:
    plain = {"resourceType": "Organization", "id": "org-1"}
    unknown_type = {**plain, "extension": [{"url": ORDER_MESSAGE_EXTENSION, "valueCode": "ADT^A01"}]}
    versioned = {**plain, "name": "Acme", "extension": [
        {"url": ORDER_MESSAGE_EXTENSION, "valueCode": "ORM^O01"},
        {"url": HL7_VERSION_EXTENSION, "valueString": "2.4"}]}

    assert (endpoint(plain, "acme").order_message_type, endpoint(plain, "acme").hl7_version) == (
        "OML^O21", "2.5.1")
    assert endpoint(plain, "acme").name == "acme"
    assert endpoint(unknown_type, "acme").order_message_type == "OML^O21"
    assert (endpoint(versioned, "acme").order_message_type, endpoint(versioned, "acme").hl7_version) == (
        "ORM^O01", "2.4")
