from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import ApiScope, Tenant, TenantSettings
from .roles import Role

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class TenantContactForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["legal_name", "country", "dpo_name", "dpo_email", "dpo_phone"]


class TenantSettingsForm(forms.ModelForm):
    ai_excluded_fields = forms.MultipleChoiceField(
        label=_("Fields never sent to an AI"),
        choices=TenantSettings.AI_EXCLUDABLE_FIELDS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    calling_days = forms.TypedMultipleChoiceField(
        label=_("Calling days"), choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = TenantSettings
        fields = [
            "recording_enabled",
            "retention_recordings_days",
            "retention_transcripts_days",
            "retention_reports_days",
            "retention_ai_payloads_days",
            "retention_ai_metadata_days",
            "retention_rights_files_days",
            "retention_technical_logs_days",
            "human_transfer_number",
            "ai_excluded_fields",
            "log_ai_request_payloads",
            "default_legal_basis",
            "calling_window_start",
            "calling_window_end",
            "calling_days",
            "calling_timezone",
        ]
        widgets = {
            "calling_window_start": forms.TimeInput(attrs={"type": "time"}),
            "calling_window_end": forms.TimeInput(attrs={"type": "time"}),
        }

    def clean_calling_timezone(self):
        import zoneinfo

        value = self.cleaned_data["calling_timezone"]
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone; use a name such as Europe/Paris."))
        return value


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple
    )
    expires_at = forms.DateTimeField(
        label=_("Expires"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


def show_service_errors(error: ValidationError, *forms_: forms.Form) -> None:
    """Put a service's ValidationError on the forms a page shows: each message goes to the form that has its field
    (else the first form), on that field, or on the form itself when no form has it."""
    detail = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, messages in detail.items():
        target = next((form for form in forms_ if field in form.fields), forms_[0])
        for message in messages:
            target.add_error(field if field in target.fields else None, message)
