"""Forms of the contact list and import pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import LegalBasis

from .contacts import MIN_JUSTIFICATION, header_risk, match_words
from .importing import FIELD_CHOICES, JOINED_FIELDS, MAX_UPLOAD_BYTES

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
