"""Forms of the public register pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

# The honeypot: hidden from people by CSS, filled in by form-filling robots.
HONEYPOT = "website"


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"), max_length=254,
        help_text=_("We send you a link to confirm; nothing is sent to you before you confirm."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    website = forms.CharField(label=_("Leave this field empty"), required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "subscribe_%s")
        super().__init__(*args, **kwargs)
