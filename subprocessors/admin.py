from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Subprocessor


@admin.register(Subprocessor)
class SubprocessorAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "processing_region", "transfer_mechanism", "status", "temporarily_disabled"]
    list_filter = ["role", "status", "processing_region", "temporarily_disabled"]
    search_fields = ["name", "slug", "legal_entity"]
    readonly_fields = ["temporarily_disabled", "disabled_reason"]
    actions = ["deactivate", "reactivate"]

    @admin.action(description=_("Temporarily deactivate (the pipeline falls back)"))
    def deactivate(self, request, queryset):
        for subprocessor in queryset:
            services.subprocessor_set_disabled(subprocessor=subprocessor, disabled=True,
                                               reason=f"Deactivated by {request.user.email}")
        self.message_user(request, _("Deactivated."), messages.SUCCESS)

    @admin.action(description=_("Reactivate"))
    def reactivate(self, request, queryset):
        for subprocessor in queryset:
            services.subprocessor_set_disabled(subprocessor=subprocessor, disabled=False, reason="")
        self.message_user(request, _("Reactivated."), messages.SUCCESS)
