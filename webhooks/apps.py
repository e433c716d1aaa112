from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from tenants import audit

        from .models import EmailNotification, WebhookEndpoint

        audit.register(WebhookEndpoint, secret_fields=["secret"])
        audit.register(EmailNotification)

        # Deliveries are purged by retention (technical logs). The registry is imported here, not at module level:
        # compliance itself imports webhooks (to emit events).
        from compliance.registry import register_retention_handler

        from .privacy import WebhooksRetention

        register_retention_handler(WebhooksRetention())
