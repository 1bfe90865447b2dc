"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30 s), as Cognito's TOTP MFA uses.

The demo users of a deployed stage are in a user pool that requires MFA; `cairn token` enrols
them with a software token and answers the MFA challenge with codes computed here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


def time_step(now: float | None = None) -> int:
    """The 30-second window `now` (default: the current time) falls in."""
    return int((time.time() if now is None else now) // STEP_SECONDS)


def totp(secret: str, step: int) -> str:
    """The code of base32 `secret` for window `step`."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)
