"""One home for personal-data protection at rest: encrypted fields and blind indexes.

Encrypted fields come from django-encrypted-model-fields (Fernet; ``FIELD_ENCRYPTION_KEY`` is a list, the first
key encrypts and all decrypt, so keys rotate). A value that must be found again (a phone number, an e-mail)
also gets a blind index: HMAC-SHA256 of its normalised form under ``BLIND_INDEX_KEY``, stored and indexed. The
index reveals equality only, never the value.
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_model_fields.fields import (
    EncryptedCharField,
    EncryptedDateTimeField,
    EncryptedEmailField,
    EncryptedMixin,
    EncryptedTextField,
)

__all__ = [
    "EncryptedCharField",
    "EncryptedDateTimeField",
    "EncryptedEmailField",
    "EncryptedTextField",
    "BlindIndexField",
    "blind_index",
    "is_encrypted_field",
    "normalize_email",
    "normalize_phone",
    "phone_index",
    "email_index",
]

DEFAULT_PHONE_REGION = "FR"


def is_encrypted_field(field) -> bool:
    return isinstance(field, EncryptedMixin)


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """Return the number in E.164 (+33612345678), or raise ValidationError."""
    try:
        number = phonenumbers.parse(str(value), region)
    except phonenumbers.NumberParseException:
        raise ValidationError(_("“%(value)s” is not a phone number."), params={"value": value}) from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(_("“%(value)s” is not a valid phone number."), params={"value": value})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    return str(value).strip().lower()


def blind_index(kind: str, normalised: str) -> str:
    """Return the hex HMAC-SHA256 of an already normalised value; kind separates the spaces of values."""
    key = settings.BLIND_INDEX_KEY.encode()
    return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def phone_index(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    return blind_index("phone", normalize_phone(value, region))


def email_index(value: str) -> str:
    return blind_index("email", normalize_email(value))


class BlindIndexField(models.CharField):
    """Column of a blind index: 64 hex characters, indexed, blank when the value is empty."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)
