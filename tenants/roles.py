"""Portal roles and what each may do. Views ask for a permission, never for a role."""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Administrator")
    CAMPAIGN_MANAGER = "campaign_manager", _("Campaign manager")
    VIEWER = "viewer", _("Viewer")
    DPO = "dpo", _("Data protection officer")


class Perm(StrEnum):
    VIEW = "view"  # the portal, calls and reports
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_API_KEYS = "manage_api_keys"
    RUN_CAMPAIGNS = "run_campaigns"
    HANDLE_PRIVACY = "handle_privacy"  # rights requests, retention, incidents, DPA
    VIEW_AUDIT = "view_audit"


ROLE_PERMS = {
    Role.OWNER: set(Perm),
    Role.ADMIN: {
        Perm.VIEW,
        Perm.MANAGE_SETTINGS,
        Perm.MANAGE_MEMBERS,
        Perm.MANAGE_API_KEYS,
        Perm.RUN_CAMPAIGNS,
        Perm.VIEW_AUDIT,
    },
    Role.CAMPAIGN_MANAGER: {Perm.VIEW, Perm.RUN_CAMPAIGNS},
    Role.VIEWER: {Perm.VIEW},
    Role.DPO: {Perm.VIEW, Perm.HANDLE_PRIVACY, Perm.VIEW_AUDIT},
}


def role_has(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMS.get(role, set())
