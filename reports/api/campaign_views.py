"""The campaign reports' endpoints: the funnel per campaign, per step, per day, and the
LinkedIn/SMS channels' usage against their caps. JSON or CSV (reports.api.base)."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from campaigns.models import Campaign
from reports import campaign_reports
from reports.api.base import ReportView
from reports.ranges import DateRange
from tenants.api.base import url_object_id, validated
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel

MAX_ID = 2**63 - 1
RANGE_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="First day (organization's time zone)."
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, included. Default today."),
]
CAMPAIGN_PARAMETER = OpenApiParameter("campaign", OpenApiTypes.INT, description="Campaign id.")
CHANNEL_PARAMETER = OpenApiParameter("channel", OpenApiTypes.INT, description="Channel id.")


class FilterSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    channel = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class ReportRangeSerializer(serializers.Serializer):
    from_ = serializers.DateField()
    to = serializers.DateField()
    timezone = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


def _report(name: str, row_fields: dict, **extra) -> serializers.Serializer:
    row = type(f"{name}RowSerializer", (serializers.Serializer,), dict(row_fields))
    return type(
        f"{name}ReportSerializer",
        (serializers.Serializer,),
        {"range": ReportRangeSerializer(), "rows": row(many=True), **extra},
    )


def _counts(*names: str) -> dict:
    return {name: serializers.IntegerField() for name in names}


def _pct():
    return serializers.FloatField(allow_null=True)


FUNNEL_COUNTS = _counts(*campaign_reports.FUNNEL)
FunnelReport = _report(
    "CampaignFunnel",
    {
        "campaign_id": serializers.IntegerField(),
        "campaign": serializers.CharField(),
        "status": serializers.CharField(),
        **FUNNEL_COUNTS,
        "reply_rate_pct": _pct(),
        "first_reply_median_s": serializers.FloatField(allow_null=True),
    },
)
StepsReport = _report(
    "CampaignSteps",
    {
        "position": serializers.IntegerField(),
        "kind": serializers.CharField(allow_blank=True),
        **_counts(*campaign_reports.STEP_FIGURES),
        "reply_rate_pct": _pct(),
    },
)
DaysReport = _report("CampaignDays", {"day": serializers.DateField(), **FUNNEL_COUNTS})
USAGE_ROW = {
    "day": serializers.DateField(),
    "channel_id": serializers.IntegerField(),
    "channel": serializers.CharField(),
    "action": serializers.ChoiceField(choices=["invitation", "message"]),
    "used": serializers.IntegerField(),
    "cap": serializers.IntegerField(allow_null=True),
}
UsageRow = type("ChannelUsageTodaySerializer", (serializers.Serializer,), dict(USAGE_ROW))
CampaignCapRow = type(
    "CampaignCapUsageSerializer",
    (serializers.Serializer,),
    {
        **USAGE_ROW,
        "campaign_id": serializers.IntegerField(),
        "campaign": serializers.CharField(),
    },
)
UsageReport = _report(
    "ChannelUsage", USAGE_ROW, today=UsageRow(many=True), campaign_caps=CampaignCapRow(many=True)
)


class CampaignReportView(ReportView):
    def filters(self) -> dict:
        found = validated(FilterSerializer, self.request.query_params)
        if "campaign" in found:
            self.campaign_of(found["campaign"])
        if "channel" in found and not self._channels().filter(pk=found["channel"]).exists():
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such channel.")
        return found

    def campaign_of(self, campaign_id: int) -> Campaign:
        campaign = Campaign.objects.filter(organization=self.organization, pk=campaign_id).first()
        if campaign is None:  # another organization's too: never confirm it exists
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such campaign.")
        return campaign

    def _channels(self):
        return Channel.objects.filter(organization=self.organization)

    def answer(self, span: DateRange, rows: list[dict], **extra) -> Response:
        shown = {"from": span.start, "to": span.end, "timezone": str(span.tz)}
        return Response({"range": shown, "rows": rows, **extra})


class CampaignFunnelView(CampaignReportView):
    filename = "campaigns"

    @extend_schema(
        summary="Campaigns' funnel over a date range",
        description="One row per campaign active in the range: enrolled, sent, delivered, "
        "read, accepted, replied, opted out, failed, reply rate (replies per lead "
        "contacted) and the median time from a lead's first step to its reply. "
        "CSV with `Accept: text/csv` or `?format=csv`.",
        parameters=[*RANGE_PARAMETERS, CAMPAIGN_PARAMETER, CHANNEL_PARAMETER],
        responses={200: FunnelReport},
    )
    def get(self, request):
        found, span = self.filters(), self.date_range()
        rows = campaign_reports.campaign_funnel(
            organization=self.organization, span=span, campaign_id=found.get("campaign")
        )
        if "channel" in found:
            on_channel = set(
                Campaign.objects.filter(
                    organization=self.organization, channel_id=found["channel"]
                ).values_list("pk", flat=True)
            )
            rows = [row for row in rows if row["campaign_id"] in on_channel]
        return self.answer(span, rows)


class CampaignStepsView(CampaignReportView):
    filename = "campaign_steps"

    @extend_schema(
        summary="One campaign's figures per step",
        description="Sent, delivered, read, accepted, replied (for the last step sent "
        "before the reply), failed and reply rate, per step.",
        parameters=[
            OpenApiParameter("campaign_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            *RANGE_PARAMETERS,
        ],
        responses={200: StepsReport},
    )
    def get(self, request, campaign_id):
        campaign = self.campaign_of(url_object_id(campaign_id))
        span = self.date_range()
        rows = campaign_reports.campaign_steps(
            organization=self.organization, span=span, campaign_id=campaign.pk
        )
        return self.answer(span, rows)


class CampaignDaysView(CampaignReportView):
    filename = "campaign_days"

    @extend_schema(
        summary="Campaigns' figures per day",
        description="One row per day of the range (organization's time zone), every "
        "campaign or one.",
        parameters=[*RANGE_PARAMETERS, CAMPAIGN_PARAMETER],
        responses={200: DaysReport},
    )
    def get(self, request):
        found, span = self.filters(), self.date_range()
        rows = campaign_reports.campaign_days(
            organization=self.organization, span=span, campaign_id=found.get("campaign")
        )
        return self.answer(span, rows)


class ChannelUsageView(CampaignReportView):
    filename = "channel_usage"

    @extend_schema(
        summary="LinkedIn and SMS channels' daily usage against their caps",
        description="Per channel, day and action (invitation, message): what was used "
        "and the channel's cap (null: none). The caps count UTC days, so these days are "
        "UTC days. `today` is today's usage, whatever the range; `campaign_caps` the "
        "usage of the campaigns' own caps (days of each campaign's time zone; not in "
        "the CSV).",
        parameters=[*RANGE_PARAMETERS, CHANNEL_PARAMETER],
        responses={200: UsageReport},
    )
    def get(self, request):
        found, span = self.filters(), self.date_range()
        today = timezone.now().date()  # the caps' (UTC) day
        rows = campaign_reports.channel_usage(organization=self.organization, span=span)
        now = campaign_reports.channel_usage(
            organization=self.organization, span=DateRange(today, today, span.tz)
        )
        capped = campaign_reports.campaign_cap_usage(organization=self.organization, span=span)
        if "channel" in found:
            rows, now, capped = (
                [row for row in listed if row["channel_id"] == found["channel"]]
                for listed in (rows, now, capped)
            )
        return self.answer(span, rows, today=now, campaign_caps=capped)
