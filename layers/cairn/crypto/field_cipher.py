"""AES-256-GCM encryption of single PHI fields, bound to tenant, record and field.

Ciphertext format (a string, so it fits a DynamoDB map of strings):
    "c1." + base64url(nonce (12 bytes) || ciphertext || GCM tag (16 bytes))
"c1" is the format version: a later format gets a new prefix and old items stay readable.

The AAD is "<tenant>|<ResourceType>/<id>|<field>", so a ciphertext copied to another tenant,
another record or another field fails authentication instead of decrypting into the wrong place.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cairn.errors import DecryptionError

FORMAT_PREFIX = "c1."
NONCE_BYTES = 12
KEY_BYTES = 32


@dataclass(frozen=True)
class FieldAddress:
    """Where a field lives; becomes the AAD that binds a ciphertext to that one place."""

    tenant_id: str
    resource_type: str
    resource_id: str
    field: str

    def aad(self) -> bytes:
        return f"{self.tenant_id}|{self.resource_type}/{self.resource_id}|{self.field}".encode()


class FieldCipher:
    """Encrypts and decrypts field values under one tenant's 256-bit data key."""

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != KEY_BYTES:
            raise ValueError("a field cipher needs a 256-bit key")
        self._aead = AESGCM(data_key)

    def encrypt(self, plaintext: str, address: FieldAddress) -> str:
        """The versioned ciphertext string of `plaintext`, with a fresh random nonce."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), address.aad())
        return FORMAT_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, ciphertext: str, address: FieldAddress) -> str:
        """The plaintext, or DecryptionError if the ciphertext was not sealed for `address`."""
        if not ciphertext.startswith(FORMAT_PREFIX):
            raise DecryptionError("unknown ciphertext format")
        try:
            raw = base64.urlsafe_b64decode(ciphertext[len(FORMAT_PREFIX):])
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("ciphertext is not valid base64") from exc
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, sealed, address.aad()).decode("utf-8")
        except InvalidTag as exc:
            raise DecryptionError(
                f"field {address.field} of {address.resource_type}/{address.resource_id} "
                "failed authentication"
            ) from exc
