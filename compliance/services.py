"""Writes of the compliance app."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import Tenant, User

from .chain import GENESIS, row_hash
from .models import AIInvocation, AILogHead, IncidentCandidate, LegalHold, RoutedRequest


@transaction.atomic
def ai_invocation_append(*, tenant: Tenant, provider: str, role: str, model: str, region: str,
                         started_at: datetime.datetime, duration_ms: int, outcome: str, request_sha256: str,
                         request_bytes: int, call_id=None, error_class: str = "", response_sha256: str = "",
                         response_bytes: int = 0, prompt_tokens: int | None = None,
                         completion_tokens: int | None = None, minimised_fields: list[str] | None = None,
                         redactions: int = 0, no_training: bool = False, register_version: str = "",
                         payload: str = "") -> AIInvocation:
    """Append one row to the tenant's AI log, chained to the previous one under a lock on the chain's head."""
    head, _created = AILogHead.objects.select_for_update().get_or_create(tenant=tenant,
                                                                         defaults={"last_hash": GENESIS})
    invocation = AIInvocation(
        tenant=tenant, call_id=call_id, provider=provider, role=role, model=model, region=region,
        started_at=started_at, duration_ms=max(0, int(duration_ms)),
        outcome=outcome, error_class=error_class[:100], request_sha256=request_sha256, request_bytes=request_bytes,
        response_sha256=response_sha256, response_bytes=response_bytes, prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens, minimised_fields=sorted(minimised_fields or []), redactions=redactions,
        no_training=no_training, register_version=register_version, payload=payload, prev_hash=head.last_hash,
    )
    invocation.row_hash = row_hash(invocation)
    invocation.save(force_insert=True)
    head.last_hash = invocation.row_hash
    head.length += 1
    head.save(update_fields=["last_hash", "length"])
    return invocation


@transaction.atomic
def incident_candidate_record(*, tenant: Tenant, reason: str, call_id=None, provider: str = "", excerpt: str = "",
                              source: str = "output_filter") -> IncidentCandidate:
    candidate = IncidentCandidate(tenant=tenant, call_id=call_id, reason=reason[:60], provider=provider,
                                  excerpt=excerpt[:2000], source=source)
    candidate.full_clean()
    candidate.save()
    return candidate


@transaction.atomic
def ai_payloads_erase(*, tenant: Tenant, call_ids) -> int:
    """Blank the exact requests kept for these calls (an erasure); return how many log rows the calls have.

    Only ``payload`` changes: it is outside the row hash, so the chain still verifies, and the metadata (provider,
    sizes, digests, outcome) stays as the proof of what was sent where. (An encrypted column cannot be filtered on
    being empty, so every row of the calls is rewritten.)
    """
    return AIInvocation.objects.filter(tenant=tenant, call_id__in=list(call_ids)).update(payload="")


@transaction.atomic
def legal_hold_place(*, tenant: Tenant, reason: str, phone_index: str = "", email_index: str = "",
                     call_ids=(), note: str = "", routed: RoutedRequest | None = None,
                     actor: User | None = None) -> LegalHold:
    """Keep a person's data (by blind index) or some calls out of processing and retention until released."""
    if not phone_index and not email_index and not call_ids:
        raise ValidationError(_("A legal hold needs a person or calls to hold."))
    hold = LegalHold(tenant=tenant, reason=reason, phone_index=phone_index or "", email_index=email_index or "",
                     call_ids=[str(call_id) for call_id in call_ids], note=note.strip(), routed=routed,
                     created_by=actor)
    hold.full_clean()
    hold.save()
    return hold


@transaction.atomic
def legal_hold_release(*, hold: LegalHold, actor: User | None) -> LegalHold:
    """End a hold; the row stays, with who released it and when. Releasing twice changes nothing."""
    hold = LegalHold._base_manager.select_for_update().get(pk=hold.pk)
    if hold.released_at is None:
        hold.released_at, hold.released_by = timezone.now(), actor
        hold.save(update_fields=["released_at", "released_by"])
    return hold
