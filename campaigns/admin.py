from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from .models import Campaign, CampaignTarget, ContactImport, ContactList, DialerSkip, RiskFinding
from .selectors import campaign_progress, campaign_skip_counts
from .services.campaigns import campaign_pause


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """Campaigns are set up in the portal, within the calling rules; staff look, and may pause one that misbehaves."""

    list_display = ["name", "tenant", "status", "audience", "legal_basis", "max_concurrent_calls", "created_at"]
    list_filter = ["status", "audience"]
    search_fields = ["name"]
    readonly_fields = ["targets_by_status", "skips_by_reason"]
    actions = ["pause_campaigns"]

    @admin.display(description=_("targets by status"))
    def targets_by_status(self, obj):
        progress = campaign_progress(campaign=obj)
        return ", ".join(f"{label}: {count}" for _value, label, count in progress.rows()) or "—"

    @admin.display(description=_("skips by reason"))
    def skips_by_reason(self, obj):
        return ", ".join(f"{label}: {count}" for _reason, label, count in campaign_skip_counts(campaign=obj)) or "—"

    @admin.action(description=_("Pause the selected running campaigns"))
    def pause_campaigns(self, request, queryset):
        running = list(queryset.filter(status=Campaign.Status.RUNNING))
        for campaign in running:
            campaign_pause(campaign=campaign)
        self.message_user(request, _("%(count)s campaign(s) paused.") % {"count": len(running)})


@admin.register(CampaignTarget)
class CampaignTargetAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """Where each contact of a campaign stands: how often tried, when next, why last skipped."""

    list_display = ["campaign", "tenant", "contact", "status", "attempts", "next_attempt_at", "last_skip_reason"]
    list_filter = ["status", "last_skip_reason"]


@admin.register(DialerSkip)
class DialerSkipAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["at", "tenant", "campaign", "target", "reason", "retry_at"]
    list_filter = ["reason"]
    date_hierarchy = "at"


@admin.register(ContactList)
class ContactListAdmin(TenantDataAdmin):
    list_display = ["name", "tenant", "legal_basis", "risk_checked_at", "created_at"]
    list_filter = ["legal_basis"]
    search_fields = ["name"]
    readonly_fields = ["risk_checked_at", "created_by", "created_at"]


@admin.register(ContactImport)
class ContactImportAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """Staff see an import's progress and error report, never the uploaded file (it stays encrypted)."""

    list_display = ["file_name", "tenant", "contact_list", "status", "total_rows", "imported_rows", "invalid_rows",
                    "created_at", "finished_at"]
    list_filter = ["status", "file_format"]
    exclude = ["path"]


@admin.register(RiskFinding)
class RiskFindingAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """Read-only: the customer fixes or acknowledges a finding in the portal, under their own name."""

    list_display = ["contact_list", "tenant", "kind", "column", "affected", "status", "resolved_by", "resolved_at"]
    list_filter = ["kind", "status"]
