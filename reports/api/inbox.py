"""GET /api/v1/reports/inbox/days, /summary, /agents, /channels (reports.inbox).

Filters: `from`, `to` (local days, both included), `channel` (an id of the caller's
organization; another's is a 404), `agent` (a user id, or `unassigned`). JSON
`{"range", "rows"}` or CSV of the rows (reports.api.base.ReportView).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from reports import inbox
from reports.api.base import ReportView
from reports.inbox_models import InboxDay
from reports.ranges import DateRange
from tenants.api.base import validated
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel, Membership

MAX_ID = 2**63 - 1
UNASSIGNED = "unassigned"


class _Filters(serializers.Serializer):
    channel = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    agent = serializers.RegexField(r"^(unassigned|[1-9][0-9]{0,18})$", required=False)


def _figure_fields() -> dict:
    fields = {}
    for name in inbox.FIGURES:
        if name.endswith(("_s", "_pct")):
            fields[name] = serializers.FloatField(allow_null=True)
        else:
            fields[name] = serializers.IntegerField()
    return fields


_BACKLOG = {
    "unread_backlog": serializers.IntegerField(),
    "unread_oldest_age_s": serializers.FloatField(allow_null=True),
}
_RANGE = inline_serializer(
    "ReportRange",
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "timezone": serializers.CharField(),
    },
)


def _report(name: str, row: dict):
    return inline_serializer(
        name, {"range": _RANGE, "rows": inline_serializer(f"{name}Row", row, many=True)}
    )


def _parameters(*, agent: bool = True, channel: bool = True) -> list[OpenApiParameter]:
    found = [
        OpenApiParameter(
            "from", OpenApiTypes.DATE, description="First local day (default: 30 days ago)."
        ),
        OpenApiParameter(
            "to", OpenApiTypes.DATE, description="Last local day, included (default: today)."
        ),
        OpenApiParameter(
            "format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: the rows as CSV."
        ),
    ]
    if channel:
        found.append(
            OpenApiParameter("channel", OpenApiTypes.INT, description="Only this channel.")
        )
    if agent:
        found.append(
            OpenApiParameter(
                "agent",
                OpenApiTypes.STR,
                description="Only conversations assigned to this user (id), or `unassigned`.",
            )
        )
    return found


class _InboxView(ReportView):
    def filters(self, *, agent: bool = True, channel: bool = True) -> dict:
        params = {k: v for k, v in self.request.query_params.items() if k in ("channel", "agent")}
        data = validated(_Filters, params)
        found = {}
        if channel and "channel" in data:
            if not Channel.objects.filter(
                organization=self.organization, pk=data["channel"]
            ).exists():
                raise ApplicationError(ErrorCode.NOT_FOUND, "No such channel.")
            found["channel_id"] = data["channel"]
        if agent and "agent" in data:
            found["agent_id"] = self._agent(data["agent"])
        return found

    def _agent(self, value: str) -> int:
        if value == UNASSIGNED:
            return 0
        agent_id = int(value)
        known = Membership.objects.filter(organization=self.organization, user_id=agent_id)
        counted = InboxDay.objects.filter(organization=self.organization, agent_id=agent_id)
        if not known.exists() and not counted.exists():
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such agent.")
        return agent_id

    def answer(self, span: DateRange, rows: list[dict]) -> Response:
        return Response(
            {"range": {"from": span.start, "to": span.end, "timezone": span.tz.key}, "rows": rows}
        )


_ROW = _figure_fields()


class InboxDaysView(_InboxView):
    """Per local day of the range (every day, zero-filled)."""

    filename = "inbox_days"

    @extend_schema(
        summary="Inbox figures per day",
        parameters=_parameters(),
        responses=_report("InboxDays", {"day": serializers.DateField(), **_ROW}),
    )
    def get(self, request):
        span, filters = self.date_range(), self.filters()
        return self.answer(
            span, inbox.inbox_days(organization=self.organization, span=span, **filters)
        )


class InboxSummaryView(_InboxView):
    """The whole range in one row, with the unread backlog now and the SLA."""

    filename = "inbox_summary"

    @extend_schema(
        summary="Inbox figures over the range",
        parameters=_parameters(),
        responses=_report(
            "InboxSummary", {**_ROW, **_BACKLOG, "sla_seconds": serializers.IntegerField()}
        ),
    )
    def get(self, request):
        span, filters = self.date_range(), self.filters()
        summary = inbox.inbox_summary(organization=self.organization, span=span, **filters)
        return self.answer(span, [summary])


class InboxAgentsView(_InboxView):
    """Per assignee (`agent_id` null: unassigned)."""

    filename = "inbox_agents"

    @extend_schema(
        summary="Inbox figures per agent",
        parameters=_parameters(agent=False),
        responses=_report(
            "InboxAgents",
            {
                "agent_id": serializers.IntegerField(allow_null=True),
                "agent": serializers.CharField(),
                **_ROW,
                **_BACKLOG,
            },
        ),
    )
    def get(self, request):
        span, filters = self.date_range(), self.filters(agent=False)
        rows = inbox.inbox_by_agent(organization=self.organization, span=span, **filters)
        return self.answer(span, rows)


class InboxChannelsView(_InboxView):
    """Per channel of the organization."""

    filename = "inbox_channels"

    @extend_schema(
        summary="Inbox figures per channel",
        parameters=_parameters(agent=False, channel=False),
        responses=_report(
            "InboxChannels",
            {
                "channel_id": serializers.IntegerField(),
                "channel": serializers.CharField(),
                **_ROW,
                **_BACKLOG,
            },
        ),
    )
    def get(self, request):
        span = self.date_range()
        return self.answer(span, inbox.inbox_by_channel(organization=self.organization, span=span))
