from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubprocessorsConfig(AppConfig):
    name = "subprocessors"
    verbose_name = _("Subprocessors")

    def ready(self):
        from tenants import audit

        from .models import Subprocessor

        audit.register(Subprocessor)
