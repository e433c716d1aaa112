"""The hash chain of the AI call log: which fields a row's hash covers, and how it is computed."""

import datetime
import hashlib
import json

GENESIS = "0" * 64

CHAINED_FIELDS = (
    "tenant_id", "call_id", "provider", "role", "model", "region", "started_at", "duration_ms", "outcome",
    "error_class", "request_sha256", "request_bytes", "response_sha256", "response_bytes", "prompt_tokens",
    "completion_tokens", "minimised_fields", "redactions", "no_training", "register_version", "prev_hash",
)


def _plain(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    if value is None or isinstance(value, (bool, int, str, list)):
        return value
    return str(value)


def row_hash(invocation) -> str:
    """Return the SHA-256 of the row's chained fields (including the previous hash)."""
    data = {name: _plain(getattr(invocation, name)) for name in CHAINED_FIELDS}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
