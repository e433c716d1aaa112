from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from . import services
from .admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin
from .models import ApiKey, IdempotencyRecord, Membership, StaffAccess, Tenant, TenantSettings, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class _TenantSettingsFormSet(BaseInlineFormSet):
    def save_new(self, form, commit=True):
        """Write the add form's settings into the row that ``Tenant.save()`` has just created."""
        form.instance.pk = self.instance.settings.pk
        form.instance._state.adding = False
        return super().save_new(form, commit)


class TenantSettingsInline(admin.StackedInline):
    model = TenantSettings
    formset = _TenantSettingsFormSet
    can_delete = False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "status", "region_policy", "created_at"]
    list_filter = ["status", "region_policy", "country"]
    search_fields = ["name", "slug", "legal_name"]
    readonly_fields = ["status"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TenantSettingsInline]
    actions = ["suspend", "reactivate"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if object_id:
            services.staff_access_record(staff_user=request.user, tenant_ids=[int(object_id)], action="view",
                                         model="tenants.Tenant", object_id=object_id, path=request.get_full_path())
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Suspend the selected tenants"))
    def suspend(self, request, queryset):
        for tenant in queryset:
            services.tenant_set_status(tenant=tenant, status=Tenant.Status.SUSPENDED)
        self.message_user(request, _("Suspended."), messages.SUCCESS)

    @admin.action(description=_("Reactivate the selected tenants"))
    def reactivate(self, request, queryset):
        for tenant in queryset:
            services.tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE)
        self.message_user(request, _("Reactivated."), messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(TenantDataAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name"]
    raw_id_fields = ["user"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantDataAdmin):
    list_display = ["name", "prefix", "tenant", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "last_used_at", "revoked_at", "created_by", "created_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # A key's secret is shown once to whoever creates it: customers in the portal, or create_api_key.
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, _("Revoked."), messages.SUCCESS)


@admin.register(StaffAccess)
class StaffAccessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "staff_user", "tenant", "action", "model", "object_id"]
    list_filter = ["tenant", "action", "model"]
    date_hierarchy = "at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    """API answers kept under an Idempotency-Key (24 hours). The stored answer itself is not shown: it may hold
    personal data, and staff need only know the request happened and how it ended."""

    list_display = ["key", "tenant", "method", "path", "status_code", "created_at", "completed_at"]
    search_fields = ["key", "path"]
    fields = ["tenant", "key", "method", "path", "fingerprint", "status_code", "created_at", "completed_at"]
    readonly_fields = fields
