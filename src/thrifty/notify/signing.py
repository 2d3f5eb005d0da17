"""Signed webhooks, both ways: ``X-Thrifty-Signature: sha256=<hex>`` is the HMAC-SHA256 of
``"<timestamp>.<body>"`` under the shared secret, and ``X-Thrifty-Timestamp`` carries the
timestamp (Unix seconds) so a receiver can refuse stale or replayed requests.

Thrifty signs what it sends to alert channels this way, and verifies what senders post to its
inbound webhooks the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from thrifty.errors import AuthenticationFailed

SIGNATURE_HEADER = "X-Thrifty-Signature"
TIMESTAMP_HEADER = "X-Thrifty-Timestamp"
SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp: str | None,
    signed: str | None,
    now: datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise ``AuthenticationFailed`` (naming the header) unless ``signed`` is the signature of
    ``body`` at ``timestamp``, and ``timestamp`` is within ``tolerance_s`` of ``now``."""
    if not timestamp or not timestamp.strip().isdigit():
        raise AuthenticationFailed(
            f"{TIMESTAMP_HEADER} must be the Unix time in seconds", field=TIMESTAMP_HEADER
        )
    stamp = int(timestamp)
    if abs(now.timestamp() - stamp) > tolerance_s:
        raise AuthenticationFailed(
            f"{TIMESTAMP_HEADER} is more than {tolerance_s} s from the server's clock:"
            " a stale or replayed request",
            field=TIMESTAMP_HEADER,
        )
    if not signed or not hmac.compare_digest(signed.strip(), signature(secret, stamp, body)):
        raise AuthenticationFailed(
            f"{SIGNATURE_HEADER} does not match the body and timestamp", field=SIGNATURE_HEADER
        )
