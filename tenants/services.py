"""Writes for tenants, members, settings and API keys. Each runs in one transaction; auditlog records it."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ApiKey, ApiScope, IdempotencyRecord, Membership, StaffAccess, Tenant, TenantSettings, User
from .roles import Role
from .scope import all_tenants_scope, tenant_scope

API_KEY_PREFIX = "ck"


@transaction.atomic
def tenant_create(*, name: str, slug: str, legal_name: str, country: str = "FR", owner: User | None = None,
                  dpo_name: str = "", dpo_email: str = "", region_policy: str = Tenant.RegionPolicy.EU_ONLY
                  ) -> Tenant:
    tenant = Tenant(name=name, slug=slug, legal_name=legal_name, country=country, dpo_name=dpo_name,
                    dpo_email=dpo_email, region_policy=region_policy)
    tenant.full_clean()
    tenant.save()
    if owner is not None:
        with tenant_scope(tenant):
            membership_add(tenant=tenant, user=owner, role=Role.OWNER)
    return tenant


@transaction.atomic
def tenant_update(*, tenant: Tenant, **fields) -> Tenant:
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def tenant_set_status(*, tenant: Tenant, status: str) -> Tenant:
    if status not in Tenant.Status.values:
        raise ValidationError(_("Unknown tenant status."))
    tenant.status = status
    tenant.save(update_fields=["status"])
    return tenant


@transaction.atomic
def tenant_settings_update(*, tenant_settings: TenantSettings, **fields) -> TenantSettings:
    for name, value in fields.items():
        setattr(tenant_settings, name, value)
    allowed = {key for key, _label in TenantSettings.AI_EXCLUDABLE_FIELDS}
    unknown = set(tenant_settings.ai_excluded_fields) - allowed
    if unknown:
        raise ValidationError({"ai_excluded_fields": _("Unknown fields: %s") % ", ".join(sorted(unknown))})
    if tenant_settings.calling_window_start >= tenant_settings.calling_window_end:
        raise ValidationError({"calling_window_end": _("The calling window must end after it starts.")})
    if tenant_settings.human_transfer_number:
        from .crypto import normalize_phone

        tenant_settings.human_transfer_number = normalize_phone(tenant_settings.human_transfer_number)
    tenant_settings.full_clean()
    tenant_settings.save()
    return tenant_settings


@transaction.atomic
def user_create(*, email: str, password: str | None = None, first_name: str = "", last_name: str = "",
                is_staff: bool = False, language: str = "fr") -> User:
    user = User(email=email.strip().lower(), first_name=first_name, last_name=last_name, is_staff=is_staff,
                language=language)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def membership_add(*, tenant: Tenant, user: User, role: str) -> Membership:
    membership = Membership(tenant=tenant, user=user, role=role)
    with tenant_scope(tenant):
        membership.full_clean()
        membership.save()
    return membership


def _ensure_an_owner_remains(membership: Membership, new_role: str | None) -> None:
    if membership.role != Role.OWNER or new_role == Role.OWNER:
        return
    others = Membership.objects.filter(role=Role.OWNER).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(_("A tenant needs at least one owner."))


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise ValidationError(_("Unknown role."))
    _ensure_owner_only_grants_owner(actor=actor, membership=membership, role=role)
    _ensure_an_owner_remains(membership, role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    _ensure_owner_only_grants_owner(actor=actor, membership=membership, role=None)
    _ensure_an_owner_remains(membership, None)
    membership.delete()


def _ensure_owner_only_grants_owner(*, actor: User, membership: Membership, role: str | None) -> None:
    """Only an owner may create, demote or remove an owner."""
    touches_owner = membership.role == Role.OWNER or role == Role.OWNER
    if touches_owner and not Membership.objects.filter(user=actor, role=Role.OWNER).exists():
        raise PermissionDenied(_("Only an owner can change an owner's membership."))


@transaction.atomic
def member_invite(*, tenant: Tenant, email: str, role: str, actor: User) -> Membership:
    """Add a person by e-mail: an existing account joins; a new one gets an account without a password."""
    if role == Role.OWNER and not Membership.objects.filter(user=actor, role=Role.OWNER).exists():
        raise PermissionDenied(_("Only an owner can add an owner."))
    email = email.strip().lower()
    user = User.objects.filter(email=email).first() or user_create(email=email)
    if Membership.objects.filter(user=user).exists():
        raise ValidationError({"email": _("This person is already a member.")})
    return membership_add(tenant=tenant, user=user, role=role)


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, tenant: Tenant, name: str, scopes: list[str], created_by: User | None = None,
                   expires_at: datetime.datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is not stored and cannot be shown again."""
    unknown = set(scopes) - set(ApiScope.values)
    if unknown:
        raise ValidationError({"scopes": _("Unknown scopes: %s") % ", ".join(sorted(unknown))})
    if not scopes:
        raise ValidationError({"scopes": _("Choose at least one scope.")})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry date must be in the future.")})
    prefix = secrets.token_hex(4)
    raw = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(tenant=tenant, name=name, prefix=prefix, key_hash=_hash_key(raw), scopes=sorted(set(scopes)),
                 expires_at=expires_at, created_by=created_by)
    with tenant_scope(tenant):
        key.full_clean()
        key.save()
    return key, raw


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


class ApiKeyError(Exception):
    """The key cannot be used; the message says why and is safe to show to the caller."""


def api_key_authenticate(raw: str) -> ApiKey:
    """Return the live key matching ``raw`` (and note its use), or raise ApiKeyError."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise ApiKeyError(_("Malformed API key."))
    with all_tenants_scope("API key authentication"):
        key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash_key(raw.strip())):
        raise ApiKeyError(_("Invalid API key."))
    now = timezone.now()
    if key.is_revoked:
        raise ApiKeyError(_("This API key has been revoked."))
    if key.is_expired(now):
        raise ApiKeyError(_("This API key has expired."))
    if not key.tenant.is_active:
        raise ApiKeyError(_("This tenant is suspended."))
    resolution = datetime.timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if key.last_used_at is None or now - key.last_used_at > resolution:
        # A plain update: usage is not configuration, so it does not belong in the audit log.
        type(key)._base_manager.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def staff_access_record(*, staff_user: User, tenant_ids, action: str, model: str, object_id: str = "",
                        path: str = "") -> None:
    """Record that a CALLKOM staff member saw tenant data (one row per tenant)."""
    StaffAccess.objects.bulk_create(
        StaffAccess(staff_user=staff_user, tenant_id=tenant_id, action=action, model=model,
                    object_id=str(object_id), path=path[:300])
        for tenant_id in sorted(set(tenant_ids))
    )


def idempotency_records_purge(*, now: datetime.datetime | None = None) -> int:
    """Forget the API answers kept under an Idempotency-Key once their 24 hours are over (they may hold personal
    data, e.g. a call's contact); return how many were deleted."""
    cutoff = (now or timezone.now()) - IdempotencyRecord.TTL
    with all_tenants_scope("expired idempotency records"):
        deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
