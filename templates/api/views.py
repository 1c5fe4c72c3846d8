"""The templates API: list, read, submit, delete and sync WhatsApp message templates.

Everyone in the organization reads; admins submit, delete and sync. Views validate the
input, call a selector or a service and serialize; another organization's template is
NOT_FOUND everywhere.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from conversations.api.filters import filters_validated
from templates import selectors, services
from templates.api.filters import TemplateFilter
from templates.api.serializers import (
    TemplateDetailSerializer,
    TemplateSerializer,
    TemplateSubmitSerializer,
    TemplateSyncQueuedSerializer,
    TemplateSyncSerializer,
)
from templates.models import MessageTemplate
from templates.tasks import templates_sync_task
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.api.pagination import CursorPagination
from tenants.errors import ErrorCode, field_error
from tenants.models import Role

READ_ERRORS = (
    "Errors: 401 NOT_AUTHENTICATED; 404 NOT_FOUND when the id is not one of the organization's."
)
LIST_ERRORS = (
    "Errors: 400 VALIDATION_ERROR with details per query parameter; 401 NOT_AUTHENTICATED."
)
ADMIN_ERRORS = "Needs the admin role: 403 PERMISSION_DENIED for agents and viewers."
META_ERRORS = (
    "429 RATE_LIMITED with details.retry_after (and a Retry-After header) when Meta's "
    "template rate limit for the WABA was reached; 502 PROVIDER_ERROR with "
    "details.provider_code and details.provider_title when Meta refuses."
)

TEMPLATE_EXAMPLE = {
    "id": 17,
    "channel": {"id": 3, "name": "Sales WhatsApp", "provider": "whatsapp_cloud"},
    "provider_template_id": "1387372356726668",
    "name": "reservation_confirmation",
    "language": "en_US",
    "category": "UTILITY",
    "parameter_format": "NAMED",
    "status": "APPROVED",
    "quality_score": "GREEN",
    "rejection_reason": "",
    "allow_category_change": False,
    "can_send": True,
    "components": [
        {"type": "BODY", "text": "Your table for {{number_of_guests}} on {{day}} is booked."},
        {"type": "FOOTER", "text": "Lucky Shrub Eatery"},
    ],
    "removed": False,
    "removed_at": None,
    "last_synced_at": "2026-11-20T12:00:00Z",
    "created_at": "2026-11-19T08:30:00Z",
    "updated_at": "2026-11-20T12:00:00Z",
}
HISTORY_EXAMPLE = [
    {
        "id": 52,
        "kind": "status",
        "source": "webhook",
        "old_value": "PENDING",
        "new_value": "APPROVED",
        "reason": "",
        "details": {},
        "occurred_at": "2026-11-19T09:02:11Z",
        "created_at": "2026-11-19T09:02:12Z",
    },
    {
        "id": 51,
        "kind": "created",
        "source": "submit",
        "old_value": "",
        "new_value": "PENDING",
        "reason": "",
        "details": {"requested_category": "UTILITY"},
        "occurred_at": "2026-11-19T08:30:00Z",
        "created_at": "2026-11-19T08:30:00Z",
    },
]
SUBMIT_EXAMPLE = {
    "channel": 3,
    "name": "reservation_confirmation",
    "language": "en_US",
    "category": "UTILITY",
    "parameter_format": "NAMED",
    "components": [
        {
            "type": "body",
            "text": "Your table for {{number_of_guests}} on {{day}} is booked.",
            "example": {
                "body_text_named_params": [
                    {"param_name": "number_of_guests", "example": "4"},
                    {"param_name": "day", "example": "Saturday"},
                ]
            },
        },
        {"type": "footer", "text": "Lucky Shrub Eatery"},
    ],
}


class TemplatePagination(CursorPagination):
    ordering = selectors.TEMPLATE_ORDER


class TemplateViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """WhatsApp message templates. Viewers read; admins submit, delete and sync."""

    serializer_class = TemplateSerializer
    pagination_class = TemplatePagination
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    # Documents the query parameters; list() validates them with the same FilterSet and
    # hands them to the selector.
    filter_backends = [DjangoFilterBackend]
    filterset_class = TemplateFilter
    # Submitting and deleting call Meta (tenants.api.schema documents these).
    error_codes = {
        "create": (ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_ERROR),
        "destroy": (ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_ERROR),
    }

    def get_base_queryset(self):
        return MessageTemplate.objects.all()

    @extend_schema(
        summary="List templates, newest first",
        description="Cursor-paginated. Templates Meta no longer lists only with "
        f"removed=true. {LIST_ERRORS}",
        examples=[OpenApiExample("Template", value=TEMPLATE_EXAMPLE, response_only=True)],
    )
    def list(self, request):
        arguments = filters_validated(TemplateFilter, request.query_params)
        templates = selectors.template_list(organization=self.organization, **arguments)
        page = self.paginate_queryset(templates)
        return self.get_paginated_response(TemplateSerializer(page, many=True).data)

    @extend_schema(
        summary="One template, with its history",
        description="History: every status, quality and category change, and Meta's "
        f"category change notices, newest first. {READ_ERRORS}",
        responses=TemplateDetailSerializer,
        examples=[
            OpenApiExample(
                "Template",
                value={**TEMPLATE_EXAMPLE, "history": HISTORY_EXAMPLE},
                response_only=True,
            )
        ],
    )
    def retrieve(self, request, pk=None):
        return Response(TemplateDetailSerializer(self._template(pk)).data)

    @extend_schema(
        summary="Submit a template to Meta for review",
        description="The template is checked before it is sent: 400 VALIDATION_ERROR "
        "with details per field (name, language, category, parameter_format, "
        "components, header, body, footer, buttons; channel for a channel that has no "
        "templates). Meta's answer (id, status, usually PENDING, and the category it "
        "chose) is kept; the status then changes by webhook. "
        f"{ADMIN_ERRORS} {META_ERRORS}",
        request=TemplateSubmitSerializer,
        responses={201: TemplateSerializer},
        examples=[
            OpenApiExample("Submit", value=SUBMIT_EXAMPLE, request_only=True),
            OpenApiExample(
                "Submitted",
                value={
                    **TEMPLATE_EXAMPLE,
                    "status": "PENDING",
                    "quality_score": "UNKNOWN",
                    "can_send": False,
                    "last_synced_at": None,
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def create(self, request):
        data = dict(validated(TemplateSubmitSerializer, request.data))
        channel = selectors.template_channel_get(
            organization=self.organization, channel_id=data.pop("channel")
        )
        template = services.template_submit(channel=channel, payload=data)
        return Response(TemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Delete a template on Meta",
        description="Deletes this language of the template on Meta and marks it removed "
        f"here (its history stays). {ADMIN_ERRORS} {READ_ERRORS} {META_ERRORS}",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def destroy(self, request, pk=None):
        services.template_delete(template=self._template(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Sync templates from Meta now",
        description="Queues a sync of one channel's templates, or of every WhatsApp "
        "channel of the organization, and answers 202 with the channels queued. A sync "
        "stopped by Meta's rate limit is tried again by the schedule. 400 "
        f"VALIDATION_ERROR on channel when it has no templates. {ADMIN_ERRORS}",
        request=TemplateSyncSerializer,
        responses={202: TemplateSyncQueuedSerializer},
        examples=[
            OpenApiExample("One channel", value={"channel": 3}, request_only=True),
            OpenApiExample(
                "Queued",
                value={"queued": [TEMPLATE_EXAMPLE["channel"]]},
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    @action(detail=False, methods=["post"])
    def sync(self, request):
        data = validated(TemplateSyncSerializer, request.data)
        if data.get("channel") is not None:
            channels = [
                selectors.template_channel_get(
                    organization=self.organization, channel_id=data["channel"]
                )
            ]
        else:
            channels = list(selectors.template_sync_channels(organization=self.organization))
        if not channels:
            raise field_error(
                "channel",
                "This organization has no active WhatsApp channel with a WABA id.",
                code="no_templates",
            )
        for channel in channels:
            templates_sync_task.delay_on_commit(channel.pk)
        return Response(
            TemplateSyncQueuedSerializer({"queued": channels}).data,
            status=status.HTTP_202_ACCEPTED,
        )

    def _template(self, pk) -> MessageTemplate:
        return selectors.template_get(organization=self.organization, template_id=url_object_id(pk))
