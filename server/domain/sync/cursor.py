"""The pull cursor: opaque to the device, made and checked by the server (HMAC with the app's secret).

It names the organisation, the change sequence the device has everything up to, the scope (who) and
the day whose jobs window the device holds (a later day shifts the window: see ``services.pull``).
Anything that does not verify (tampered, another secret, malformed) decodes to None and the pull
answers ``reset``; a cursor of another org or scope is recognised by its fields.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import uuid
from dataclasses import dataclass

VERSION = "1"
START = -1  # "from nothing": every row in scope (rows older than the sync migration carry change_seq 0)


@dataclass(frozen=True, slots=True)
class Cursor:
    org_id: uuid.UUID
    seq: int
    scope_key: str
    day: datetime.date


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"campotech.sync.cursor|" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(cursor: Cursor, secret: str) -> str:
    payload = f"{VERSION}.{cursor.org_id.hex}.{cursor.seq}.{cursor.scope_key}.{cursor.day.isoformat()}".encode()
    mac = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def decode_cursor(token: str | None, secret: str) -> Cursor | None:
    """The cursor, or None when it is missing, malformed or its signature does not verify."""
    if not token or len(token) > 200:
        return None
    try:
        payload_text, mac_text = token.split(".", 1)
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, TypeError):
        return None
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        version, org_hex, seq_text, scope_key, day = payload.decode().split(".")
        if version != VERSION:
            return None
        return Cursor(uuid.UUID(hex=org_hex), int(seq_text), scope_key, datetime.date.fromisoformat(day))
    except (ValueError, UnicodeDecodeError):
        return None
