"""Do-not-call lists: the tenant's own, and CALLKOM's platform-wide list of people who object to every call."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from compliance.selectors import is_held
from tenants.crypto import normalize_phone, phone_index
from tenants.models import Tenant

from .models import DoNotCall, DoNotCallSource, PlatformDoNotCall


@transaction.atomic
def do_not_call_add(*, tenant: Tenant, phone: str, source: str = DoNotCallSource.MANUAL, reason: str = "",
                    actor=None) -> DoNotCall:
    """Add a number to the tenant's list; adding one that is already there returns the existing entry."""
    number = normalize_phone(phone)
    existing = DoNotCall.objects.filter(tenant=tenant, phone_index=phone_index(number)).first()
    if existing is not None:
        return existing
    entry = DoNotCall(tenant=tenant, phone=number, phone_index=phone_index(number), source=source,
                      reason=reason[:200], created_by=actor)
    entry.full_clean()
    entry.save()
    return entry


@transaction.atomic
def do_not_call_remove(*, entry: DoNotCall) -> None:
    if entry.source in (DoNotCallSource.OBJECTION, DoNotCallSource.RIGHTS_REQUEST):
        raise ValidationError(_("This number was added because the person objected: it cannot be removed here."))
    entry.delete()


@transaction.atomic
def platform_do_not_call_add(*, phone: str, source: str = DoNotCallSource.OBJECTION) -> PlatformDoNotCall:
    index = phone_index(normalize_phone(phone))
    entry, _created = PlatformDoNotCall.objects.get_or_create(phone_index=index, defaults={"source": source})
    return entry


def do_not_call_reason(*, tenant: Tenant, phone_e164: str) -> str:
    """Return why this number must not be called by this tenant ('' when it may be)."""
    index = phone_index(phone_e164)
    if is_held(tenant, phone_index=index):
        return _("Processing of this person's data is restricted (a legal hold): they may not be called.")
    if PlatformDoNotCall.objects.filter(phone_index=index).exists():
        return _("This person objects to every call placed through CALLKOM.")
    entry = DoNotCall.objects.filter(tenant=tenant, phone_index=index).only("source").first()
    if entry is not None:
        return _("This number is on your do-not-call list (%(source)s).") % {"source": entry.get_source_display()}
    return ""
