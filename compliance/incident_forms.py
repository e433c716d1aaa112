"""Staff forms of the AI incident register (Django admin)."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant

from . import incidents
from .forms import errors_onto
from .models import Incident

NOTICE_HELP = _("Shown to this customer only, in its portal; the e-mail only links to it. Write it in the "
                "customer's language.")


class IncidentForm(forms.ModelForm):
    """The facts staff record and correct while investigating; status and breach change through their buttons."""

    class Meta:
        model = Incident
        fields = ["title", "category", "severity", "detected_at", "description", "corrective_actions"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("detected_at"):
            try:
                incidents.check_detected_at(cleaned["detected_at"], breach_aware_at=self.instance.breach_aware_at)
            except ValidationError as error:
                errors_onto(self, error)
        return cleaned


class TransitionForm(forms.Form):
    """Moving an incident along needs nothing more than a confirmation."""


class CloseForm(forms.Form):
    corrective_actions = forms.CharField(label=_("Corrective actions"), widget=forms.Textarea(attrs={"rows": 4}))
    closure_note = forms.CharField(label=_("Closure note"), widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text=_("What was concluded: cause, people and customers affected, what "
                                               "prevents it from happening again."))


class BreachForm(forms.Form):
    aware_at = forms.DateTimeField(label=_("CALLKOM knew of the breach since"), initial=timezone.now,
                                   help_text=_("The 72-hour clock of GDPR Art. 33 starts here."))


class ImpactForm(forms.Form):
    """A customer touched, with some of its calls; again for the same customer adds calls and replaces the notice."""

    tenant = forms.ModelChoiceField(label=_("Customer"), queryset=Tenant.objects.order_by("name"))
    call_ids = forms.CharField(label=_("Calls affected"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text=_("Call ids, separated by spaces, commas or new lines."))
    notice = forms.CharField(label=_("Notice to the customer"), required=False, help_text=NOTICE_HELP,
                             widget=forms.Textarea(attrs={"rows": 4}))

    def clean_call_ids(self):
        return [value for value in re.split(r"[\s,;]+", self.cleaned_data["call_ids"]) if value]

    def clean_notice(self):
        """None, when empty, leaves the customer's current notice as it is (incidents.impact_add)."""
        return self.cleaned_data["notice"] or None


class NoticeForm(forms.Form):
    notice = forms.CharField(label=_("Notice to the customer"), required=False, help_text=NOTICE_HELP,
                             widget=forms.Textarea(attrs={"rows": 6}))


class EscalateNewForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=Incident.Category.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Incident.Severity.choices)


class EscalateExistingForm(forms.Form):
    incident = forms.ModelChoiceField(label=_("Incident"),
                                      queryset=Incident.objects.exclude(status=Incident.Status.CLOSED))
