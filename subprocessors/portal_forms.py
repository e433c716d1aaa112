"""Forms of the portal's subprocessor pages."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .notices import REASON_MAX_LENGTH


class ObjectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Why does your company object to this change?"), max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("CALLKOM reads it and answers. Please name no one: a reason needs no personal data."),
    )

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's ValidationError on the reason when it names it, else on the whole form."""
        detail = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for field, messages in detail.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
