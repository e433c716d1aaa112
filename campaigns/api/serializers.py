"""Serializers of the partner API's contact lists and imports (JSON rows become the portal's import pipeline).

Reading and writing use separate serializers where the shapes differ, so that the schema tells the exact truth
about each direction.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calls.api.serializers_contacts import (
    MAX_ID,
    MAX_VALUE_LENGTH,
    STANDARD_FIELDS,
    custom_key_problem,
    encodable,
)
from tenants.models import LegalBasis

from ..importing import MAX_COLUMNS
from ..models import ContactImport, RiskFinding
from ..selectors import import_progress

MAX_ROWS = 10_000
MAX_CUSTOM_COLUMNS = MAX_COLUMNS - len(STANDARD_FIELDS)


# --- contact lists ----------------------------------------------------------------------------------------------


class ContactListSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    legal_basis = serializers.ChoiceField(
        choices=LegalBasis.choices, required=False, allow_blank=True, default="",
        help_text=gettext_lazy("Why these people may be called (GDPR Art. 6); empty: not decided yet, which is a "
                               "risk finding until set or acknowledged."))
    consent_proof = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text=gettext_lazy("Where the proof of each person's consent is kept (required with consent)."))
    contact_count = serializers.IntegerField(read_only=True)
    open_findings = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Risk findings still open."))
    ready = serializers.BooleanField(read_only=True, help_text=gettext_lazy(
        "Whether a campaign may use the list: its risks were checked since its last change and no finding is "
        "open."))
    risk_checked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class RiskFindingSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=RiskFinding.Kind.choices, read_only=True)
    column = serializers.CharField(read_only=True, help_text=gettext_lazy("The custom field concerned, if any."))
    affected = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Contacts affected."))
    detail = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=RiskFinding.Status.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ContactListDetailSerializer(ContactListSerializer):
    findings = RiskFindingSerializer(many=True, read_only=True, source="open_finding_list",
                                     help_text=gettext_lazy("The open risk findings."))
    blockers = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=gettext_lazy(
        "Why a campaign may not use the list yet (empty when it may)."))


class ContactIdsSerializer(serializers.Serializer):
    contacts = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1,
                                     max_length=1000,
                                     help_text=gettext_lazy("Ids of your contacts (1 to 1,000)."))


class ContactsAddedSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text=gettext_lazy("Contacts put in the list (those already in it are "
                                                            "left alone)."))
    contact_count = serializers.IntegerField()


# --- imports ----------------------------------------------------------------------------------------------------


class ImportRowSerializer(serializers.Serializer):
    """One row of an import (documentation only: rows are checked by ImportRowsField, then by the import)."""

    phone = serializers.CharField(max_length=MAX_VALUE_LENGTH, help_text=gettext_lazy(
        "Any usual spelling (national numbers are read as French). A row without it is an invalid row."))
    name = serializers.CharField(required=False, allow_blank=True, max_length=MAX_VALUE_LENGTH,
                                 help_text=gettext_lazy("Up to 200 characters (longer: an invalid row)."))
    email = serializers.CharField(required=False, allow_blank=True, max_length=MAX_VALUE_LENGTH)
    company = serializers.CharField(required=False, allow_blank=True, max_length=MAX_VALUE_LENGTH,
                                    help_text=gettext_lazy("Up to 200 characters (longer: an invalid row)."))
    time_zone = serializers.CharField(required=False, allow_blank=True, max_length=MAX_VALUE_LENGTH,
                                      help_text=gettext_lazy("IANA name such as Europe/Paris."))
    notes = serializers.CharField(required=False, allow_blank=True, max_length=MAX_VALUE_LENGTH)
    custom_fields = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=MAX_VALUE_LENGTH), required=False,
        help_text=gettext_lazy("Other information, as texts (up to 1,000 characters each, longer: an invalid row) "
                               "under names of your choice; each name becomes a column of the list, checked for "
                               "sensitive data."))


@extend_schema_field(ImportRowSerializer(many=True))
class ImportRowsField(serializers.Field):
    """The rows of an import, checked for their shape only (objects of texts, known keys, nothing empty): what each
    value means (a valid number, e-mail, time zone, length) is the import's to check, row by row, as for a file."""

    default_error_messages = {
        "not_a_list": gettext_lazy("Send a list of rows."),
        "count": gettext_lazy("Send 1 to %(max)s rows."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not 1 <= len(data) <= MAX_ROWS:
            self.fail("count", max=MAX_ROWS)
        errors: dict[int, dict] = {}
        rows = []
        for index, item in enumerate(data):
            row, problems = self._row(item)
            if problems:
                errors[index] = problems
            rows.append(row)
        if errors:
            raise serializers.ValidationError(errors)  # keyed by index, as DRF's own list fields do
        return rows

    def to_representation(self, value):
        return value

    @staticmethod
    def _text(value) -> str | None:
        """A cell's text (numbers are accepted as their digits), or None for what a cell cannot hold."""
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        text = str(value).strip()
        if "\x00" in text or not encodable(text):
            return None
        return text

    def _row(self, item) -> tuple[dict, dict]:
        if not isinstance(item, dict):
            return {}, {"non_field_errors": [_("Each row must be an object.")]}
        problems: dict[str, list] = {}
        row: dict = {}
        for key, value in item.items():
            if key == "custom_fields":
                row["custom_fields"] = self._custom(value, problems)
                continue
            if key not in STANDARD_FIELDS:
                problems[key] = [_("Unknown field; use custom_fields for other information.")]
                continue
            text = self._text(value)
            if text is None:
                problems[key] = [_("Send a text.")]
            elif len(text) > MAX_VALUE_LENGTH:
                problems[key] = [_("Longer than %(count)s characters.") % {"count": MAX_VALUE_LENGTH}]
            else:
                row[key] = text
        if not problems and not any(row.get(field) for field in STANDARD_FIELDS) \
                and not any((row.get("custom_fields") or {}).values()):
            problems["non_field_errors"] = [_("This row is empty.")]
        return row, problems

    def _custom(self, value, problems: dict) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            problems["custom_fields"] = [_("Send an object of texts.")]
            return {}
        custom = {}
        for key, raw in value.items():
            problem = custom_key_problem(key)
            text = self._text(raw)
            if problem is None and text is None:
                problem = _("Send a text.")
            elif problem is None and len(text) > MAX_VALUE_LENGTH:
                problem = _("Longer than %(count)s characters.") % {"count": MAX_VALUE_LENGTH}
            if problem:
                problems[f"custom_fields.{key}"] = [problem]
            else:
                custom[key] = text
        return custom


class ImportRequestSerializer(serializers.Serializer):
    list = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text=gettext_lazy(
        "The id of the contact list to import into; or give list_name instead."))
    list_name = serializers.CharField(required=False, max_length=120, help_text=gettext_lazy(
        "The name of a new list to create and import into (its legal basis can be set afterwards)."))
    rows = ImportRowsField(help_text=gettext_lazy(
        "1 to 10,000 rows. Each is checked as a row of an uploaded file: phone numbers are normalised to E.164, "
        "duplicates (in the rows and among your contacts) are merged, and an existing contact is added to the list "
        "rather than copied."))
    on_invalid_rows = serializers.ChoiceField(
        choices=[("reject", gettext_lazy("Import nothing and wait for a decision")),
                 ("import_valid", gettext_lazy("Import the valid rows, skip the others"))],
        default="reject", help_text=gettext_lazy(
            "reject: when a row is invalid, nothing is imported and the job waits (status needs_decision) for "
            "import-valid-rows or cancel; import_valid: invalid rows are skipped and reported."))

    def validate(self, attrs):
        if ("list" in attrs) == ("list_name" in attrs):
            raise serializers.ValidationError({"list": [_("Give either list (an existing list's id) or list_name "
                                                          "(a new list).")]})
        columns = {key for row in attrs["rows"] for key in row.get("custom_fields", {})}
        if len(columns) > MAX_CUSTOM_COLUMNS:
            raise serializers.ValidationError({"rows": [_("The rows use more than %(count)s different custom "
                                                          "fields.") % {"count": MAX_CUSTOM_COLUMNS}]})
        return attrs


ERROR_CODES = {"phone": "invalid_phone", "email": "invalid_email", "time_zone": "invalid_time_zone",
               "name": "too_long", "company": "too_long", "notes": "too_long", "custom": "too_long"}


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=gettext_lazy(
        "The row's number in the file, the column names being row 1: rows[i] of an API import is row i + 2."))
    index = serializers.IntegerField(help_text=gettext_lazy("row - 2: the row's position in an API import's rows."))
    column = serializers.CharField(help_text=gettext_lazy("The column (for an API import: the field, or the custom "
                                                          "field's name); empty for the whole row."))
    field = serializers.CharField(help_text=gettext_lazy(
        "The contact field the column fills (phone, name, email, company, time_zone, notes, custom); empty for the "
        "whole row."))
    code = serializers.ChoiceField(choices=[(code, code) for code in (
        "invalid_phone", "invalid_email", "invalid_time_zone", "too_long", "invalid_row")])
    detail = serializers.CharField(help_text=gettext_lazy("What is wrong; never the value itself."))


def import_errors(contact_import: ContactImport) -> list[dict]:
    """The import's kept errors for the API: where and what, never the value (the import never stores it)."""
    mapping = contact_import.mapping or {}
    items = []
    for error in contact_import.errors or []:
        column = str(error.get("column") or "")
        field = mapping.get(column, "") if column else ""
        field = "" if field == "ignore" else field
        row = int(error.get("row") or 0)
        items.append({"row": row, "index": max(row - 2, 0), "column": column, "field": field,
                      "code": ERROR_CODES.get(field, "invalid_row"), "detail": str(error.get("message", ""))})
    return items


class ImportCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text=gettext_lazy("Rows in the import."))
    processed = serializers.IntegerField(help_text=gettext_lazy("Rows handled by the current phase."))
    imported = serializers.IntegerField(help_text=gettext_lazy("New contacts created."))
    duplicates = serializers.IntegerField(help_text=gettext_lazy(
        "Valid rows that matched a contact already known (in the rows or among your contacts): added to the list, "
        "not copied."))
    invalid = serializers.IntegerField()


class ImportProgressSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=[(phase, phase) for phase in (
        "waiting", "checking", "decision", "importing", "done", "ended")])
    percent = serializers.IntegerField(min_value=0, max_value=100)


class ContactImportSerializer(serializers.Serializer):
    """An import job: its status, progress, counts and errors."""

    id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=ContactImport.Status.choices, read_only=True, help_text=gettext_lazy(
        "queued, validating, importing: running; needs_decision: rows are invalid and nothing was imported (POST "
        "import-valid-rows or cancel); completed, failed, canceled: ended."))
    progress = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    import_valid_rows = serializers.BooleanField(read_only=True, help_text=gettext_lazy(
        "Whether invalid rows are skipped rather than stopping the import."))
    failure = serializers.CharField(read_only=True, help_text=gettext_lazy("Why the import failed, if it did."))
    list = serializers.IntegerField(source="contact_list_id", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    status_url = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField(help_text=gettext_lazy(
        "The invalid rows (the first 1,000 problems; in a list of jobs, the first 20): row, column, code and "
        "message, never the value."))

    @extend_schema_field(ImportProgressSerializer)
    def get_progress(self, contact_import) -> dict:
        return import_progress(contact_import)

    @extend_schema_field(ImportCountsSerializer)
    def get_counts(self, contact_import) -> dict:
        return {"total": contact_import.total_rows, "processed": contact_import.processed_rows,
                "imported": contact_import.imported_rows, "duplicates": contact_import.duplicate_rows,
                "invalid": contact_import.invalid_rows}

    @extend_schema_field(serializers.URLField())
    def get_status_url(self, contact_import) -> str:
        path = reverse("api-contact-imports-detail", kwargs={"pk": contact_import.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(ImportErrorSerializer(many=True))
    def get_errors(self, contact_import) -> list[dict]:
        errors = import_errors(contact_import)
        limit = self.context.get("errors_limit")
        return errors if limit is None else errors[:limit]


