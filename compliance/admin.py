from django.contrib import admin

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from .models import AIInvocation


@admin.register(AIInvocation)
class AIInvocationAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["started_at", "tenant", "role", "provider", "model", "region", "outcome", "duration_ms",
                    "request_bytes", "no_training"]
    list_filter = ["role", "outcome", "provider"]
    exclude = ["payload"]
    date_hierarchy = "started_at"

    def has_delete_permission(self, request, obj=None):
        return False
