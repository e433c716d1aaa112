from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from .donotcall import platform_do_not_call_add
from .models import (
    Call,
    CallReport,
    Campaign,
    CampaignTarget,
    Contact,
    ContactImport,
    ContactList,
    DialerSkip,
    DoNotCall,
    InboundNumber,
    PlatformDoNotCall,
    Recording,
    RiskFinding,
    Script,
    SupervisorAction,
    Utterance,
)


@admin.register(Script)
class ScriptAdmin(TenantDataAdmin):
    list_display = ["name", "tenant", "language", "max_duration_s", "created_at"]
    list_filter = ["language"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["pk", "tenant", "created_at"]
    exclude = ["phone_index", "email_index"]


class UtteranceInline(admin.TabularInline):
    model = Utterance
    fields = ["seq", "speaker", "text", "interrupted", "started_ms", "ended_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CallReportInline(admin.StackedInline):
    model = CallReport
    exclude = ["phone_index", "email_index"]
    readonly_fields = ["summary", "name", "phone", "email", "company", "need", "appointment_at", "appointment_tz",
                       "next_step", "confidence", "special_category", "source", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class SupervisorActionInline(admin.TabularInline):
    model = SupervisorAction
    fields = ["at", "user", "action", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["id", "tenant", "direction", "channel", "status", "outcome", "created_at", "ended_at"]
    list_filter = ["status", "direction", "channel", "outcome", "special_category"]
    date_hierarchy = "created_at"
    inlines = [CallReportInline, SupervisorActionInline, UtteranceInline]


@admin.register(InboundNumber)
class InboundNumberAdmin(TenantDataAdmin):
    list_display = ["number", "tenant", "script", "created_at"]
    search_fields = ["number"]


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["call", "tenant", "duration_ms", "size_bytes", "created_at"]


@admin.register(DoNotCall)
class DoNotCallAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["pk", "tenant", "source", "created_at"]
    list_filter = ["source"]
    exclude = ["phone_index"]


class PlatformDoNotCallForm(forms.ModelForm):
    phone = forms.CharField(label=_("Phone number"), max_length=32)

    class Meta:
        model = PlatformDoNotCall
        fields = ["source"]

    def clean_phone(self):
        from tenants.crypto import normalize_phone

        return normalize_phone(self.cleaned_data["phone"])


@admin.register(PlatformDoNotCall)
class PlatformDoNotCallAdmin(admin.ModelAdmin):
    """Only the blind index is kept: staff can add a number and find it again, never read the list back."""

    form = PlatformDoNotCallForm
    list_display = ["pk", "source", "created_at"]
    list_filter = ["source"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = platform_do_not_call_add(phone=form.cleaned_data["phone"], source=form.cleaned_data["source"])
        obj.pk = saved.pk


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
        from .campaign_selectors import campaign_progress

        progress = campaign_progress(campaign=obj)
        return ", ".join(f"{label}: {count}" for _value, label, count in progress.rows()) or "—"

    @admin.display(description=_("skips by reason"))
    def skips_by_reason(self, obj):
        from .campaign_selectors import campaign_skip_counts

        return ", ".join(f"{label}: {count}" for _reason, label, count in campaign_skip_counts(campaign=obj)) or "—"

    @admin.action(description=_("Pause the selected running campaigns"))
    def pause_campaigns(self, request, queryset):
        from .campaigns import campaign_pause

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


# --- contact lists, imports and risk findings (issue 5) -----------------------------------------------------------

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
