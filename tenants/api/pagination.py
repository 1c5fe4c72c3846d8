from datetime import datetime

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class CursorPagination(pagination.CursorPagination):
    """Cursor pages stay stable while new rows arrive (no skipped or repeated items).

    A cursor is the client's to send back unchanged, but nothing stops it from sending
    another: one that does not decode, or whose position is not a value of the ordering
    field (base64 of `p=notadate` was a 500 on every list), is a 400 on `cursor`.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")
    invalid_cursor_message = "Invalid cursor: use a `next` or `previous` link as given."

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            valid = False
        else:
            valid = cursor is None or cursor.position is None or self._valid(cursor.position)
        if not valid:
            raise ValidationError({"cursor": [self.invalid_cursor_message]}, code="invalid")
        return cursor

    def _valid(self, position: str) -> bool:
        """Whether `position` is a value the ordering's first field can be compared to."""
        name = self.ordering[0].lstrip("-")
        annotation = self._queryset.query.annotations.get(name)
        try:
            field = (
                annotation.output_field
                if annotation
                else self._queryset.model._meta.get_field(name)
            )
        except FieldDoesNotExist:
            return "\x00" not in position
        try:
            value = field.to_python(position)
        except (DjangoValidationError, ValueError, OverflowError):
            return False
        if isinstance(value, datetime) and value.tzinfo is None:
            return False  # ours are written with their offset; naive ones are forged
        return not (isinstance(value, str) and "\x00" in value)
