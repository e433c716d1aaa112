"""The campaign form: what to call, on which legal basis, and the calling rules (France's by default)."""

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from tenants.models import LegalBasis

from . import calling_rules
from .campaigns import EDITABLE_FIELDS
from .models import Campaign, ContactList, Script

WINDOWS_HELP = _("Hours in the callee's time zone, e.g. “10:00-13:00, 14:00-20:00”. A window includes its start "
                 "and stops just before its end.")


class CampaignForm(forms.Form):
    """Fields of ``campaigns.campaign_create`` / ``campaign_update``; the windows are typed as text."""

    name = forms.CharField(label=_("Name"), max_length=120)
    script = forms.ModelChoiceField(label=_("Script"), queryset=None)  # the tenant's, set per form
    contact_list = forms.ModelChoiceField(label=_("Contact list"), queryset=None)
    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices, initial=LegalBasis.CONSENT)
    consent_proof = forms.CharField(
        label=_("Consent proof reference"), max_length=200, required=False,
        help_text=_("Where the proof of each person's consent is kept (required when the basis is consent)."))
    audience = forms.ChoiceField(label=_("Who is called"), choices=Campaign.Audience.choices,
                                 initial=Campaign.Audience.CONSUMERS)
    ongoing_contract = forms.BooleanField(
        label=_("The calls are about a contract in progress with each person"), required=False,
        help_text=_("Then consumers need not have consented to canvassing beforehand."))
    calling_days = forms.TypedMultipleChoiceField(
        label=_("Calling days"), coerce=int, choices=sorted(WEEKDAYS.items()), widget=forms.CheckboxSelectMultiple,
        initial=list(calling_rules.FRENCH_DAYS))
    calling_windows = forms.CharField(label=_("Calling hours"), max_length=200, help_text=WINDOWS_HELP,
                                      initial=calling_rules.format_windows(calling_rules.FRENCH_WINDOWS))
    skip_public_holidays = forms.BooleanField(label=_("Not on public holidays"), required=False, initial=True)
    default_timezone = forms.CharField(
        label=_("Time zone when the number does not tell"), max_length=64, initial=calling_rules.METROPOLITAN_ZONE,
        help_text=_("The callee's time zone comes from their contact card, else from their number."))
    max_attempts = forms.IntegerField(label=_("Attempts per number"), min_value=1, max_value=20,
                                      initial=calling_rules.FRENCH_MAX_ATTEMPTS)
    attempts_period_days = forms.IntegerField(label=_("Over this many days"), min_value=1, max_value=365,
                                              initial=calling_rules.FRENCH_ATTEMPTS_PERIOD_DAYS)
    refusal_cooldown_days = forms.IntegerField(label=_("No new call after a refusal for (days)"), min_value=0,
                                               max_value=3650, initial=calling_rules.FRENCH_REFUSAL_COOLDOWN_DAYS)
    retry_delay_minutes = forms.IntegerField(label=_("Retry after no answer (minutes)"), min_value=5,
                                             max_value=60 * 24 * 30, initial=240)
    max_concurrent_calls = forms.IntegerField(label=_("Calls at the same time"), min_value=1, max_value=100,
                                              initial=2)

    def __init__(self, *args, tenant, campaign: Campaign | None = None, **kwargs):
        if campaign is not None:
            kwargs["initial"] = {name: getattr(campaign, name) for name in EDITABLE_FIELDS} | {
                "calling_windows": calling_rules.format_windows(campaign.calling_windows)}
        super().__init__(*args, **kwargs)
        # Built here, not at import: the tenant-scoped manager refuses to query outside a request's scope.
        self.fields["script"].queryset = Script.objects.filter(tenant=tenant).order_by("name")
        self.fields["contact_list"].queryset = ContactList.objects.filter(tenant=tenant).order_by("name")
        if campaign is not None and campaign.status != Campaign.Status.DRAFT:
            self.fields["script"].disabled = self.fields["contact_list"].disabled = True

    def clean_calling_windows(self) -> list[list[str]]:
        try:
            return calling_rules.parse_windows(self.cleaned_data["calling_windows"])
        except ValueError as error:
            raise forms.ValidationError(
                _("%(problem)s Write the hours like “10:00-13:00, 14:00-20:00”: start before end, no overlap.")
                % {"problem": error}, code="invalid_windows")

    def clean_default_timezone(self) -> str:
        zone = self.cleaned_data["default_timezone"].strip()
        if not calling_rules.is_known_zone(zone):
            raise forms.ValidationError(_("“%(zone)s” is not a time zone (e.g. Europe/Paris).") % {"zone": zone})
        return zone

    def _fields(self, names: tuple[str, ...]) -> list:
        return [self[name] for name in names]

    @property
    def what_fields(self) -> list:
        return self._fields(("name", "script", "contact_list"))

    @property
    def basis_fields(self) -> list:
        return self._fields(("legal_basis", "consent_proof", "audience", "ongoing_contract"))

    @property
    def rule_fields(self) -> list:
        return self._fields(("calling_days", "calling_windows", "skip_public_holidays", "default_timezone",
                             "max_attempts", "attempts_period_days", "refusal_cooldown_days", "retry_delay_minutes",
                             "max_concurrent_calls"))

    def service_kwargs(self) -> dict:
        """The cleaned values as keyword arguments of the campaign services."""
        return {name: self.cleaned_data[name] for name in EDITABLE_FIELDS}
