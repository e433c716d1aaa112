from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self):
        from tenants import audit

        from .models import IncidentCandidate, LegalHold, RightsRequest, RoutedRequest

        audit.register(IncidentCandidate)
        # Status, deadlines and decisions of requests are workflow state: every change is in the audit log. The
        # blind indexes are left out like secrets; reminder bookkeeping is not a decision.
        audit.register(RightsRequest, secret_fields=["phone_index", "email_index"], exclude_fields=["reminders_sent"])
        audit.register(RoutedRequest, exclude_fields=["reminders_sent"])
        # Placing and releasing a hold is workflow state; whom it holds (the blind indexes) stays out of the log.
        audit.register(LegalHold, secret_fields=["phone_index", "email_index"])

        # Retention of the AI log and of closed rights requests' files goes through the registry like every app's.
        from .privacy import ComplianceRetention
        from .registry import register_retention_handler

        register_retention_handler(ComplianceRetention())

        from django.urls import reverse

        from tenants.roles import Perm
        from tenants.selectors import register_dashboard_card

        from . import selectors

        @register_dashboard_card(perm=Perm.HANDLE_PRIVACY)
        def rights_request_cards(tenant):
            inbox = reverse("privacy-inbox", kwargs={"tenant_slug": tenant.slug})
            return [(_("Rights requests to answer"), selectors.routed_open_count(tenant), inbox)]

        from . import incidents
        from .models import Incident, IncidentImpact

        # An incident's status, severity and breach declaration, and whether and when each customer was told and
        # acknowledged, are workflow state; the encrypted texts stay out of the log like every encrypted field.
        audit.register(Incident)
        audit.register(IncidentImpact)

        @register_dashboard_card(perm=Perm.HANDLE_PRIVACY)
        def incident_notice_cards(tenant):
            notices = reverse("incident-notices", kwargs={"tenant_slug": tenant.slug})
            pending = incidents.tenant_notices_unacknowledged(tenant).count()
            return [(_("AI incident notices to acknowledge"), pending, notices)]
