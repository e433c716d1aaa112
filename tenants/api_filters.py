"""Filters shared by the API's lists."""

import datetime

from django import forms
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

# Far-off instants overflow once shifted to UTC (and no call predates the product).
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2999, 12, 31, tzinfo=datetime.UTC)


class _BoundedIsoDateTimeField(IsoDateTimeField):
    def clean(self, value):
        value = super().clean(value)
        if value is not None and not (EARLIEST <= value <= LATEST):
            raise forms.ValidationError(_("Give an instant between the years 2000 and 2999."), code="out_of_range")
        return value


class InstantFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date and time, between the years 2000 and 2999 (a 400 naming the parameter otherwise)."""

    field_class = _BoundedIsoDateTimeField


class IdField(forms.IntegerField):
    """A database id: from 1 to the largest a BigAutoField holds (larger ones cannot exist, and would overflow)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    field_class = IdField
