"""The organization's do-not-contact list: agents read it, admins add, remove and
import. The rules are in messaging.do_not_contact and messaging.do_not_contact_import.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response

from messaging import do_not_contact_import as importing
from messaging.do_not_contact import do_not_contact_add, do_not_contact_remove
from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.api.pagination import CursorPagination
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Role

ERRORS = (
    "Errors: 401 NOT_AUTHENTICATED; 403 PERMISSION_DENIED (agents read, admins write); "
    "404 NOT_FOUND when the id is not one of the organization's."
)
ENTRY_EXAMPLE = {
    "id": 7,
    "kind": "phone",
    "value": "+16505551234",
    "note": "Asked by phone on 2026-11-03",
    "source": "api",
    "added_by": "maria",
    "created_at": "2026-11-03T14:02:11Z",
}
COUNTS_EXAMPLE = {
    "rows": 4,
    "added": 2,
    "skipped": 1,
    "duplicates": 1,
    "invalid": 0,
    "lines": {},
}


class CSVTextParser(BaseParser):
    """A CSV file as the body (Content-Type: text/csv): its bytes, read as they come."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read(importing.MAX_IMPORT_BYTES + 1)


class DoNotContactSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="phone or linkedin.")
    source = serializers.CharField(read_only=True, help_text="admin, api or import.")
    added_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who added it (a username); null for a removed user.",
    )

    class Meta:
        model = DoNotContact
        fields = ["id", "kind", "value", "note", "source", "added_by", "created_at"]
        read_only_fields = fields


class DoNotContactAddSerializer(serializers.Serializer):
    # A plain string in the schema, not an enum: `kind` enums of other models collide.
    kind = serializers.CharField(max_length=16, help_text="phone or linkedin.")
    value = serializers.CharField(
        max_length=255,
        help_text="A phone number (E.164, or national with default_region) or a LinkedIn "
        "id (the provider id Unipile gives the person).",
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    default_region = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default="", help_text="e.g. US"
    )

    def validate_kind(self, value: str) -> str:
        if value not in DoNotContactKind.values:
            raise serializers.ValidationError("phone or linkedin.", code="invalid_choice")
        return value


class ImportOptionsSerializer(serializers.Serializer):
    default_region = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        default="",
        help_text="Region of numbers written without +, e.g. US. Default: the server's "
        "DEFAULT_PHONE_REGION; without one such numbers are invalid lines.",
    )
    only_valid = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Import the valid lines even if others are invalid (they are reported).",
    )


class ImportUploadSerializer(ImportOptionsSerializer):
    file = serializers.FileField(help_text="CSV, UTF-8, at most 2 MB.")


class ImportResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Lines read, header and blank lines aside.")
    added = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Already on the list.")
    duplicates = serializers.IntegerField(help_text="Repeated within the file, merged.")
    invalid = serializers.IntegerField()
    lines = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text='Per invalid line number: [{"message", "code"}].',
    )


class DoNotContactPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class DoNotContactViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """Numbers and LinkedIn ids no message may be sent to (422 CONTACT_DO_NOT_CONTACT)."""

    serializer_class = DoNotContactSerializer
    pagination_class = DoNotContactPagination
    read_role = Role.AGENT
    write_role = Role.ADMIN

    def get_base_queryset(self):
        return DoNotContact.objects.select_related("added_by")

    @extend_schema(summary="The do-not-contact list, newest first", description=ERRORS)
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset().order_by("-created_at", "-id"))
        return self.get_paginated_response(DoNotContactSerializer(page, many=True).data)

    @extend_schema(
        summary="Put a number or LinkedIn id on the list",
        description="A phone number must be valid in its region. 400 VALIDATION_ERROR on "
        f"value when it is not, or is listed already (code already_listed). {ERRORS}",
        request=DoNotContactAddSerializer,
        responses={201: DoNotContactSerializer},
        examples=[
            OpenApiExample(
                "Number", value={"kind": "phone", "value": "+16505551234"}, request_only=True
            ),
            OpenApiExample("Entry", value=ENTRY_EXAMPLE, response_only=True),
        ],
    )
    def create(self, request):
        data = validated(DoNotContactAddSerializer, request.data)
        entry = do_not_contact_add(
            organization=self.organization,
            kind=data["kind"],
            value=data["value"],
            note=data["note"],
            source=DoNotContactSource.API,
            added_by=request.user,
            default_region=importing.import_region(data["default_region"]),
        )
        return Response(DoNotContactSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Take an entry off the list",
        description=f"Sends to it are allowed again. {ERRORS}",
        responses={204: OpenApiResponse(description="Removed.")},
    )
    def destroy(self, request, pk=None):
        entry = self.get_queryset().filter(pk=url_object_id(pk)).first()
        if entry is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "Not found.")
        do_not_contact_remove(entry=entry)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Import a CSV file",
        description="multipart/form-data with `file` (and the options as fields), or the "
        "file itself as the body with Content-Type text/csv (options as query "
        "parameters). Columns, named by a header row: `phone` and/or `linkedin`, and "
        "`note`; without a header, the number then the note. Duplicates in the file are "
        "merged, values already listed are skipped; both are counted. If a line is "
        "invalid nothing is imported: 400 VALIDATION_ERROR whose details carry the counts "
        "and `lines` ({line: [{message, code}]}); with only_valid=true the valid lines "
        f"are imported and the invalid ones reported. 413 PAYLOAD_TOO_LARGE over 2 MB. "
        f"{ERRORS}",
        request={
            "multipart/form-data": ImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
        },
        parameters=[
            OpenApiParameter("default_region", OpenApiTypes.STR, required=False),
            OpenApiParameter("only_valid", OpenApiTypes.BOOL, required=False),
        ],
        responses={200: ImportResultSerializer},
        examples=[OpenApiExample("Imported", value=COUNTS_EXAMPLE, response_only=True)],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, CSVTextParser],
    )
    def import_csv(self, request):
        raw, options = self._upload(request)
        plan = importing.do_not_contact_import(
            organization=self.organization,
            text=importing.import_text(raw),
            default_region=importing.import_region(options["default_region"]),
            only_valid=options["only_valid"],
            added_by=request.user,
        )
        return Response(plan.counts())

    def _upload(self, request) -> tuple[bytes, dict]:
        if isinstance(request.data, bytes):
            raw = request.data
            options = validated(ImportOptionsSerializer, request.query_params)
        else:
            # Form fields first, query parameters otherwise.
            fields = {name: request.query_params[name] for name in request.query_params}
            fields.update({name: request.data.get(name) for name in request.data})
            options = validated(ImportUploadSerializer, fields)
            raw = options["file"].read(importing.MAX_IMPORT_BYTES + 1)
        if not raw:
            raise field_error("file", "The file is empty.", code="empty")
        return raw, options
