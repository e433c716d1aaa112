from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tenants.admin_mixins import ReadOnlyAdminMixin, TenantDataAdmin

from .donotcall import platform_do_not_call_add
from .models import (
    Call,
    CallReport,
    Contact,
    DoNotCall,
    InboundNumber,
    PlatformDoNotCall,
    Recording,
    Script,
    SupervisorAction,
    Utterance,
)


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


class SupervisorActionInline(admin.TabularInline):
    model = SupervisorAction
    fields = ["at", "user", "action", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["id", "tenant", "direction", "channel", "status", "outcome", "created_at", "ended_at"]
    list_filter = ["status", "direction", "channel", "outcome", "special_category"]
    date_hierarchy = "created_at"
    inlines = [CallReportInline, SupervisorActionInline, UtteranceInline]


@admin.register(InboundNumber)
class InboundNumberAdmin(TenantDataAdmin):
    list_display = ["number", "tenant", "script", "created_at"]
    search_fields = ["number"]


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["call", "tenant", "duration_ms", "size_bytes", "created_at"]


@admin.register(DoNotCall)
class DoNotCallAdmin(ReadOnlyAdminMixin, TenantDataAdmin):
    list_display = ["pk", "tenant", "source", "created_at"]
    list_filter = ["source"]
    exclude = ["phone_index"]


class PlatformDoNotCallForm(forms.ModelForm):
    phone = forms.CharField(label=_("Phone number"), max_length=32)

    class Meta:
        model = PlatformDoNotCall
        fields = ["source"]

    def clean_phone(self):
        from tenants.crypto import normalize_phone

        return normalize_phone(self.cleaned_data["phone"])


@admin.register(PlatformDoNotCall)
class PlatformDoNotCallAdmin(admin.ModelAdmin):
    """Only the blind index is kept: staff can add a number and find it again, never read the list back."""

    form = PlatformDoNotCallForm
    list_display = ["pk", "source", "created_at"]
    list_filter = ["source"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = platform_do_not_call_add(phone=form.cleaned_data["phone"], source=form.cleaned_data["source"])
        obj.pk = saved.pk
