"""Blind indexes: keyed HMAC tokens that allow exact-match search over encrypted fields.

The HMAC key is derived from the tenant's data key with HKDF under its own label, so the same
value gives unrelated tokens in different tenants and the token key is never the cipher key.
Values are normalized first, so "José  GARCÍA" and "jose garcia" give the same token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BLIND_INDEX_INFO = b"cairn/blind-index/v1"


def normalize(value: str) -> str:
    """Unicode NFKD, combining marks (accents) removed, casefolded, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


class BlindIndex:
    """Computes tenant-keyed search tokens for (search parameter, value) pairs."""

    def __init__(self, data_key: bytes) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=BLIND_INDEX_INFO
        ).derive(data_key)

    def token(self, parameter: str, value: str) -> str:
        """The token of `value` for `parameter`; the parameter is part of the MAC so a name
        token can never match an identifier token of the same text."""
        message = f"{parameter}\x1f{normalize(value)}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
