"""Reconciliation runs: admins start one; everyone in the organization reads them."""

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from reconciliation import services
from reconciliation.api.serializers import ReconciliationRunSerializer, RunRequestSerializer
from reconciliation.models import ReconciliationRun, RunKind, RunTrigger
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.api.pagination import CursorPagination
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel, Role

READ_ERRORS = "Errors: 401 NOT_AUTHENTICATED; 404 NOT_FOUND for another organization's run."
START_ERRORS = (
    "Needs the admin role. The run is queued and runs on a worker; follow it with GET. "
    "Errors: 400 VALIDATION_ERROR (details.channel, kind, since); 401 NOT_AUTHENTICATED; "
    "403 PERMISSION_DENIED."
)


class RunPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class ReconciliationRunViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = ReconciliationRunSerializer
    pagination_class = RunPagination
    read_role = Role.VIEWER
    write_role = Role.ADMIN

    def get_base_queryset(self):
        return ReconciliationRun.objects.select_related("channel")

    @extend_schema(summary="List reconciliation runs, newest first", description=READ_ERRORS)
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset().order_by("-created_at", "-id"))
        return self.get_paginated_response(ReconciliationRunSerializer(page, many=True).data)

    @extend_schema(summary="One reconciliation run", description=READ_ERRORS)
    def retrieve(self, request, pk=None):
        run = self.get_queryset().filter(pk=url_object_id(pk)).first()
        if run is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such run.")
        return Response(ReconciliationRunSerializer(run).data)

    @extend_schema(
        summary="Start a reconciliation run",
        description=START_ERRORS,
        request=RunRequestSerializer,
        responses={202: ReconciliationRunSerializer},
        examples=[
            OpenApiExample("Last 48 hours", value={"channel": 3}, request_only=True),
            OpenApiExample(
                "A window",
                value={
                    "channel": 3,
                    "since": "2026-11-18T00:00:00Z",
                    "until": "2026-11-19T00:00:00Z",
                },
                request_only=True,
            ),
        ],
    )
    def create(self, request):
        data = validated(RunRequestSerializer, request.data)
        channel = Channel.objects.filter(organization=self.organization, pk=data["channel"]).first()
        if channel is None:
            raise field_error("channel", "Not one of this organization's channels.")
        run = services.run_create(
            channel=channel,
            trigger=RunTrigger.API,
            since=data.get("since"),
            until=data.get("until"),
            kind=RunKind(data["kind"]) if "kind" in data else None,
            requested_by=request.user,
        )
        _execute_on_commit(run)
        return Response(ReconciliationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


def _execute_on_commit(run: ReconciliationRun) -> None:
    from reconciliation.tasks import reconciliation_run_task

    transaction.on_commit(lambda: reconciliation_run_task.delay(run.pk))
