from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self):
        from django.urls import reverse
        from django.utils.translation import gettext_lazy

        from . import audit, schema, selectors  # noqa: F401 - schema registers the OpenAPI extension
        from .models import ApiKey, Membership, Tenant, TenantSettings, User

        audit.register(Tenant)
        audit.register(TenantSettings)
        audit.register(Membership)
        audit.register(ApiKey, secret_fields=["key_hash"], exclude_fields=["last_used_at"])
        audit.register(User, secret_fields=["password"], exclude_fields=["last_login"])

        @selectors.register_dashboard_card
        def membership_cards(tenant):
            return [
                (gettext_lazy("Members"), selectors.members_of(tenant).count(),
                 reverse("members", kwargs={"tenant_slug": tenant.slug})),
                (gettext_lazy("Active API keys"), selectors.active_api_key_count(tenant), None),
            ]
