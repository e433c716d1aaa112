"""How a webhook is signed, and the reference check a receiver runs (docs/webhooks.md shows the same recipe).

``Callkom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The timestamp is inside the
signed text, so a captured request cannot be replayed with a new time, and the receiver refuses a time outside its
window. After a secret rotation both secrets sign for a while, so the header then carries two ``v1`` values and a
receiver that still has the old secret keeps working.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from secrets import token_urlsafe

SIGNATURE_HEADER = "Callkom-Signature"
DELIVERY_HEADER = "Callkom-Delivery"
EVENT_HEADER = "Callkom-Event"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, too old or too new, or matches none of the secrets."""


def new_secret() -> str:
    return SECRET_PREFIX + token_urlsafe(32)


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def compute(secret: str, timestamp: int, body: bytes | str) -> str:
    """Return the hex HMAC-SHA256 of ``"<timestamp>." + body`` under the secret."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(*, secrets: Iterable[str], body: bytes | str, timestamp: int | None = None) -> str:
    """Return the value of the signature header: one ``v1`` per secret, all over the same timestamp."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={timestamp}", *(f"v1={compute(secret, timestamp, body)}" for secret in secrets)]
    return ",".join(parts)


def headers(*, delivery_id: str, event: str, secrets: Iterable[str], body: bytes | str,
            timestamp: int | None = None) -> dict[str, str]:
    """Return every header of a delivery except the transport's own."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "CALLKOM-Webhooks/1",
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
        SIGNATURE_HEADER: sign(secrets=secrets, body=body, timestamp=timestamp),
    }


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("The signature header needs t=<unix seconds> and at least one v1=<hex>.")
    return timestamp, signatures


def verify(secret: str, body: bytes | str, header: str, *, tolerance_s: int = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> int:
    """Check a received delivery the way a receiver should; return its timestamp or raise SignatureError.

    The body must be the raw request body, before any JSON parsing: re-serialising changes the bytes.
    """
    timestamp, signatures = _parse(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("The signature timestamp is outside the tolerance (a replay, or a wrong clock).")
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("No signature matches this secret and body.")
    return timestamp
