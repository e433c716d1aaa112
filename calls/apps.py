from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Calls")

    def ready(self):
        from tenants import audit

        from .models import Call, Script

        audit.register(Script)
        audit.register(Call, exclude_fields=["turn_metrics", "providers_used"])
