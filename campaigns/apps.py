from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from tenants import audit

        from .models import Campaign, ContactList, RiskFinding

        audit.register(Campaign)
        audit.register(ContactList)
        audit.register(RiskFinding)

        from django.urls import reverse

        from tenants.selectors import register_dashboard_card

        from . import (
            receivers,  # noqa: F401 - connects to the calls app's signals
            selectors,
        )

        @register_dashboard_card
        def contact_list_cards(tenant):
            counts = selectors.contact_list_counts()
            return [(_("Contact lists needing attention"), counts["needing_attention"],
                     reverse("contact-lists", kwargs={"tenant_slug": tenant.slug}))]

        # Rights requests and retention reach list entries, targets, skips and imports through the registry.
        from compliance.registry import register_handler

        from .personal_data import CampaignsPersonalData

        register_handler(CampaignsPersonalData())

        from compliance.records import register_processing_facts

        from .processing_facts import campaigns_processing_facts

        register_processing_facts(campaigns_processing_facts)
