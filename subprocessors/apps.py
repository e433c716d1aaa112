from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubprocessorsConfig(AppConfig):
    name = "subprocessors"
    verbose_name = _("Subprocessors")

    def ready(self):
        from tenants import audit

        from .models import ChangeNotice, Objection, Subprocessor

        audit.register(Subprocessor)
        audit.register(ChangeNotice)
        # The reason is the customer's free text (it may name people): the audit follows the workflow, not it.
        audit.register(Objection, exclude_fields=["reason"])
