"""API: contact lists and bulk imports (asynchronous jobs).

Every write goes through the services the portal uses (campaigns.services.lists and .imports); an import sent as
JSON rows becomes a CSV file built in memory and follows the portal's import pipeline (upload, mapping, Celery
task), so it gets the same normalisation, de-duplication, row checks and risk checks.

Adding contacts to a list with ids that are not the tenant's contacts answers 400 naming them (no id of another
tenant is ever told apart from an unknown one).
"""

from __future__ import annotations

import csv
import io

import django_filters
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from calls.api.serializers_contacts import STANDARD_FIELDS, ContactSerializer
from calls.models import Contact
from tenants.api_filters import IdFilter
from tenants.api_support import (
    IDEMPOTENCY_PROBLEMS,
    PROBLEM_400,
    PROBLEM_409,
    Conflict,
    NewestFirst,
    idempotent,
)
from tenants.api_viewsets import TenantViewSet

from .. import importing, selectors
from ..models import ContactImport, ContactList, ContactListEntry, RiskFinding
from ..services import imports, lists
from .serializers import (
    ContactIdsSerializer,
    ContactImportSerializer,
    ContactListDetailSerializer,
    ContactListSerializer,
    ContactsAddedSerializer,
    ImportRequestSerializer,
)

READ = ["contacts:read"]
WRITE = ["contacts:write"]
ERRORS_IN_LIST = 20



# --- contact lists ------------------------------------------------------------------------------------------------


LIST_EXAMPLE = {"name": "Spring prospects", "description": "Visitors of the spring fair.",
                "legal_basis": "legitimate_interests", "consent_proof": ""}


@extend_schema_view(
    list=extend_schema(summary="List contact lists", responses={200: ContactListSerializer}),
)
class ContactListViewSet(TenantViewSet):
    """Contact lists: who a campaign calls. A campaign may use a list once its risks were checked and every
    finding is fixed or acknowledged (``ready``)."""

    model = ContactList
    serializer_class = ContactListSerializer
    pagination_class = NewestFirst
    ordering = ("-id",)
    required_scopes = {"list": READ, "retrieve": READ, "contacts": READ, "create": WRITE, "partial_update": WRITE,
                       "add_contacts": WRITE, "check": WRITE}

    def scoped_queryset(self):
        return selectors.contact_lists_overview()

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ContactListSerializer(page, many=True).data)

    def _detail(self, contact_list: ContactList, code=status.HTTP_200_OK) -> Response:
        contact_list = self.get_queryset().get(pk=contact_list.pk)
        contact_list.open_finding_list = RiskFinding.objects.filter(
            contact_list=contact_list, status=RiskFinding.Status.OPEN).order_by("kind", "column", "pk")
        contact_list.blockers = lists.contact_list_blockers(contact_list=contact_list)
        return Response(ContactListDetailSerializer(contact_list).data, status=code)

    @extend_schema(summary="Get a contact list", description="With its open risk findings and what keeps a "
                   "campaign from using it.", responses={200: ContactListDetailSerializer})
    def retrieve(self, request, pk=None):
        return self._detail(self.get_object())

    @extend_schema(summary="Create a contact list", request=ContactListSerializer,
                   responses={201: ContactListDetailSerializer},
                   examples=[OpenApiExample("A list", value=LIST_EXAMPLE, request_only=True)])
    def create(self, request):
        serializer = ContactListSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact_list = lists.contact_list_create(tenant=request.auth.tenant, **serializer.validated_data)
        return self._detail(contact_list, status.HTTP_201_CREATED)

    @extend_schema(summary="Change a contact list", description=(
        "Giving a legal basis resolves the finding of its absence; removing it opens that finding again."),
        request=ContactListSerializer, responses={200: ContactListDetailSerializer},
        examples=[OpenApiExample("Set the legal basis", value={"legal_basis": "contract"}, request_only=True)])
    def partial_update(self, request, pk=None):
        contact_list = self.get_object()
        serializer = ContactListSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = {field: serializer.validated_data.get(field, getattr(contact_list, field))
                  for field in ("name", "description", "legal_basis", "consent_proof")}
        lists.contact_list_update(contact_list=contact_list, **fields)
        return self._detail(contact_list)

    @extend_schema(summary="List the contacts of a list", responses={200: ContactSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="contacts")
    def contacts(self, request, pk=None):
        contact_list = self.get_object()
        entries = (ContactListEntry.objects.filter(contact_list=contact_list).select_related("contact")
                   .prefetch_related("contact__list_entries"))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(ContactSerializer([entry.contact for entry in page], many=True).data)

    @extend_schema(summary="Add contacts to a list", description=(
        "Contacts already in the list are left alone. The list's risks must then be checked again (POST "
        "check) before a campaign may use it."),
        request=ContactIdsSerializer, responses={200: ContactsAddedSerializer},
        examples=[OpenApiExample("Two contacts", value={"contacts": [42, 43]}, request_only=True)])
    @contacts.mapping.post
    def add_contacts(self, request, pk=None):
        contact_list = self.get_object()
        serializer = ContactIdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(serializer.validated_data["contacts"]))
        found = list(Contact.objects.filter(pk__in=ids))
        unknown = sorted(set(ids) - {contact.pk for contact in found})
        if unknown:
            raise exceptions.ValidationError({"contacts": [
                _("These are not your contacts: %(ids)s.") % {"ids": ", ".join(map(str, unknown))}]})
        added = lists.contact_list_add(contact_list=contact_list, contacts=found)
        count = ContactListEntry.objects.filter(contact_list=contact_list).count()
        return Response({"added": added, "contact_count": count})

    @extend_schema(summary="Check a list's risks", description=(
        "Runs the risk checks now (an import runs them by itself): numbers on the do-not-call lists, "
        "special-category or unneeded data in the custom fields, a missing legal basis."),
        request=None, responses={200: ContactListDetailSerializer})
    @action(detail=True, methods=["post"], url_path="check")
    def check(self, request, pk=None):
        contact_list = self.get_object()
        lists.contact_list_check_risks(contact_list=contact_list)
        return self._detail(contact_list)


# --- imports ------------------------------------------------------------------------------------------------------


def rows_csv(rows: list[dict]) -> tuple[bytes, dict[str, str]]:
    """The rows as a UTF-8 CSV file (the API's field names as column names, one column per custom field) and the
    column mapping that reads it back."""
    standard = [field for field in STANDARD_FIELDS if field == "phone" or any(field in row for row in rows)]
    custom = list(dict.fromkeys(key for row in rows for key in row.get("custom_fields", {})))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # "\r" or "\n" in a value gets it quoted
    writer.writerow(standard + custom)
    for row in rows:
        extra = row.get("custom_fields", {})
        writer.writerow([row.get(field, "") for field in standard] + [extra.get(key, "") for key in custom])
    mapping = {**{field: field for field in standard}, **{key: "custom" for key in custom}}
    return buffer.getvalue().encode("utf-8"), mapping


def _target_list(tenant, data: dict) -> ContactList:
    if "list" in data:
        contact_list = ContactList.objects.filter(pk=data["list"]).first()
        if contact_list is None:
            raise exceptions.ValidationError({"list": [_("You have no contact list with this id.")]})
        return contact_list
    try:
        return lists.contact_list_create(tenant=tenant, name=data["list_name"])
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"list_name": error.messages}
        raise exceptions.ValidationError({"list_name" if field == "name" else field: texts
                                          for field, texts in messages.items()})


@transaction.atomic
def import_rows(*, tenant, data: dict) -> ContactImport:
    """Start an import of JSON rows through the portal's pipeline: the rows become an uploaded CSV file with its
    column mapping, and the import task is queued once this transaction commits."""
    contact_list = _target_list(tenant, data)
    content, mapping = rows_csv(data["rows"])
    name = f"api-{timezone.now():%Y%m%d-%H%M%S}.csv"
    contact_import = imports.import_upload(contact_list=contact_list,
                                            uploaded_file=SimpleUploadedFile(name, content, content_type="text/csv"))
    try:
        contact_import = imports.import_configure(contact_import=contact_import, mapping=mapping)
        return imports.import_start(contact_import=contact_import,
                                             import_valid_rows=data["on_invalid_rows"] == "import_valid")
    except BaseException:
        importing.upload_delete(contact_import.path)
        raise


IMPORT_EXAMPLE = {"list": 7, "on_invalid_rows": "reject", "rows": [
    {"phone": "06 12 34 56 78", "name": "Élodie Dupré", "email": "e.dupre@example.com",
     "custom_fields": {"Customer since": "2021"}},
    {"phone": "+44 20 7946 0958", "name": "Ann Lee", "company": "Lee Ltd"},
]}
IMPORT_ANSWER = {
    "id": "7d0f3c1e-2b1a-4d8e-9f59-1f3e0d8b6a10", "status": "queued", "progress": {"phase": "waiting", "percent": 0},
    "counts": {"total": 2, "processed": 0, "imported": 0, "duplicates": 0, "invalid": 0}, "import_valid_rows": False,
    "failure": "", "list": 7, "created_at": "2025-05-01T09:30:00Z", "finished_at": None,
    "status_url": "https://callkom.example/api/v1/contacts/imports/7d0f3c1e-2b1a-4d8e-9f59-1f3e0d8b6a10/",
    "errors": [],
}


class ContactImportFilter(django_filters.FilterSet):
    list = IdFilter(field_name="contact_list", help_text=gettext_lazy("A contact list's id."))
    status = django_filters.ChoiceFilter(choices=ContactImport.Status.choices)

    class Meta:
        model = ContactImport
        fields = []


@extend_schema_view(
    list=extend_schema(summary="List contact imports", responses={200: ContactImportSerializer, **PROBLEM_400}),
    retrieve=extend_schema(summary="Get a contact import's status", responses={200: ContactImportSerializer}),
)
class ContactImportViewSet(TenantViewSet):
    """Bulk imports of contacts, run as asynchronous jobs: follow ``status_url`` until the status is completed,
    failed, canceled or needs_decision."""

    model = ContactImport
    serializer_class = ContactImportSerializer
    filterset_class = ContactImportFilter
    ordering = ("-created_at",)
    required_scopes = {"list": READ, "retrieve": READ, "create": WRITE, "import_valid_rows": WRITE, "cancel": WRITE}

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {"request": request, "errors_limit": ERRORS_IN_LIST}
        return self.get_paginated_response(ContactImportSerializer(page, many=True, context=context).data)

    def retrieve(self, request, pk=None):
        return self._job(self.get_object())

    def _job(self, contact_import: ContactImport, code=status.HTTP_200_OK) -> Response:
        contact_import.refresh_from_db()
        data = ContactImportSerializer(contact_import, context={"request": self.request}).data
        response = Response(data, status=code)
        if code == status.HTTP_202_ACCEPTED:
            response["Location"] = data["status_url"]
        return response

    @extend_schema(
        summary="Import contacts", description=(
            "Starts an import job and answers 202 at once; `status_url` gives its progress. The rows go through the "
            "same checks as a file uploaded in the portal. Send an `Idempotency-Key` to retry safely."),
        request=ImportRequestSerializer, responses={202: ContactImportSerializer, **IDEMPOTENCY_PROBLEMS},
        examples=[OpenApiExample("Two rows into list 7", value=IMPORT_EXAMPLE, request_only=True),
                  OpenApiExample("Queued", value=IMPORT_ANSWER, response_only=True, status_codes=["202"])],
    )
    @idempotent
    def create(self, request):
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact_import = import_rows(tenant=request.auth.tenant, data=serializer.validated_data)
        return self._job(contact_import, status.HTTP_202_ACCEPTED)

    def _decide(self, service, code) -> Response:
        contact_import = self.get_object()
        try:
            contact_import = service(contact_import=contact_import)
        except ValidationError as error:
            raise Conflict(" ".join(error.messages))
        return self._job(contact_import, code)

    @extend_schema(summary="Import the valid rows", description=(
        "For a job waiting for a decision (status needs_decision): import the valid rows and skip the others. "
        "409 in any other state."), request=None, responses={202: ContactImportSerializer, **IDEMPOTENCY_PROBLEMS})
    @action(detail=True, methods=["post"], url_path="import-valid-rows")
    @idempotent
    def import_valid_rows(self, request, pk=None):
        return self._decide(imports.import_import_valid_rows, status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Cancel an import", description=(
        "Stops the job before its next batch; rows already imported stay in the list. 409 once it has ended."),
        request=None, responses={200: ContactImportSerializer, **PROBLEM_409})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._decide(imports.import_cancel, status.HTTP_200_OK)


router = SimpleRouter()
# Before the calls app's ``contacts/<id>/`` (campaigns.api comes first in /api/v1/).
router.register("contacts/imports", ContactImportViewSet, basename="api-contact-imports")
router.register("contact-lists", ContactListViewSet, basename="api-contact-lists")

urlpatterns = router.urls
