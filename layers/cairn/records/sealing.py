"""A resource <-> its stored form: PHI elements sealed per field, the rest as plain JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cairn.crypto.field_cipher import FieldAddress, FieldCipher
from cairn.fhir.phi import split_phi

LEADING_ELEMENTS = ("resourceType", "id", "meta")


class ResourceSealer:
    """Seals and opens the PHI elements of one tenant's resources under its data key."""

    def __init__(self, tenant_id: str, cipher: FieldCipher) -> None:
        self._tenant_id = tenant_id
        self._cipher = cipher

    def seal(self, resource: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """(body JSON without PHI, PHI element name -> ciphertext)."""
        public, phi = split_phi(resource)
        sealed = {
            name: self._cipher.encrypt(_dump(value), self._address(resource, name))
            for name, value in phi.items()
        }
        return _dump(public), sealed

    def open(self, body: str, sealed: Mapping[str, str]) -> dict[str, Any]:
        """The resource rebuilt from its body and decrypted PHI elements."""
        public: dict[str, Any] = json.loads(body)
        merged = dict(public)
        for name, ciphertext in sealed.items():
            merged[name] = json.loads(self._cipher.decrypt(ciphertext, self._address(public, name)))
        # Conventional element order for readers; JSON itself does not care.
        leading = {name: merged.pop(name) for name in LEADING_ELEMENTS if name in merged}
        return {**leading, **merged}

    def _address(self, resource: Mapping[str, Any], element: str) -> FieldAddress:
        return FieldAddress(self._tenant_id, str(resource["resourceType"]), str(resource["id"]), element)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
