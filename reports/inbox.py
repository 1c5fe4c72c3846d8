"""Inbox reports: how the team answers its customers (selectors; INTERFACE.md).

Every figure is per organization, over local days of its timezone, and can be narrowed
to a channel and an agent. The agent is the conversation's assignee now (0 in
`agent_id` filters: unassigned): a reassigned conversation's figures move with it,
which is what the backfill can rebuild from history (no table keeps past assignments).

- conversations_opened / _closed: episodes begun (a new conversation, or one reopened:
  a customer writing to a closed one, or an agent reopening it) and closed that day.
- messages_in / messages_out: customer messages by the provider's timestamp; messages
  the provider accepted from us (and what the team sent from the provider's own app),
  by when they were written.
- first response (median, p90 in seconds): from the first customer message of an
  episode to the first later message not sent by an automation (keyword auto-replies,
  health checks and campaign steps are automated; API sends carry no author, so a bot
  answering through the API counts as a response), on the day the customer wrote.
- answered_within_sla_pct, resolution (median, p90): see reports.inbox_durations.
- refused_*: sends the checks refused (messaging.refusals), by reason: the window had
  closed, the template was not approved, the channel's rate or daily cap, the contact
  opted out or is on the do-not-contact list, and anything else (template parameters
  that do not fit, a switched-off channel, text too long or empty). Counted on the
  conversation's assignee at the time; health checks are not counted.
- unread_backlog / unread_oldest_age_s (now, whatever the span): conversations with
  unread customer messages, and how long the longest-waiting one has waited since its
  latest customer message.

Counts come from reports.inbox_models.InboxDay (kept by reports.inbox_rollup), the
durations from the episodes (reports.inbox_durations).
"""

from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Sum
from django.utils import timezone

from conversations.models import Conversation
from messaging.models import DailyRefusalCount
from reports.inbox_durations import DURATIONS, durations
from reports.inbox_models import InboxDay
from reports.inbox_rollup import COUNTERS
from reports.ranges import DateRange
from tenants.errors import ErrorCode
from tenants.models import Channel, Organization

REFUSALS = (
    "refused_window_expired",
    "refused_template_not_approved",
    "refused_rate_limited",
    "refused_opted_out",
    "refused_other",
)
REFUSAL_OF_CODE = {
    ErrorCode.WINDOW_EXPIRED: "refused_window_expired",
    ErrorCode.TEMPLATE_NOT_APPROVED: "refused_template_not_approved",
    ErrorCode.RATE_LIMITED: "refused_rate_limited",
    ErrorCode.CONTACT_OPTED_OUT: "refused_opted_out",
    ErrorCode.CONTACT_DO_NOT_CONTACT: "refused_opted_out",
}
FIGURES = [
    "conversations_opened",
    "conversations_closed",
    "messages_in",
    "messages_out",
    "first_response_median_s",
    "first_response_p90_s",
    "resolution_median_s",
    "resolution_p90_s",
    "answered_within_sla_pct",
    *REFUSALS,
]
UNASSIGNED = "Unassigned"


def inbox_days(
    *,
    organization: Organization,
    span: DateRange,
    channel_id: int | None = None,
    agent_id: int | None = None,
) -> list[dict]:
    """One row per local day of `span`, zero-filled."""
    found = _figures(organization, span, "day", channel_id, agent_id)
    return [{"day": day, **found.get(day, _empty())} for day in span.days]


def inbox_summary(
    *,
    organization: Organization,
    span: DateRange,
    channel_id: int | None = None,
    agent_id: int | None = None,
) -> dict:
    """The figures over the whole span, with the unread backlog now."""
    found = _figures(organization, span, None, channel_id, agent_id).get(None, _empty())
    backlog = _unread(organization, None, channel_id, agent_id).get(None, _no_backlog())
    return {**found, **backlog, "sla_seconds": organization.sla_seconds}


def inbox_by_agent(
    *, organization: Organization, span: DateRange, channel_id: int | None = None
) -> list[dict]:
    """One row per agent with figures in the span or conversations waiting now
    (`agent_id` None: unassigned), by name, unassigned last."""
    found = _figures(organization, span, "agent", channel_id, None)
    backlog = _unread(organization, "agent", channel_id, None)
    agent_ids = sorted(set(found) | set(backlog))
    names = dict(
        get_user_model()
        .objects.filter(pk__in=[a for a in agent_ids if a])
        .values_list("pk", get_user_model().USERNAME_FIELD)
    )
    rows = [
        {
            "agent_id": agent_id or None,
            "agent": names.get(agent_id, f"User {agent_id}") if agent_id else UNASSIGNED,
            **found.get(agent_id, _empty()),
            **backlog.get(agent_id, _no_backlog()),
        }
        for agent_id in agent_ids
    ]
    return sorted(rows, key=lambda row: (row["agent_id"] is None, row["agent"].lower()))


def inbox_by_channel(*, organization: Organization, span: DateRange) -> list[dict]:
    """One row per channel of the organization, by name (zeros where nothing happened)."""
    found = _figures(organization, span, "channel", None, None)
    backlog = _unread(organization, "channel", None, None)
    channels = Channel.objects.filter(organization=organization).order_by("name", "pk")
    return [
        {
            "channel_id": channel.pk,
            "channel": channel.name,
            **found.get(channel.pk, _empty()),
            **backlog.get(channel.pk, _no_backlog()),
        }
        for channel in channels
    ]


def _empty() -> dict:
    return {name: None if name in DURATIONS else 0 for name in FIGURES}


def _no_backlog() -> dict:
    return {"unread_backlog": 0, "unread_oldest_age_s": None}


_GROUP = {"day": "day", "agent": "agent_id", "channel": "channel_id"}


def _figures(organization, span: DateRange, by: str | None, channel_id, agent_id) -> dict:
    """{group key: every figure} for the groups with anything in the span."""
    found: dict = {}

    def row(key) -> dict:
        return found.setdefault(key, _empty())

    for key, counts in _counts(organization, span, by, channel_id, agent_id):
        row(key).update(counts)
    for key, code, count in _refusals(organization, span, by, channel_id, agent_id):
        row(key)[REFUSAL_OF_CODE.get(code, "refused_other")] += count
    timed = durations(
        organization_id=organization.pk,
        span=span,
        sla_seconds=organization.sla_seconds,
        by=by,
        channel_id=channel_id,
        agent_id=agent_id,
    )
    for key, figures in timed.items():
        row(key).update(figures)
    return found


def _filtered(rows, organization, span: DateRange, channel_id, agent_id):
    rows = rows.filter(organization=organization, day__gte=span.start, day__lte=span.end)
    if channel_id is not None:
        rows = rows.filter(channel_id=channel_id)
    if agent_id is not None:
        rows = rows.filter(agent_id=agent_id)
    return rows


def _counts(organization, span, by, channel_id, agent_id):
    rows = _filtered(InboxDay.objects, organization, span, channel_id, agent_id)
    sums = {name: Sum(name) for name in COUNTERS}
    if by is None:  # one row, unless there is nothing
        found = rows.aggregate(**sums)
        if found["messages_in"] is not None:
            yield None, found
        return
    for found in rows.values(_GROUP[by]).annotate(**sums).order_by():
        yield found[_GROUP[by]], {name: found[name] for name in COUNTERS}


def _refusals(organization, span, by, channel_id, agent_id):
    rows = _filtered(DailyRefusalCount.objects, organization, span, channel_id, agent_id)
    group = [_GROUP[by]] if by else []
    sums = rows.values(*group, "code").annotate(total=Sum("count")).order_by()
    for found in sums:
        yield (found[group[0]] if group else None), found["code"], found["total"]


def _unread(organization, by: str | None, channel_id, agent_id) -> dict:
    """Now: conversations with unread messages, per group."""
    waiting = Conversation.objects.filter(organization=organization, unread_count__gt=0)
    if channel_id is not None:
        waiting = waiting.filter(channel_id=channel_id)
    if agent_id is not None:
        waiting = waiting.filter(assignee_id=agent_id or None)
    field = {"agent": "assignee_id", "channel": "channel_id"}.get(by)
    figures = {"n": Count("pk"), "oldest": Min("last_user_message_at")}
    if field is None:
        totals = waiting.aggregate(**figures)
        groups = [(None, totals)] if totals["n"] else []
    else:
        groups = [
            (row[field] or 0, row) for row in waiting.values(field).annotate(**figures).order_by()
        ]
    now = timezone.now()
    return {
        key: {
            "unread_backlog": row["n"],
            "unread_oldest_age_s": (now - row["oldest"]).total_seconds() if row["oldest"] else None,
        }
        for key, row in groups
    }
