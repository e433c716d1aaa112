from django.contrib import admin

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from .models import Call, CallReport, Contact, InboundNumber, Recording, Script, Utterance


@admin.register(Script)
class ScriptAdmin(TenantDataAdmin):
    list_display = ["name", "tenant", "language", "max_duration_s", "created_at"]
    list_filter = ["language"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["pk", "tenant", "created_at"]
    exclude = ["phone_index", "email_index"]


class UtteranceInline(admin.TabularInline):
    model = Utterance
    fields = ["seq", "speaker", "text", "interrupted", "started_ms", "ended_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CallReportInline(admin.StackedInline):
    model = CallReport
    exclude = ["phone_index", "email_index"]
    readonly_fields = ["summary", "name", "phone", "email", "company", "need", "appointment_at", "appointment_tz",
                       "next_step", "confidence", "special_category", "source", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["id", "tenant", "direction", "channel", "status", "outcome", "created_at", "ended_at"]
    list_filter = ["status", "direction", "channel", "outcome", "special_category"]
    date_hierarchy = "created_at"
    inlines = [CallReportInline, UtteranceInline]


@admin.register(InboundNumber)
class InboundNumberAdmin(TenantDataAdmin):
    list_display = ["number", "tenant", "script", "created_at"]
    search_fields = ["number"]


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["call", "tenant", "duration_ms", "size_bytes", "created_at"]
