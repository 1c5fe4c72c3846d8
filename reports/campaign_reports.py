"""Campaign reports (issue 17): the selectors the API and the Reports page read.

Signatures per /work/wt/INTERFACE.md; they read the campaign rollups only.
"""

from reports.ranges import DateRange
from tenants.models import Organization


def campaign_funnel(
    *, organization: Organization, span: DateRange, campaign_id: int | None = None
) -> list[dict]:
    """One row per campaign active in span: {"campaign_id", "campaign", "status",
    "enrolled", "sent", "delivered", "read", "accepted", "replied", "opted_out",
    "failed", "reply_rate_pct", "first_reply_median_s"}."""
    return []


def campaign_steps(*, organization: Organization, span: DateRange, campaign_id: int) -> list[dict]:
    """One row per step: {"position", "kind", "sent", "delivered", "read", "accepted",
    "replied", "failed", "reply_rate_pct"}."""
    return []


def campaign_days(
    *, organization: Organization, span: DateRange, campaign_id: int | None = None
) -> list[dict]:
    """One row per day of span (zero-filled): {"day", "enrolled", "sent", "delivered",
    "read", "accepted", "replied", "opted_out", "failed"}."""
    return [
        {
            "day": day,
            "enrolled": 0,
            "sent": 0,
            "delivered": 0,
            "read": 0,
            "accepted": 0,
            "replied": 0,
            "opted_out": 0,
            "failed": 0,
        }
        for day in span.days
    ]


def channel_usage(*, organization: Organization, span: DateRange) -> list[dict]:
    """Per LinkedIn/SMS channel, day and action: {"day", "channel_id", "channel",
    "action" ("invitation" | "message"), "used", "cap"}."""
    return []
