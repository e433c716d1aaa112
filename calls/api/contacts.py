"""API: contacts and the do-not-call list (contact lists and imports are the campaigns app's).

Every write goes through the services the portal uses (calls.services, calls.donotcall).

Decisions:
- a contact's phone number is unique among the tenant's contacts: creating or changing one to a number already
  held answers 409 (problem ``duplicate-contact``, ``errors`` naming ``phone`` and the existing contact's id);
- deleting a contact removes it from its lists and campaigns; its calls stay, without contact (``Call.contact`` is
  ``SET_NULL``); a contact in a call not yet over, or covered by a legal hold, answers 409;
- adding a number already on the do-not-call list answers 200 with the existing entry (201 for a new one); an
  entry recording an objection (source ``objection`` or ``rights_request``) cannot be removed: 409;
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from tenants.api_filters import IdFilter, InstantFilter
from tenants.api_support import PROBLEM_400, PROBLEM_409, Conflict, FieldConflict, NewestFirst
from tenants.api_viewsets import TenantViewSet
from tenants.crypto import email_index, phone_index

from .. import services
from ..donotcall import do_not_call_add, do_not_call_remove
from ..models import (
    Call,
    Contact,
    DoNotCall,
    DoNotCallSource,
    PlatformDoNotCall,
)
from .serializers_contacts import (
    ContactSerializer,
    ContactWriteSerializer,
    DoNotCallCheckSerializer,
    DoNotCallSerializer,
    PhoneQuerySerializer,
    phone_e164,
)

READ = ["contacts:read"]
WRITE = ["contacts:write"]
ERRORS_IN_LIST = 20
ACTIVE_CALL = (Call.Status.QUEUED, Call.Status.RINGING, Call.Status.IN_PROGRESS)



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
router.register("contacts", ContactViewSet, basename="api-contacts")
router.register("do-not-call", DoNotCallViewSet, basename="api-do-not-call")

urlpatterns = router.urls
