from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Event, WebhookDelivery

EVENT_CHOICES = [(value, label) for value, label in Event.choices if value != Event.PING]


class EndpointForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("An https:// address of your system that accepts POST requests."))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(label=_("Events"), choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple,
                                       initial=[Event.CALL_COMPLETED, Event.REPORT_READY])
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class EmailNotificationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    events = forms.MultipleChoiceField(label=_("Events"), choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)
    include_report = forms.BooleanField(
        label=_("Include the content (for a report: the name, contact details and need of the person called)"),
        required=False,
        help_text=_("Otherwise the e-mail holds a link to the portal only, and no personal data."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All"))] + list(WebhookDelivery.Status.choices))
