"""Forms of the campaign pages (what to call, on which legal basis, the calling rules, France's by default) and of the
contact list and import pages."""

from __future__ import annotations

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from calls import calling_rules
from calls.models import Script
from tenants.models import LegalBasis

from .importing import FIELD_CHOICES, JOINED_FIELDS, MAX_UPLOAD_BYTES
from .models import Campaign, ContactList
from .services.campaigns import EDITABLE_FIELDS
from .services.lists import MIN_JUSTIFICATION, header_risk, match_words

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


# Contact lists and imports ----------------------------------------------------------------------------------------

# Words of a column name that suggest a field, in the order they are tried: "Nom de l'entreprise" is a company
# before it is a name, "Numéro de téléphone" a phone number.
GUESSES = [
    ("phone", ("telephone", "tel", "phone", "phone number", "mobile", "portable", "gsm", "cell", "cellphone",
               "msisdn", "numero de telephone", "fixe")),
    ("email", ("email", "e mail", "mail", "courriel", "adresse electronique", "adresse mail")),
    ("company", ("societe", "entreprise", "company", "organisation", "organization", "raison sociale", "business",
                 "employeur", "employer", "firm", "compagnie", "structure")),
    ("time_zone", ("fuseau", "fuseau horaire", "timezone", "time zone", "tz")),
    ("notes", ("note", "commentaire", "comment", "remarque", "observation")),
    ("name", ("nom", "name", "prenom", "first name", "last name", "full name", "firstname", "lastname", "fullname",
              "surname", "given name", "nom complet", "contact")),
]
GUESS_TERMS = [(field, tuple(match_words(term) for term in terms)) for field, terms in GUESSES]
NUMBER_ALONE = {match_words(word) for word in ("numero", "number", "num", "no")}


def guess_field(header: str) -> str:
    """Suggest the contact field of a column from its name; sensitive-looking columns are not imported unless the
    user says so, anything unrecognised is kept as other information."""
    if header_risk(header):
        return "ignore"
    words = match_words(header)
    if words in NUMBER_ALONE:
        return "phone"
    padded = f" {words} "
    for field, terms in GUESS_TERMS:
        if any(f" {term} " in padded for term in terms):
            return field
    return "custom"


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Guess every column; a field that only one column may fill goes to the first candidate."""
    mapping, taken = {}, set()
    for header in headers:
        field = guess_field(header)
        if field in taken:
            field = "custom"
        if field not in JOINED_FIELDS and field not in ("custom", "ignore"):
            taken.add(field)
        mapping[header] = field
    return mapping


class ContactListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"), required=False, choices=[("", _("Not decided yet")), *LegalBasis.choices],
        help_text=_("Why these people may be called (GDPR Art. 6). Without it the list cannot be used by a campaign "
                    "until the finding is acknowledged."),
    )
    consent_proof = forms.CharField(
        label=_("Consent proof reference"), max_length=200, required=False,
        help_text=_("Where the proof of each person's consent is kept (required when the basis is consent)."),
    )


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or Excel file"),
        help_text=_("A .csv file (comma, semicolon or tab; UTF-8 or Windows encoding) or an .xlsx workbook (first "
                    "sheet). The first row holds the column names."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,text/csv,application/vnd."
                                                         "openxmlformats-officedocument.spreadsheetml.sheet"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than %(size)s MB.") % {"size": MAX_UPLOAD_BYTES // 2**20})
        return upload


class ImportMappingForm(forms.Form):
    """One select per column of the file, each preset to a guess from the column's name."""

    def __init__(self, *args, contact_import, samples: list[list[str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = contact_import.headers
        initial = contact_import.mapping or guess_mapping(self.headers)
        self.columns = []
        for index, header in enumerate(self.headers):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(label=header, choices=FIELD_CHOICES,
                                                  initial=initial.get(header, "custom"))
            examples = [row[index] for row in samples if index < len(row) and row[index]]
            self.columns.append((header, name, examples))

    def bound_columns(self):
        return [(header, self[name], examples) for header, name, examples in self.columns]

    def mapping(self) -> dict[str, str]:
        return {header: self.cleaned_data[f"column_{index}"] for index, header in enumerate(self.headers)}


class FindingAcknowledgeForm(forms.Form):
    justification = forms.CharField(
        label=_("Why may this list be called as it is?"), min_length=MIN_JUSTIFICATION, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class LegalBasisFixForm(forms.Form):
    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices)
    consent_proof = forms.CharField(label=_("Consent proof reference"), max_length=200, required=False)
