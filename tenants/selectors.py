"""Reads for the portal. Tenant-owned queries run inside the request's tenant scope."""

from auditlog.models import LogEntry
from django.db.models import Q
from django.utils import timezone

from .models import ApiKey, Membership, StaffAccess, Tenant
from .roles import Perm, role_has
from .scope import all_tenants_scope

_dashboard_cards = []


def register_dashboard_card(func=None, *, perm: Perm = Perm.VIEW):
    """Let an app add a card to the dashboard: func(tenant) returns a list of (label, value, url or None).

    A card whose figures or link need more than the portal's view permission names it (``perm``); members whose
    role lacks it do not see the card.
    """

    def register(card):
        _dashboard_cards.append((card, perm))
        return card

    return register(func) if func is not None else register


def dashboard_cards(tenant, role: str):
    cards = []
    for func, perm in _dashboard_cards:
        if role_has(role, perm):
            cards.extend(func(tenant))
    return cards


def memberships_for_user(user):
    """Return the user's memberships across tenants, for the tenant switcher."""
    if not user.is_authenticated:
        return []
    with all_tenants_scope("tenant switcher"):
        return list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name"))


def membership_for(user, tenant):
    """Return the user's membership of the tenant, or None (the caller answers 404)."""
    if not user.is_authenticated:
        return None
    with all_tenants_scope("membership check"):
        return Membership.objects.filter(user=user, tenant=tenant).first()


def tenant_by_slug(slug):
    return Tenant.objects.filter(slug=slug).first()


def members_of(tenant):
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def api_keys_of(tenant):
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")


def active_api_key_count(tenant):
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    return ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).filter(live).count()


def audit_trail_of(tenant, limit=200):
    """Return the tenant's configuration and workflow changes, newest first."""
    return (
        LogEntry.objects.filter(additional_data__tenant=tenant.pk)
        .select_related("actor", "content_type")
        .order_by("-timestamp")[:limit]
    )


def staff_accesses_of(tenant, limit=200):
    return StaffAccess.objects.filter(tenant=tenant).select_related("staff_user")[:limit]
