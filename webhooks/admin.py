from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from . import services
from .models import EmailNotification, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """Endpoints belong to the customer, who manages them in the portal; staff look, and never see a secret."""

    list_display = ["url", "tenant", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    exclude = ["secret", "previous_secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """Deliveries, without their body (personal data); a dead one can be redelivered, as in the portal."""

    list_display = ["id", "tenant", "endpoint", "event", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    list_select_related = ["tenant", "endpoint"]
    date_hierarchy = "created_at"
    exclude = ["payload"]
    actions = ["redeliver"]

    @admin.action(description=_("Redeliver the selected failed deliveries"))
    def redeliver(self, request, queryset):
        queued = sum(services.delivery_redeliver(delivery=delivery) for delivery in queryset)
        skipped = len(queryset) - queued
        self.message_user(request, ngettext("%(n)d delivery queued.", "%(n)d deliveries queued.", queued)
                          % {"n": queued}, messages.SUCCESS)
        if skipped:
            self.message_user(request, ngettext(
                "%(n)d was not dead (delivered, or already queued) and was left alone.",
                "%(n)d were not dead (delivered, or already queued) and were left alone.", skipped,
            ) % {"n": skipped}, messages.INFO)


@admin.register(EmailNotification)
class EmailNotificationAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["email", "tenant", "include_report", "active", "created_at"]
    list_filter = ["active", "include_report"]
