"""Inbox reports: how the team answers (selectors over the inbox rollups).

Work in progress: the signatures below are the contract (INTERFACE.md); the figures
are filled in by the rollups that follow.
"""

from reports.ranges import DateRange
from tenants.models import Organization

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
    "refused_window_expired",
    "refused_template_not_approved",
    "refused_rate_limited",
    "refused_opted_out",
    "refused_other",
]


def _empty() -> dict:
    return {name: (None if name.endswith(("_s", "_pct")) else 0) for name in FIGURES}


def inbox_days(
    *,
    organization: Organization,
    span: DateRange,
    channel_id: int | None = None,
    agent_id: int | None = None,
) -> list[dict]:
    """One row per local day of `span`, zero-filled."""
    return [{"day": day, **_empty()} for day in span.days]


def inbox_summary(
    *,
    organization: Organization,
    span: DateRange,
    channel_id: int | None = None,
    agent_id: int | None = None,
) -> dict:
    """The figures over the whole span, with the unread backlog now."""
    return {
        **_empty(),
        "unread_backlog": 0,
        "unread_oldest_age_s": None,
        "sla_seconds": 3600,
    }


def inbox_by_agent(
    *, organization: Organization, span: DateRange, channel_id: int | None = None
) -> list[dict]:
    """One row per agent (None: unassigned) with figures in the span."""
    return []


def inbox_by_channel(*, organization: Organization, span: DateRange) -> list[dict]:
    """One row per channel of the organization."""
    return []
