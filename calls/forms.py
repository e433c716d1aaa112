"""Forms of the calls portal pages."""

import datetime

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from tenants.crypto import normalize_phone

from .models import Call, Script
from .selectors import Cursor, CursorError, cursor_decode

# Call.Outcome.PENDING is the empty string, which a <select> cannot tell from "any outcome".
OUTCOME_PENDING = "pending"

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 200


# Far-off days overflow when shifted to UTC; no call is older than the product or centuries ahead.
DATE_RANGE = [MinValueValidator(datetime.date(2000, 1, 1)), MaxValueValidator(datetime.date(2999, 12, 31))]


def _any(choices):
    return [("", _("Any")), *choices]


class CallFilterForm(forms.Form):
    """Validate the call list's query string: the filters, the page size and the opaque cursor.

    ``filters()`` returns keyword arguments for ``selectors.calls_filtered``: a new filter (a campaign, say) is one
    more field here and one more keyword there.
    """

    date_from = forms.DateField(label=_("From"), required=False, validators=DATE_RANGE,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, validators=DATE_RANGE,
                              widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_any(Call.Status.choices))
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=_any([(OUTCOME_PENDING if value == "" else value, label) for value, label in Call.Outcome.choices]),
    )
    direction = forms.ChoiceField(label=_("Direction"), required=False, choices=_any(Call.Direction.choices))
    script = forms.ModelChoiceField(label=_("Script"), required=False, queryset=None,
                                    empty_label=_("Any"))
    per_page = forms.IntegerField(label=_("Per page"), required=False, min_value=1, max_value=PER_PAGE_MAX,
                                  widget=forms.NumberInput(attrs={"placeholder": PER_PAGE_DEFAULT}))
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        # Built here, not at import: the tenant-scoped manager refuses to query outside a request's scope.
        self.fields["script"].queryset = Script.objects.filter(tenant=tenant).only("id", "name").order_by("name")

    def clean_cursor(self) -> Cursor | None:
        value = self.cleaned_data["cursor"]
        if not value:
            return None
        try:
            return cursor_decode(value)
        except CursorError:
            raise forms.ValidationError(
                _("This page link is not valid (it may have been cut or edited). Start again from the first page."),
                code="invalid_cursor",
            )

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", _("The end date must not be before the start date."))
        return cleaned

    def filters(self) -> dict:
        """Return the validated filters as keyword arguments of ``selectors.calls_filtered``."""
        data = self.cleaned_data
        outcome = data["outcome"]
        return {
            "date_from": data["date_from"],
            "date_to": data["date_to"],
            "status": data["status"] or None,
            "outcome": ("" if outcome == OUTCOME_PENDING else outcome) if outcome else None,
            "direction": data["direction"] or None,
            "script": data["script"],
        }

    def page_size(self) -> int:
        return self.cleaned_data.get("per_page") or PER_PAGE_DEFAULT


class OutboundCallForm(forms.Form):
    """Place one call from the portal: which script, to whom (campaigns place many)."""

    script = forms.ModelChoiceField(label=_("Script"), queryset=None)  # the tenant's, set per form
    phone = forms.CharField(label=_("Phone number"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["script"].queryset = Script.objects.filter(tenant=tenant).order_by("name")

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])


class DoNotCallForm(forms.Form):
    phone = forms.CharField(label=_("Phone number"), max_length=32)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])
