"""Serializer and filter fields the API's inputs share."""

from datetime import UTC, datetime

from django import forms
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from rest_framework import serializers

from tenants.ids import MAX_ID
from tenants.moments import OUT_OF_RANGE, moment_in_range


def to_utc(moment: datetime) -> datetime:
    """Python takes offsets up to ±23:59, PostgreSQL up to ±15:59: an offset of -22:43
    reached the database as written and was a 500. In UTC it is just a moment."""
    return moment.astimezone(UTC)


class MomentField(serializers.DateTimeField):
    """An ISO 8601 date-time within tenants.moments' range (year 1 was a 500)."""

    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not moment_in_range(moment):
            self.fail("out_of_range")
        return to_utc(moment)


class IsoMomentField(filter_fields.IsoDateTimeField):
    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range") from None
        if moment is not None and not moment_in_range(moment):
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
        return moment and to_utc(moment)


class MomentFilter(filters.IsoDateTimeFilter):
    """IsoDateTimeFilter within tenants.moments' range."""

    field_class = IsoMomentField


class IdField(serializers.IntegerField):
    """An object's id in a body: a positive integer that fits the database's bigint (a
    larger one overflowed SQLite's integer: a 500)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFormField(forms.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFilter(filters.NumberFilter):
    """An id in the query string, as IdField (not the decimals NumberFilter takes)."""

    field_class = IdFormField
