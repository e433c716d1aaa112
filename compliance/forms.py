"""Forms of the rights-request pages: the public form and code, the controller's actions, and staff intake."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from tenants.crypto import email_index, normalize_phone, phone_index
from tenants.models import Tenant

from .models import LegalHold, RequestChannel, RequestType, RightsRequest
from .rights import EXTENSION_MONTHS, TEXT_MAX

# The honeypot: hidden from people by CSS, filled in by form-filling robots.
HONEYPOT = "website"


def errors_onto(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields when it names them, else on the whole form."""
    detail = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, messages in detail.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _clean_phone(value: str) -> str:
    return normalize_phone(value) if value else ""


class RightsRequestForm(forms.Form):
    requester_name = forms.CharField(label=_("Your name"), max_length=200)
    requester_email = forms.EmailField(
        label=_("Your e-mail address"), max_length=254,
        help_text=_("We send a code to this address to check that it is yours, then our answers."),
    )
    requester_phone = forms.CharField(
        label=_("The phone number that was called"), max_length=32, required=False,
        help_text=_("A number outside France starts with its country code, e.g. +32 2 123 45 67."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    company_named = forms.CharField(label=_("The company that called you, if you know it"), max_length=200,
                                    required=False)
    kind = forms.ChoiceField(label=_("What do you ask for?"), choices=RequestType.choices, widget=forms.RadioSelect)
    details = forms.CharField(
        label=_("Details"), max_length=TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("For example the date of the call, or what should be corrected."),
    )
    about_callkom = forms.BooleanField(
        label=_("My request is about CALLKOM itself (for example my account on the portal), not about a call."),
        required=False,
    )
    website = forms.CharField(label=_("Leave this field empty"), required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def clean_requester_phone(self):
        return _clean_phone(self.cleaned_data["requester_phone"].strip())

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("about_callkom") and not cleaned.get("requester_phone") and "requester_phone" in cleaned:
            self.add_error("requester_phone", _("Give the phone number that was called, so that we can find the "
                                                "company that called it."))
        return cleaned

    def submission(self) -> dict:
        """The arguments of rights.request_submit (everything but the honeypot)."""
        return {name: value for name, value in self.cleaned_data.items() if name != HONEYPOT}


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=20,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split()).replace("-", "")
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise ValidationError(_("The code has 6 digits."))
        return code


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect,
                                 choices=[("approve", _("Approve the request")), ("deny", _("Deny the request"))])
    reason = forms.CharField(
        label=_("Reason"), max_length=TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent to the requester. Required for a denial, with the legal ground."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "deny" and not cleaned.get("reason", "").strip():
            self.add_error("reason", _("Give the reason for the refusal: it is sent to the requester."))
        return cleaned


class ExtensionForm(forms.Form):
    months = forms.TypedChoiceField(
        label=_("Extend by"), coerce=int, initial=2,
        choices=[(months, ngettext_lazy("%(months)d month", "%(months)d months", "months") % {"months": months})
                 for months in EXTENSION_MONTHS],
    )
    reason = forms.CharField(label=_("Reason"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Sent to the requester: why the request needs more time."))


class CommentForm(forms.Form):
    note = forms.CharField(label=_("Comment"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3}))


class RectificationForm(forms.Form):
    """The controller's corrections to the requester's data; an empty field is left as it is."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail address"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone number"), max_length=32, required=False,
                            widget=forms.TextInput(attrs={"type": "tel"}))
    company = forms.CharField(label=_("Company"), max_length=200, required=False)

    def clean_phone(self):
        return _clean_phone(self.cleaned_data["phone"].strip())

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not any(str(value).strip() for value in cleaned.values()):
            raise ValidationError(_("Enter at least one correction."))
        return cleaned

    def changes(self) -> dict[str, str]:
        return {field: value.strip() for field, value in self.cleaned_data.items() if value.strip()}


class ConfirmForm(forms.Form):
    """Staff's confirmation before carrying out a copy (an erasure cannot be undone)."""

    confirm = forms.BooleanField(label=_("Carry it out now, for this company's data"))


class NoteForm(forms.Form):
    """Staff's note on a status change (the reason of a decision, sent to the requester)."""

    note = forms.CharField(label=_("Note"), max_length=TEXT_MAX, required=False,
                           widget=forms.Textarea(attrs={"rows": 4}))


class ForwardForm(NoteForm):
    tenants = forms.ModelMultipleChoiceField(label=_("Companies"), queryset=Tenant.objects.order_by("name"),
                                             widget=forms.CheckboxSelectMultiple)


class StaffIntakeForm(forms.ModelForm):
    """A request received by phone, post or e-mail and entered by CALLKOM staff."""

    channel = forms.ChoiceField(label=_("Received by"),
                                choices=[(c.value, c.label) for c in RequestChannel if c != RequestChannel.WEB])
    requester_phone = forms.CharField(label=_("Phone number called"), max_length=32, required=False)
    note = forms.CharField(label=_("How the identity was checked"), max_length=TEXT_MAX,
                           widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = RightsRequest
        fields = ["kind", "channel", "language", "received_at", "requester_name", "requester_email",
                  "requester_phone", "company_named", "details", "about_callkom"]

    def clean_requester_phone(self):
        return _clean_phone(self.cleaned_data["requester_phone"].strip())

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("requester_email") and not cleaned.get("requester_phone") and not self.errors:
            raise ValidationError(_("Give an e-mail address or a phone number: without one the request cannot be "
                                    "routed."))
        return cleaned

    def clean_received_at(self):
        received_at = self.cleaned_data["received_at"]
        if received_at > timezone.now():
            raise ValidationError(_("The date of receipt cannot be in the future."))
        return received_at

    def intake(self) -> dict:
        """The arguments of rights.request_intake."""
        return dict(self.cleaned_data)


class LegalHoldForm(forms.ModelForm):
    """A hold placed by CALLKOM staff (an incident, a dispute). The person is found by phone number or e-mail, and
    only their blind indexes are stored."""

    phone = forms.CharField(label=_("Phone number"), max_length=32, required=False)
    email = forms.EmailField(label=_("E-mail address"), required=False)

    class Meta:
        model = LegalHold
        fields = ["tenant", "reason", "note"]

    def clean_phone(self):
        return _clean_phone(self.cleaned_data["phone"].strip())

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("phone") and not cleaned.get("email"):
            raise ValidationError(_("Give the phone number or the e-mail address of the person to hold."))
        return cleaned

    def hold(self) -> dict:
        """The arguments of services.legal_hold_place."""
        data = self.cleaned_data
        return {"tenant": data["tenant"], "reason": data["reason"], "note": data["note"],
                "phone_index": phone_index(data["phone"]) if data["phone"] else "",
                "email_index": email_index(data["email"]) if data["email"] else ""}
