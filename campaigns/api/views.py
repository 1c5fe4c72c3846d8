"""The campaigns API: campaigns and their steps, actions (start, pause, resume,
cancel), enrollments (bulk add, CSV upload, list, stop one), progress and preview.

Everyone in the organization reads (the house rule: viewers read); admins manage
campaigns and their audience. Another organization's campaign, step or enrollment is
NOT_FOUND everywhere.
"""

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns import editing, services
from campaigns.api.serializers import (
    CampaignSerializer,
    CampaignWriteSerializer,
    CsvImportSerializer,
    EnrollmentDetailSerializer,
    EnrollmentFilterSerializer,
    EnrollmentsAddSerializer,
    EnrollmentSerializer,
    ImportReportSerializer,
    PreviewQuerySerializer,
    PreviewSerializer,
    ProgressSerializer,
    StepSerializer,
    StepWriteSerializer,
)
from campaigns.audience import (
    ImportReport,
    audience_import,
    campaign_needs,
    enrollments_add_contacts,
)
from campaigns.leads import leads_from_records, leads_parse
from campaigns.models import Campaign, Enrollment, EnrollmentStep, Step
from campaigns.progress import campaign_preview, campaign_progress
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.api.pagination import CursorPagination
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel, Role

CAMPAIGN_PATH = [OpenApiParameter("campaign_id", OpenApiTypes.INT, OpenApiParameter.PATH)]


class CampaignViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """Campaigns. Everyone reads; admins create, edit, run and delete them."""

    serializer_class = CampaignSerializer
    read_role = Role.VIEWER
    write_role = Role.ADMIN

    def get_base_queryset(self):
        return (
            Campaign.objects.select_related("channel", "owner")
            .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
            .order_by("-created_at", "-id")
        )

    @extend_schema(summary="List campaigns, newest first")
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    @extend_schema(summary="One campaign, with its steps")
    def retrieve(self, request, pk=None):
        return Response(CampaignSerializer(self._campaign(pk)).data)

    @extend_schema(
        summary="Create a campaign (draft)",
        request=CampaignWriteSerializer,
        responses={201: CampaignSerializer},
    )
    def create(self, request):
        data = self._references(validated(CampaignWriteSerializer, request.data))
        campaign = editing.campaign_create(organization=self.organization, **data)
        return Response(self._shown(campaign), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a campaign", request=CampaignWriteSerializer)
    def partial_update(self, request, pk=None):
        serializer = CampaignWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = self._references(serializer.validated_data)
        campaign = editing.campaign_update(campaign=self._campaign(pk), **data)
        return Response(self._shown(campaign))

    @extend_schema(summary="Delete a draft campaign", responses={204: None})
    def destroy(self, request, pk=None):
        editing.campaign_delete(campaign=self._campaign(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Start: its leads begin at the first step (at starts_at, if later)",
        request=None,
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return Response(self._shown(services.campaign_start(campaign=self._campaign(pk))))

    @extend_schema(summary="Pause: nothing more is claimed until it resumes", request=None)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return Response(self._shown(services.campaign_pause(campaign=self._campaign(pk))))

    @extend_schema(summary="Resume a paused campaign", request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return Response(self._shown(services.campaign_resume(campaign=self._campaign(pk))))

    @extend_schema(summary="Cancel: every lead still to run is stopped", request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return Response(self._shown(services.campaign_cancel(campaign=self._campaign(pk))))

    @extend_schema(
        summary="Progress counts",
        description="Enrolled, per state, per step (sent, delivered, read, failed, "
        "accepted, deferred), replied, accepted, opted out, failed, and what waits: for the "
        "24-hour window, for an invitation's acceptance, for the daily cap.",
        responses=ProgressSerializer,
    )
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        return Response(ProgressSerializer(campaign_progress(campaign=self._campaign(pk))).data)

    @extend_schema(
        summary="Preview the first messages, and the leads missing a field",
        description="The messages of the first `count` enrollments still to run, each "
        "rendered from its own fields, and the enrollments lacking a field a step uses "
        "without a fallback (the first 100, and the total).",
        parameters=[PreviewQuerySerializer],
        responses=PreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        count = validated(PreviewQuerySerializer, request.query_params)["count"]
        preview = campaign_preview(campaign=self._campaign(pk), count=count)
        return Response(PreviewSerializer(preview).data)

    def _campaign(self, pk) -> Campaign:
        found = self.get_queryset().filter(pk=url_object_id(pk)).first()
        if found is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "Not found.")
        return found

    def _shown(self, campaign: Campaign) -> dict:
        return CampaignSerializer(self._campaign(campaign.pk)).data

    def _references(self, data: dict) -> dict:
        """Ids in the body, as the organization's objects (another's: a field error)."""
        data = dict(data)
        if "channel" in data:
            channel = Channel.objects.filter(organization=self.organization, pk=data["channel"])
            data["channel"] = channel.first()
            if data["channel"] is None:
                raise field_error(
                    "channel", "Not a channel of this organization.", "does_not_exist"
                )
        if data.get("owner") is not None:
            owner = self.organization.memberships.filter(user_id=data["owner"]).first()
            if owner is None:
                raise field_error("owner", "Not a member of this organization.", "not_a_member")
            data["owner"] = owner.user
        return data


class CampaignChildMixin(OrganizationScopedMixin):
    """Views under /campaigns/{campaign_id}/: the campaign is the organization's."""

    def campaign(self) -> Campaign:
        found = (
            Campaign.objects.filter(
                organization=self.organization, pk=url_object_id(self.kwargs["campaign_id"])
            )
            .select_related("channel")
            .first()
        )
        if found is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "Not found.")
        return found


class StepPagination(CursorPagination):
    ordering = ("position", "id")


class StepViewSet(CampaignChildMixin, viewsets.GenericViewSet):
    """A campaign's steps, in order."""

    serializer_class = StepSerializer
    pagination_class = StepPagination
    organization_field = "campaign__organization"

    def get_base_queryset(self):
        return Step.objects.all()

    @extend_schema(summary="List a campaign's steps, in order", parameters=CAMPAIGN_PATH)
    def list(self, request, campaign_id=None):
        page = self.paginate_queryset(self.get_queryset().filter(campaign=self.campaign()))
        return self.get_paginated_response(StepSerializer(page, many=True).data)

    @extend_schema(summary="One step", parameters=CAMPAIGN_PATH)
    def retrieve(self, request, campaign_id=None, pk=None):
        return Response(StepSerializer(self._step(pk)).data)

    @extend_schema(
        summary="Add a step",
        description="Steps fit the channel: WhatsApp templates on WhatsApp, invitations "
        "on LinkedIn; text on any. A finished campaign is not edited.",
        parameters=CAMPAIGN_PATH,
        request=StepWriteSerializer,
        responses={201: StepSerializer},
    )
    def create(self, request, campaign_id=None):
        data = validated(StepWriteSerializer, request.data)
        step = editing.step_create(campaign=self.campaign(), **data)
        return Response(StepSerializer(step).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a step",
        description="In a running campaign, it applies to the leads that have not reached it.",
        parameters=CAMPAIGN_PATH,
        request=StepWriteSerializer,
    )
    def partial_update(self, request, campaign_id=None, pk=None):
        serializer = StepWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        step = editing.step_update(step=self._step(pk), **serializer.validated_data)
        return Response(StepSerializer(step).data)

    @extend_schema(summary="Remove a step", parameters=CAMPAIGN_PATH, responses={204: None})
    def destroy(self, request, campaign_id=None, pk=None):
        editing.step_delete(step=self._step(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _step(self, pk) -> Step:
        found = (
            self.get_queryset()
            .filter(campaign=self.campaign(), pk=url_object_id(pk))
            .select_related("campaign")
            .first()
        )
        if found is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "Not found.")
        return found


class EnrollmentPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class EnrollmentViewSet(CampaignChildMixin, viewsets.GenericViewSet):
    """A campaign's leads: add them (JSON, CSV), list them, stop one."""

    serializer_class = EnrollmentSerializer
    pagination_class = EnrollmentPagination
    organization_field = "campaign__organization"
    filter_backends = []  # list() validates its parameters (EnrollmentFilterSerializer)

    def get_base_queryset(self):
        return Enrollment.objects.select_related("contact")

    @extend_schema(
        summary="List a campaign's enrollments, newest first",
        parameters=[*CAMPAIGN_PATH, EnrollmentFilterSerializer],
    )
    def list(self, request, campaign_id=None):
        filters = validated(EnrollmentFilterSerializer, request.query_params)
        enrollments = self.get_queryset().filter(campaign=self.campaign())
        if "state" in filters:
            enrollments = enrollments.filter(state=filters["state"])
        if "position" in filters:
            enrollments = enrollments.filter(current_position=filters["position"])
        page = self.paginate_queryset(enrollments)
        return self.get_paginated_response(EnrollmentSerializer(page, many=True).data)

    @extend_schema(
        summary="One enrollment, with its timeline",
        parameters=CAMPAIGN_PATH,
        responses=EnrollmentDetailSerializer,
    )
    def retrieve(self, request, campaign_id=None, pk=None):
        return Response(EnrollmentDetailSerializer(self._enrollment(pk, history=True)).data)

    @extend_schema(
        summary="Add leads (JSON objects) or existing contacts",
        description="All or nothing: with any item in error nothing is added (400 "
        "VALIDATION_ERROR, details.lines: {item number: {field: [...]}} and details.report), "
        "unless skip_invalid. Duplicates are merged; contacts already enrolled are skipped "
        "and counted. dry_run reports without writing (200).",
        parameters=CAMPAIGN_PATH,
        request=EnrollmentsAddSerializer,
        responses={200: ImportReportSerializer, 201: ImportReportSerializer},
    )
    def create(self, request, campaign_id=None):
        data = validated(EnrollmentsAddSerializer, request.data)
        campaign = self.campaign()
        if "contacts" in data:
            report = enrollments_add_contacts(
                campaign=campaign, contact_ids=data["contacts"], dry_run=data["dry_run"]
            )
        else:
            parsed = leads_from_records(
                records=data["leads"],
                needs=campaign_needs(campaign),
                default_region=data.get("default_region") or None,
            )
            report = audience_import(
                campaign=campaign, parsed=parsed, dry_run=data["dry_run"],
                skip_invalid=data["skip_invalid"],
            )  # fmt: skip
        return _report_response(report)

    @extend_schema(
        summary="Upload a CSV of leads",
        description="The CSV's text in `csv` (a JSON API: every body is JSON). Columns: "
        "phone and/or linkedin (URL or member id), first_name, last_name or name, company; "
        "any other column is a custom field. Errors are reported per line (the header is "
        "line 1): with any, nothing is imported (400, details.lines and details.report) "
        "unless skip_invalid.",
        parameters=CAMPAIGN_PATH,
        request=CsvImportSerializer,
        responses={200: ImportReportSerializer, 201: ImportReportSerializer},
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_csv(self, request, campaign_id=None):
        data = validated(CsvImportSerializer, request.data)
        campaign = self.campaign()
        parsed = leads_parse(
            data=data["csv"],
            needs=campaign_needs(campaign),
            default_region=data.get("default_region") or None,
        )
        report = audience_import(
            campaign=campaign, parsed=parsed, dry_run=data["dry_run"],
            skip_invalid=data["skip_invalid"],
        )  # fmt: skip
        return _report_response(report)

    @extend_schema(
        summary="Stop one enrollment: it runs no further step",
        parameters=CAMPAIGN_PATH,
        request=None,
        responses=EnrollmentSerializer,
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, campaign_id=None, pk=None):
        enrollment = services.enrollment_stop(enrollment=self._enrollment(pk))
        return Response(EnrollmentSerializer(self._enrollment(enrollment.pk)).data)

    def _enrollment(self, pk, *, history: bool = False) -> Enrollment:
        enrollments = self.get_queryset().filter(campaign=self.campaign(), pk=url_object_id(pk))
        if history:
            timeline = EnrollmentStep.objects.select_related("message").order_by("at", "id")
            enrollments = enrollments.prefetch_related(Prefetch("history", queryset=timeline))
        found = enrollments.first()
        if found is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "Not found.")
        return found


def _report_response(report: ImportReport) -> Response:
    body = report.as_dict()
    if report.imported:
        return Response(body, status=status.HTTP_201_CREATED)
    if report.errors and not report.dry_run:
        lines: dict[str, dict] = {}
        for error in report.errors[:1000]:
            problems = lines.setdefault(str(error.line), {}).setdefault(error.field, [])
            problems.append({"message": error.message, "code": error.code})
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            f"{len(report.errors)} error(s) in the leads: nothing was imported.",
            {"lines": lines, "report": body},
        )
    return Response(body)
