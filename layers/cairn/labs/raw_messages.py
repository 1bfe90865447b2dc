"""Raw lab messages, stored before anything else is done with them and encrypted under the
clinic's own data key (AES-GCM, bound to the tenant, the lab and the message), inside the
documents bucket's SSE-KMS: destroying a clinic's key makes its messages unreadable too.

Key: tenants/<tenant>/labs/<lab>/messages/<message id>.hl7.enc
"""

from __future__ import annotations

import abc
from typing import Any

from cairn.crypto.field_cipher import FieldAddress, FieldCipher
from multitenant.context import TenantContext

RAW_FIELD = "raw"
LAB_MESSAGE_TYPE = "LabMessage"


def raw_message_key(tenant_id: str, lab_id: str, message_id: str) -> str:
    return f"tenants/{tenant_id}/labs/{lab_id}/messages/{message_id}.hl7.enc"


class BaseRawMessages(abc.ABC):
    """The raw messages of one clinic."""

    def __init__(self, context: TenantContext) -> None:
        self.context = context

    @abc.abstractmethod
    def store(self, lab_id: str, message_id: str, text: str) -> str:
        """Store the message; returns its key."""

    @abc.abstractmethod
    def load(self, lab_id: str, message_id: str) -> str:
        """The message as stored (KeyError when there is none)."""


class S3RawMessages(BaseRawMessages):
    def __init__(self, context: TenantContext, s3: Any, bucket: str, cipher: FieldCipher) -> None:
        super().__init__(context)
        self._s3 = s3
        self._bucket = bucket
        self._cipher = cipher

    def _address(self, lab_id: str, message_id: str) -> FieldAddress:
        return FieldAddress(self.context.tenant_id, LAB_MESSAGE_TYPE, f"{lab_id}/{message_id}", RAW_FIELD)

    def store(self, lab_id: str, message_id: str, text: str) -> str:
        key = raw_message_key(self.context.tenant_id, lab_id, message_id)
        sealed = self._cipher.encrypt(text, self._address(lab_id, message_id))
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=sealed.encode(),
                            ContentType="application/octet-stream")
        return key

    def load(self, lab_id: str, message_id: str) -> str:
        key = raw_message_key(self.context.tenant_id, lab_id, message_id)
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise KeyError(f"no stored message {message_id} of lab {lab_id}") from None
        return self._cipher.decrypt(body.decode(), self._address(lab_id, message_id))
