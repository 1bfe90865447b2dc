"""Orders out: a clinician's ServiceRequest becomes an HL7 v2 order (ORM^O01 or OML^O21, as the
lab wants) with a placer order number, delivered to the lab's outbox. The ServiceRequest keeps
the placer number (results come back under it) and names the lab as performer."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cairn.errors import InvalidResource
from cairn.labs.model import PLACER_ORDER_SYSTEM, LabEndpoint
from cairn.labs.orders import order_message
from cairn.labs.outbox import BaseLabOutbox, OutboxKind
from cairn.records.service import RecordService
from multitenant.permissions import Action, require

SERVICE_REQUEST = "ServiceRequest"
ORDERABLE_STATUSES = ("draft", "active")
PLACER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
_PLACER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class SubmittedOrder:
    service_request: str
    placer_number: str
    message_type: str
    control_id: str
    delivered_to: str

    def as_dict(self) -> dict[str, str]:
        return {"serviceRequest": self.service_request, "placerOrderNumber": self.placer_number,
                "messageType": self.message_type, "controlId": self.control_id,
                "deliveredTo": self.delivered_to}


def new_placer_number() -> str:
    """"CRN" and 12 unambiguous characters: unique enough per clinic, short enough for HL7's EI."""
    return "CRN" + "".join(secrets.choice(_PLACER_ALPHABET) for _ in range(12))


def placer_number_of(service_request: dict[str, Any]) -> str | None:
    return next((str(i["value"]) for i in service_request.get("identifier") or ()
                 if i.get("system") == PLACER_ORDER_SYSTEM and i.get("value")), None)


def submit_order(records: RecordService, outbox: BaseLabOutbox, lab: LabEndpoint, service_request_id: str, *,
                 clinic_name: str, now: Callable[[], datetime],
                 new_number: Callable[[], str] = new_placer_number) -> SubmittedOrder:
    """Send the order to `lab`. Sending it again resends the same placer number (the lab sees
    the same order, not a second one). Sending is ordering: it takes update rights on orders."""
    require(records.context, SERVICE_REQUEST, Action.UPDATE)
    order = records.read(SERVICE_REQUEST, service_request_id)
    if order.get("status") not in ORDERABLE_STATUSES:
        raise InvalidResource([{
            "severity": "error", "code": "business-rule", "expression": ["ServiceRequest.status"],
            "diagnostics": "only a draft or active order can be sent to a lab; "
                           f"this one is {order.get('status')}",
        }])
    placer = placer_number_of(order) or new_number()
    changed = dict(order)
    changed["status"] = "active"
    if placer_number_of(order) is None:
        changed["identifier"] = [*(order.get("identifier") or []), {
            "system": PLACER_ORDER_SYSTEM, "value": placer,
            "type": {"coding": [{"system": PLACER_TYPE_SYSTEM, "code": "PLAC"}]}}]
    lab_ref = f"Organization/{lab.organization_id}"
    if not any((p or {}).get("reference") == lab_ref for p in order.get("performer") or ()):
        changed["performer"] = [*(order.get("performer") or []), {"reference": lab_ref, "display": lab.name}]
    if changed != order:
        order = records.update(SERVICE_REQUEST, service_request_id, changed,
                               if_match=f'W/"{order["meta"]["versionId"]}"')
    patient_ref = str((order.get("subject") or {}).get("reference") or "")
    patient = records.read("Patient", patient_ref.removeprefix("Patient/"))
    requester_ref = str((order.get("requester") or {}).get("reference") or "")
    requester = (records.read("Practitioner", requester_ref.removeprefix("Practitioner/"))
                 if requester_ref.startswith("Practitioner/") else None)
    control_id = "O" + placer[3:] + now().strftime("%H%M%S")  # 19 characters: MSH-10 holds 20
    message = order_message(lab=lab, service_request=order, patient=patient, requester=requester,
                            placer_number=placer, control_id=control_id, now=now(), clinic_name=clinic_name)
    where = outbox.deliver(lab.lab_id, OutboxKind.ORDERS, placer, message)
    return SubmittedOrder(f"{SERVICE_REQUEST}/{service_request_id}", placer, lab.order_message_type,
                          control_id, where)
