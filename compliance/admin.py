from django.contrib import admin

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from .models import AIInvocation, IncidentCandidate


@admin.register(AIInvocation)
class AIInvocationAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["started_at", "tenant", "role", "provider", "model", "region", "outcome", "duration_ms",
                    "request_bytes", "no_training"]
    list_filter = ["role", "outcome", "provider"]
    exclude = ["payload"]
    date_hierarchy = "started_at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IncidentCandidate)
class IncidentCandidateAdmin(TenantDataAdmin):
    list_display = ["detected_at", "tenant", "reason", "provider", "status"]
    list_filter = ["status", "reason"]
    readonly_fields = ["call_id", "detected_at", "source", "reason", "provider", "excerpt"]

    def has_add_permission(self, request):
        return False
