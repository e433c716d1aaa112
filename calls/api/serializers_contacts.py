"""Serializers of the contacts part of the partner API: contacts and do-not-call entries, and the pieces the
contact lists and imports of the campaigns app share with them.

Reading and writing use separate serializers where the shapes differ (an e-mail is validated as one on the way in,
and may be blank on the way out), so that the schema tells the exact truth about each direction.
"""

from __future__ import annotations

import json
import zoneinfo
from functools import cache

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.crypto import normalize_phone

from ..models import DoNotCallSource

MAX_ID = 2**63 - 1
MAX_VALUE_LENGTH = 10_000  # the longest value the import accepts (notes); shorter limits are checked per row
MAX_KEY_LENGTH = 100
MAX_CUSTOM_FIELDS = 50
STANDARD_FIELDS = ("phone", "name", "email", "company", "time_zone", "notes")


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def encodable(text: str) -> bool:
    """Whether the text can be stored (a JSON string may hold a lone surrogate, which UTF-8 cannot encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def phone_e164(value: str) -> str:
    """The number in E.164 (a national number is read as French), or a DRF ValidationError."""
    try:
        return normalize_phone(value)
    except Exception:  # noqa: BLE001 - django's ValidationError and anything phonenumbers may raise
        raise serializers.ValidationError(_("This is not a valid phone number."), code="invalid_phone")


def custom_key_problem(key) -> str | None:
    """Why this cannot name a custom field (it becomes a column of the import file), or None when it can."""
    if not isinstance(key, str) or not key or key != key.strip() or len(key) > MAX_KEY_LENGTH:
        return _("Use 1 to %(count)s characters, without leading or trailing spaces.") % {"count": MAX_KEY_LENGTH}
    if not key.isprintable() or any(char in key for char in ";\t"):
        return _("Use printable characters other than “;” and tabs.")
    if key.lower() in STANDARD_FIELDS:
        return _("This name is one of the contact's own fields.")
    return None


class CustomFieldsField(serializers.DictField):
    """Other information about a contact, as short texts under names of your choice."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(max_length=1000, allow_blank=True))
        kwargs.setdefault("help_text", gettext_lazy("Other information, as texts (up to 1,000 characters each) "
                                                    "under names of your choice; at most 50."))
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > MAX_CUSTOM_FIELDS:
            raise serializers.ValidationError(_("At most %(count)s custom fields.") % {"count": MAX_CUSTOM_FIELDS})
        for key in value:
            problem = custom_key_problem(key)
            if problem:
                raise serializers.ValidationError({key: [problem]})
        return value


# --- contacts ---------------------------------------------------------------------------------------------------


class ContactSerializer(serializers.Serializer):
    """A contact as the API shows it: the phone number in E.164."""

    id = serializers.IntegerField(read_only=True)
    phone = serializers.CharField(read_only=True, help_text=gettext_lazy("E.164, e.g. +33612345678."))
    name = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True, help_text=gettext_lazy("Lower-cased; empty when unknown."))
    company = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(read_only=True,
                                      help_text=gettext_lazy("IANA name; empty: taken from the phone number."))
    notes = serializers.CharField(read_only=True)
    custom_fields = serializers.SerializerMethodField()
    lists = serializers.SerializerMethodField(help_text=gettext_lazy("Ids of the contact lists holding it."))
    created_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_custom_fields(self, contact) -> dict:
        try:
            data = json.loads(contact.custom_fields or "{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(key): "" if value is None else str(value) for key, value in data.items()}

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_lists(self, contact) -> list[int]:
        return sorted(entry.contact_list_id for entry in contact.list_entries.all())  # prefetched


class ContactWriteSerializer(serializers.Serializer):
    """What a client sends to create or change a contact."""

    phone = serializers.CharField(max_length=32, help_text=gettext_lazy(
        "Any usual spelling (+33 6 12 34 56 78, 06 12 34 56 78: national numbers are read as French); stored and "
        "shown in E.164. Unique among your contacts."))
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text=gettext_lazy("IANA name such as Europe/Paris; empty: taken from "
                                                             "the phone number."))
    notes = serializers.CharField(max_length=MAX_VALUE_LENGTH, required=False, allow_blank=True, default="",
                                  trim_whitespace=False)
    custom_fields = CustomFieldsField(required=False, default=dict)

    def validate_phone(self, value):
        return phone_e164(value)

    def validate_time_zone(self, value):
        if value and value not in _time_zones():
            raise serializers.ValidationError(_("Unknown time zone (expected a name such as Europe/Paris)."))
        return value


# --- do-not-call ------------------------------------------------------------------------------------------------


class DoNotCallSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    phone = serializers.CharField(max_length=32, help_text=gettext_lazy(
        "Any usual spelling on the way in (national numbers are read as French); E.164 on the way out."))
    source = serializers.ChoiceField(choices=DoNotCallSource.choices, read_only=True, help_text=gettext_lazy(
        "objection and rights_request entries record a person's objection: they cannot be removed."))
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    created_at = serializers.DateTimeField(read_only=True)

    def validate_phone(self, value):
        return phone_e164(value)


class PhoneQuerySerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)

    def validate_phone(self, value):
        return phone_e164(value)


class DoNotCallCheckSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text=gettext_lazy("The number checked, in E.164."))
    listed = serializers.BooleanField(help_text=gettext_lazy(
        "Whether the number must not be called: on your list or on CALLKOM's platform-wide list."))
    source = serializers.ChoiceField(choices=DoNotCallSource.choices, allow_null=True, help_text=gettext_lazy(
        "Why it is on your list; null when it is not on your list."))
    entry = serializers.IntegerField(allow_null=True, help_text=gettext_lazy("The id of your list's entry, if any."))
    platform_listed = serializers.BooleanField(help_text=gettext_lazy(
        "Whether the person objects to every call placed through CALLKOM (no further detail is given)."))
