"""API: contacts, contact lists, bulk imports (asynchronous jobs) and the do-not-call list.

Every write goes through the services the portal uses (calls.services, calls.contacts, calls.donotcall); an import
sent as JSON rows becomes a CSV file built in memory and follows the portal's import pipeline (upload, mapping,
Celery task), so it gets the same normalisation, de-duplication, row checks and risk checks.

Decisions:
- a contact's phone number is unique among the tenant's contacts: creating or changing one to a number already
  held answers 409 (problem ``duplicate-contact``, ``errors`` naming ``phone`` and the existing contact's id);
- deleting a contact removes it from its lists and campaigns; its calls stay, without contact (``Call.contact`` is
  ``SET_NULL``); a contact in a call not yet over, or covered by a legal hold, answers 409;
- adding a number already on the do-not-call list answers 200 with the existing entry (201 for a new one); an
  entry recording an objection (source ``objection`` or ``rights_request``) cannot be removed: 409;
- adding contacts to a list with ids that are not the tenant's contacts answers 400 naming them (no id of another
  tenant is ever told apart from an unknown one).
"""

from __future__ import annotations

import csv
import io

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.viewsets import GenericViewSet

from tenants.api_filters import InstantFilter
from tenants.api_support import PROBLEM_JSON, Conflict, Cursor, Problem, ProblemSerializer, idempotent
from tenants.crypto import email_index, phone_index

from .. import contact_selectors, importing, services
from .. import contacts as contact_services
from ..donotcall import do_not_call_add, do_not_call_remove
from ..models import (
    Call,
    Contact,
    ContactImport,
    ContactList,
    ContactListEntry,
    DoNotCall,
    DoNotCallSource,
    PlatformDoNotCall,
    RiskFinding,
)
from .serializers_contacts import (
    STANDARD_FIELDS,
    ContactIdsSerializer,
    ContactImportSerializer,
    ContactListDetailSerializer,
    ContactListSerializer,
    ContactsAddedSerializer,
    ContactSerializer,
    ContactWriteSerializer,
    DoNotCallCheckSerializer,
    DoNotCallSerializer,
    ImportRequestSerializer,
    PhoneQuerySerializer,
    phone_e164,
)

READ = ["contacts:read"]
WRITE = ["contacts:write"]
ERRORS_IN_LIST = 20
ACTIVE_CALL = (Call.Status.QUEUED, Call.Status.RINGING, Call.Status.IN_PROGRESS)

PROBLEM_400 = {(400, PROBLEM_JSON): ProblemSerializer}
PROBLEM_409 = {(409, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="Conflict with the current state.")}
IDEMPOTENCY_PROBLEMS = {  # what tenants.api_support.idempotent may answer
    (409, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="The first request with this "
                                         "Idempotency-Key is still running, or a conflict with the current state."),
    (422, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="This Idempotency-Key was used with "
                                         "another request."),
}


# --- shared pieces ------------------------------------------------------------------------------------------------


class NewestFirst(Cursor):
    """Cursor pagination on the primary key, newest first (the primary key is indexed; created_at is not)."""

    ordering = ("-id",)


class ByName(Cursor):
    ordering = ("name",)


class FieldConflict(Problem, exceptions.ValidationError):
    """A 409 ``conflict`` problem that also names the fields concerned in ``errors``."""

    def __init__(self, errors: dict):
        super().__init__(errors, status_code=status.HTTP_409_CONFLICT, problem_type="conflict")


class TenantViewSet(GenericViewSet):
    """A viewset over one tenant-owned model: ``scoped_queryset()`` runs inside the key's tenant scope; the schema
    generator (no tenant) gets an empty queryset of the model."""

    model = None

    def scoped_queryset(self):
        return self.model.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model._base_manager.none()
        return self.scoped_queryset()


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField


# --- contacts: writes the services module has no function for --------------------------------------------------


def _phone_taken(phone: str, *, exclude: int | None = None) -> None:
    """Raise a 409 naming ``phone`` when another contact of the tenant has this number (E.164)."""
    others = Contact.objects.filter(phone_index=phone_index(phone))
    if exclude is not None:
        others = others.exclude(pk=exclude)
    existing = others.order_by("pk").values_list("pk", flat=True).first()
    if existing is not None:
        raise FieldConflict({"phone": [_("Contact %(id)s already has this phone number.") % {"id": existing}]})


def contact_create(*, tenant, data: dict) -> Contact:
    return services.contact_create(tenant=tenant, phone=data["phone"], name=data.get("name", ""),
                                   email=data.get("email", ""), company=data.get("company", ""),
                                   custom_fields=data.get("custom_fields") or {}, notes=data.get("notes", ""),
                                   time_zone=data.get("time_zone", ""))


def contact_update(*, contact: Contact, changes: dict) -> Contact:
    return services.contact_update(contact=contact, changes=changes)


def contact_delete(*, contact: Contact) -> None:
    try:
        services.contact_delete(contact=contact)
    except services.ContactLocked as refusal:
        raise Conflict(str(refusal)) from None


# --- contacts -----------------------------------------------------------------------------------------------------


class ContactFilter(django_filters.FilterSet):
    phone = django_filters.CharFilter(method="filter_phone", max_length=64, help_text=gettext_lazy(
        "A phone number in any usual spelling: matches the contacts with this number."))
    email = django_filters.CharFilter(method="filter_email", max_length=254,
                                      help_text=gettext_lazy("An e-mail address (case does not matter)."))
    list = IdFilter(field_name="list_entries__contact_list", help_text=gettext_lazy(
        "A contact list's id: its contacts only."))
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte",
                                   help_text=gettext_lazy("Created at or after this time (ISO 8601)."))
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt",
                                    help_text=gettext_lazy("Created before this time (ISO 8601)."))

    class Meta:
        model = Contact
        fields = []

    def filter_phone(self, queryset, name, value):
        try:
            index = phone_index(phone_e164(value))
        except exceptions.ValidationError as error:
            raise exceptions.ValidationError({"phone": error.detail})
        return queryset.filter(phone_index=index)

    def filter_email(self, queryset, name, value):
        return queryset.filter(email_index=email_index(value))


CONTACT_EXAMPLE = {"phone": "+33612345678", "name": "Élodie Dupré", "email": "e.dupre@example.com",
                   "company": "Café Dupré", "time_zone": "Europe/Paris", "notes": "Prefers mornings.",
                   "custom_fields": {"Customer since": "2021"}}


@extend_schema_view(
    list=extend_schema(summary="List contacts", responses={200: ContactSerializer, **PROBLEM_400}),
    retrieve=extend_schema(summary="Get a contact", responses={200: ContactSerializer}),
)
class ContactViewSet(TenantViewSet):
    """Contacts: the people the tenant's campaigns and calls reach. Everything about them is stored encrypted; the
    phone number and the e-mail are found through blind indexes."""

    model = Contact
    serializer_class = ContactSerializer
    pagination_class = NewestFirst
    filterset_class = ContactFilter
    ordering = ("-id",)
    required_scopes = {"list": READ, "retrieve": READ, "create": WRITE, "update": WRITE, "partial_update": WRITE,
                       "destroy": WRITE}

    def scoped_queryset(self):
        return Contact.objects.prefetch_related("list_entries")

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(ContactSerializer(self.get_object()).data)

    def _answer(self, contact: Contact, code=status.HTTP_200_OK) -> Response:
        return Response(ContactSerializer(self.get_queryset().get(pk=contact.pk)).data, status=code)

    @extend_schema(
        summary="Create a contact", request=ContactWriteSerializer,
        responses={201: ContactSerializer, **PROBLEM_409},
        examples=[OpenApiExample("A contact", value=CONTACT_EXAMPLE, request_only=True),
                  OpenApiExample("Created", value={"id": 42, **CONTACT_EXAMPLE, "lists": [],
                                                   "created_at": "2025-05-01T09:30:00Z"}, response_only=True)],
    )
    def create(self, request):
        serializer = ContactWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _phone_taken(serializer.validated_data["phone"])
        contact = contact_create(tenant=request.auth.tenant, data=serializer.validated_data)
        return self._answer(contact, status.HTTP_201_CREATED)

    def _change(self, request, *, partial: bool) -> Response:
        contact = self.get_object()
        serializer = ContactWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        if "phone" in changes:
            _phone_taken(changes["phone"], exclude=contact.pk)
        return self._answer(contact_update(contact=contact, changes=changes))

    @extend_schema(summary="Replace a contact", description="Fields left out are emptied.",
                   request=ContactWriteSerializer, responses={200: ContactSerializer, **PROBLEM_409})
    def update(self, request, pk=None):
        return self._change(request, partial=False)

    @extend_schema(summary="Change a contact", request=ContactWriteSerializer,
                   responses={200: ContactSerializer, **PROBLEM_409})
    def partial_update(self, request, pk=None):
        return self._change(request, partial=True)

    @extend_schema(summary="Delete a contact", description=(
        "Removes the contact from its lists and campaigns. Its calls are kept, without contact. Refused (409) "
        "while the contact is in a call not yet over, or while a legal hold covers the person."),
        responses={204: None, **PROBLEM_409})
    def destroy(self, request, pk=None):
        contact_delete(contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        return contact_selectors.contact_lists_overview()

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ContactListSerializer(page, many=True).data)

    def _detail(self, contact_list: ContactList, code=status.HTTP_200_OK) -> Response:
        contact_list = self.get_queryset().get(pk=contact_list.pk)
        contact_list.open_finding_list = RiskFinding.objects.filter(
            contact_list=contact_list, status=RiskFinding.Status.OPEN).order_by("kind", "column", "pk")
        contact_list.blockers = contact_services.contact_list_blockers(contact_list=contact_list)
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
        contact_list = contact_services.contact_list_create(tenant=request.auth.tenant, **serializer.validated_data)
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
        contact_services.contact_list_update(contact_list=contact_list, **fields)
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
        added = contact_services.contact_list_add(contact_list=contact_list, contacts=found)
        count = ContactListEntry.objects.filter(contact_list=contact_list).count()
        return Response({"added": added, "contact_count": count})

    @extend_schema(summary="Check a list's risks", description=(
        "Runs the risk checks now (an import runs them by itself): numbers on the do-not-call lists, "
        "special-category or unneeded data in the custom fields, a missing legal basis."),
        request=None, responses={200: ContactListDetailSerializer})
    @action(detail=True, methods=["post"], url_path="check")
    def check(self, request, pk=None):
        contact_list = self.get_object()
        contact_services.contact_list_check_risks(contact_list=contact_list)
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
        return contact_services.contact_list_create(tenant=tenant, name=data["list_name"])
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
    contact_import = contact_services.import_upload(contact_list=contact_list,
                                            uploaded_file=SimpleUploadedFile(name, content, content_type="text/csv"))
    try:
        contact_import = contact_services.import_configure(contact_import=contact_import, mapping=mapping)
        return contact_services.import_start(contact_import=contact_import,
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
        return self._decide(contact_services.import_import_valid_rows, status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Cancel an import", description=(
        "Stops the job before its next batch; rows already imported stay in the list. 409 once it has ended."),
        request=None, responses={200: ContactImportSerializer, **PROBLEM_409})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._decide(contact_services.import_cancel, status.HTTP_200_OK)


# --- do-not-call --------------------------------------------------------------------------------------------------


class DoNotCallFilter(django_filters.FilterSet):
    source = django_filters.ChoiceFilter(choices=DoNotCallSource.choices)

    class Meta:
        model = DoNotCall
        fields = []


DNC_EXAMPLE = {"phone": "06 12 34 56 78", "reason": "Asked by e-mail not to be called."}


@extend_schema_view(
    list=extend_schema(summary="List the do-not-call numbers", responses={200: DoNotCallSerializer, **PROBLEM_400}),
    retrieve=extend_schema(summary="Get a do-not-call entry"),
)
class DoNotCallViewSet(TenantViewSet):
    """The tenant's do-not-call list: no call is ever placed to these numbers, whichever script or campaign asks."""

    model = DoNotCall
    serializer_class = DoNotCallSerializer
    pagination_class = NewestFirst
    filterset_class = DoNotCallFilter
    ordering = ("-id",)
    required_scopes = {"list": READ, "retrieve": READ, "check": READ, "create": WRITE, "destroy": WRITE}

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(DoNotCallSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(DoNotCallSerializer(self.get_object()).data)

    @extend_schema(
        summary="Add a number to the do-not-call list", description=(
            "201 with the new entry; 200 with the existing entry when the number is already listed."),
        request=DoNotCallSerializer, responses={201: DoNotCallSerializer, 200: DoNotCallSerializer},
        examples=[OpenApiExample("A number", value=DNC_EXAMPLE, request_only=True)],
    )
    def create(self, request):
        serializer = DoNotCallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        phone = serializer.validated_data["phone"]
        existed = DoNotCall.objects.filter(phone_index=phone_index(phone)).exists()
        entry = do_not_call_add(tenant=request.auth.tenant, phone=phone, reason=serializer.validated_data["reason"])
        return Response(DoNotCallSerializer(entry).data, status=status.HTTP_200_OK if existed else 201)

    @extend_schema(summary="Remove a number from the do-not-call list", description=(
        "Entries that record a person's objection (source objection or rights_request) cannot be removed: 409."),
        responses={204: None, **PROBLEM_409})
    def destroy(self, request, pk=None):
        entry = self.get_object()
        try:
            do_not_call_remove(entry=entry)
        except ValidationError as error:
            raise Conflict(" ".join(error.messages))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Check a number", description=(
            "Whether a number is on your do-not-call list (and why) or on CALLKOM's platform-wide list of people "
            "who object to every call (without any detail)."),
        parameters=[OpenApiParameter("phone", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True,
                                     description="The number, in any usual spelling.")],
        responses={200: DoNotCallCheckSerializer, **PROBLEM_400},
        examples=[OpenApiExample("Listed", value={"phone": "+33612345678", "listed": True, "source": "manual",
                                                  "entry": 3, "platform_listed": False}, response_only=True)],
    )
    @action(detail=False, methods=["get"], url_path="check", filter_backends=[], pagination_class=None)
    def check(self, request):
        query = PhoneQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        phone = query.validated_data["phone"]
        index = phone_index(phone)
        entry = DoNotCall.objects.filter(phone_index=index).only("pk", "source").first()
        platform = PlatformDoNotCall.objects.filter(phone_index=index).exists()
        return Response(DoNotCallCheckSerializer({
            "phone": phone, "listed": entry is not None or platform, "source": entry.source if entry else None,
            "entry": entry.pk if entry else None, "platform_listed": platform}).data)


router = SimpleRouter()
router.register("contacts/imports", ContactImportViewSet, basename="api-contact-imports")
router.register("contacts", ContactViewSet, basename="api-contacts")
router.register("contact-lists", ContactListViewSet, basename="api-contact-lists")
router.register("do-not-call", DoNotCallViewSet, basename="api-do-not-call")

urlpatterns = router.urls
