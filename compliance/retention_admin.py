"""Staff screens of retention: every tenant's runs, read-only, and a button to run retention now for a tenant.

``admin.py`` imports this module, which registers the admin.
"""

from django.contrib import admin, messages
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from . import tasks
from .models import RetentionCategory, RetentionRun


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["started_at", "tenant", "status", "trigger", "deleted", "finished_at"]
    list_filter = ["status", "trigger"]
    date_hierarchy = "started_at"
    fields = ["tenant", "status", "trigger", "started_at", "finished_at", "per_category", "cutoffs", "error"]
    readonly_fields = fields
    actions = ["run_now"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("deleted"))
    def deleted(self, obj):
        return sum(obj.counts.values())

    @admin.display(description=_("per category"))
    def per_category(self, obj):
        """Deleted, and kept under a legal hold (once the category is done), category by category."""
        rows = [(label, obj.counts.get(value, 0), obj.held.get(value, "…"))
                for value, label in RetentionCategory.choices]
        return format_html_join("", "<div>{}: {} deleted, {} kept</div>", rows)

    @admin.action(description=_("Run retention now for the tenants of the selected runs"), permissions=["view"])
    def run_now(self, request, queryset):
        """Queue a run per tenant (a run interrupted earlier is resumed rather than started again)."""
        tenant_ids = sorted(set(queryset.values_list("tenant_id", flat=True)))
        if tenant_ids:
            self._record(request, set(tenant_ids), "change")
        for tenant_id in tenant_ids:
            tasks.purge_expired.delay(tenant_id=tenant_id, trigger=RetentionRun.Trigger.STAFF)
        messages.success(request, ngettext("Retention queued for %(count)d tenant.",
                                           "Retention queued for %(count)d tenants.", len(tenant_ids))
                         % {"count": len(tenant_ids)})
