"""The record of processing in the Django admin: CALLKOM staff download any tenant's record from its page.

The tenant admin belongs to the tenants app, which must not import compliance; so compliance extends it here (the
same admin with two download links) and re-registers it. Each download is a staff access to the tenant's data and
is recorded as such (``StaffAccess``, shown to the tenant).
"""

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tenants.admin import TenantAdmin
from tenants.models import Tenant
from tenants.scope import tenant_scope
from tenants.services import staff_access_record

from .records import processing_record, record_csv, record_filename, record_pdf

FORMATS = {"csv": ("text/csv; charset=utf-8", record_csv), "pdf": ("application/pdf", record_pdf)}


class TenantRecordAdmin(TenantAdmin):
    readonly_fields = [*TenantAdmin.readonly_fields, "processing_record"]

    def get_urls(self):
        view = self.admin_site.admin_view(self.processing_record_view)
        return [path("<int:tenant_id>/processing-record.<str:extension>", view,
                     name="tenants_tenant_processing_record"), *super().get_urls()]

    @admin.display(description=_("Record of processing (GDPR Art. 30(2))"))
    def processing_record(self, tenant):
        if tenant.pk is None:
            return "—"
        links = [(reverse("admin:tenants_tenant_processing_record", args=[tenant.pk, extension]), extension.upper())
                 for extension in FORMATS]
        return format_html('<a href="{}">{}</a> · <a href="{}">{}</a>', *(part for link in links for part in link))

    def processing_record_view(self, request, tenant_id, extension):
        """Build the tenant's record in its scope, log the access, send the file."""
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None or extension not in FORMATS or not self.has_view_permission(request, tenant):
            raise Http404("No such record.")
        with tenant_scope(tenant):
            record = processing_record(tenant)
            content_type, render = FORMATS[extension]
            content = render(record)
        staff_access_record(staff_user=request.user, tenant_ids=[tenant.pk], action="export",
                            model="compliance.ProcessingRecord", object_id=str(tenant.pk), path=request.get_full_path())
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{record_filename(record, extension)}"'
        response["Cache-Control"] = "private, no-store"
        return response


admin.site.unregister(Tenant)
admin.site.register(Tenant, TenantRecordAdmin)
