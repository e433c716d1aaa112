from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Calls")

    def ready(self):
        from tenants import audit

        from .models import Call, DoNotCall, InboundNumber, Script, SupervisorAction

        audit.register(Script)
        audit.register(InboundNumber)
        audit.register(SupervisorAction)
        audit.register(DoNotCall, secret_fields=["phone_index"])
        audit.register(Call, exclude_fields=["turn_metrics", "providers_used"])

        from django.urls import reverse
        from django.utils.http import urlencode

        from tenants.selectors import register_dashboard_card

        from . import selectors as call_selectors

        @register_dashboard_card
        def call_cards(tenant):
            stats = call_selectors.call_stats_this_month(tenant)
            list_url = reverse("call-list", kwargs={"tenant_slug": tenant.slug})
            since = {"date_from": stats["month_start"].isoformat()}
            return [
                (_("Calls this month"), stats["total"], f"{list_url}?{urlencode(since)}"),
                (_("Completed this month"), stats["completed"],
                 f"{list_url}?{urlencode({**since, 'status': Call.Status.COMPLETED})}"),
                (_("Appointments this month"), stats["appointments"],
                 f"{list_url}?{urlencode({**since, 'outcome': Call.Outcome.APPOINTMENT})}"),
            ]

        # Rights requests reach contacts, calls and do-not-call entries through the compliance registry only.
        from compliance.registry import register_handler

        from .personal_data import CallsPersonalData

        register_handler(CallsPersonalData())

        # The record of processing (GDPR Art. 30(2)) asks each app for its figures; compliance never imports calls.
        from compliance.records import register_processing_facts

        from .processing_facts import calls_processing_facts

        register_processing_facts(calls_processing_facts)
