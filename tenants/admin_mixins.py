"""Admin building blocks for tenant-owned models: a tenant filter, and a record of each staff view."""

from django.contrib import admin

from .services import staff_access_record


class TenantDataAdmin(admin.ModelAdmin):
    """Admin of a tenant-owned model. Every list page and object page shown to staff is recorded per tenant."""

    list_filter = ("tenant",)
    list_select_related = ("tenant",)

    def get_list_filter(self, request):
        filters = tuple(super().get_list_filter(request))
        return filters if "tenant" in filters else ("tenant", *filters)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        tenant_ids = {obj.tenant_id for obj in changelist.result_list}
        if tenant_ids:
            self._record(request, tenant_ids, "list")
        return changelist

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None:
            self._record(request, {obj.tenant_id}, "view", object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def _record(self, request, tenant_ids, action, object_id=""):
        staff_access_record(
            staff_user=request.user,
            tenant_ids=tenant_ids,
            action=action,
            model=self.model._meta.label,
            object_id=object_id,
            path=request.get_full_path(),
        )


class ReadOnlyAdminMixin:
    """Logs are read-only: staff can look, never add or edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
