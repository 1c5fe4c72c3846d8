"""Fixed rows in place of the report selectors, for the Reports page's tests (and its
browser test) while they check what the page makes of given figures."""

from datetime import date

from reports import campaign_reports, inbox

FIGURES = dict.fromkeys(inbox.FIGURES, 0) | {
    "first_response_median_s": None,
    "first_response_p90_s": None,
    "resolution_median_s": None,
    "resolution_p90_s": None,
    "answered_within_sla_pct": None,
}


def day_row(day: date, **figures) -> dict:
    return {"day": day, **FIGURES, **figures}


def patch_selectors(monkeypatch) -> list:
    """The report selectors patched to fixed rows: three days of figures, two agents,
    a channel, a campaign with a step, a LinkedIn channel's invitations against its
    cap. Returns the inbox_days calls (span, channel) as they come."""
    calls = []

    def days(*, organization, span, channel_id=None, agent_id=None):
        calls.append(("inbox_days", span, channel_id))
        values = [(3, 1), (5, 4), (0, 2)]
        return [
            day_row(d, messages_in=i, messages_out=o, first_response_median_s=600 if i else None)
            for d, (i, o) in zip(span.days, values + [(0, 0)] * len(span.days), strict=False)
        ]

    def summary(*, organization, span, channel_id=None, agent_id=None):
        return {**FIGURES, "messages_in": 8, "messages_out": 7, "conversations_opened": 4,
                "first_response_median_s": 600, "first_response_p90_s": 5400,
                "answered_within_sla_pct": 87.5, "refused_window_expired": 2,
                "refused_opted_out": 1, "unread_backlog": 3, "unread_oldest_age_s": 7200,
                "sla_seconds": 3600}  # fmt: skip

    def agents(*, organization, span, channel_id=None):
        return [
            {"agent_id": 1, "agent": "kim", **FIGURES, "messages_out": 5},
            {"agent_id": None, "agent": "Unassigned", **FIGURES, "messages_out": 2},
        ]

    def channels(*, organization, span):
        return [{"channel_id": 9, "channel": "=Support line", **FIGURES, "messages_in": 8}]

    def funnel(*, organization, span, campaign_id=None):
        return [{"campaign_id": 5, "campaign": "Spring <intro>", "status": "running",
                 "enrolled": 40, "sent": 30, "delivered": 28, "read": 20, "accepted": 0,
                 "replied": 6, "opted_out": 1, "failed": 2, "reply_rate_pct": 20.0,
                 "first_reply_median_s": 3600}]  # fmt: skip

    def steps(*, organization, span, campaign_id):
        figures = {"sent": 30, "delivered": 28, "read": 20, "accepted": 0, "replied": 6}
        return [{"position": 1, "kind": "whatsapp_template", **figures, "failed": 2,
                 "reply_rate_pct": 20.0}]  # fmt: skip

    def campaign_days(*, organization, span, campaign_id=None):
        zero = dict.fromkeys(["enrolled", "read", "accepted", "replied", "opted_out", "failed"], 0)
        return [{"day": d, **zero, "sent": n, "delivered": n} for n, d in enumerate(span.days)]

    def usage(*, organization, span):
        return [{"day": d, "channel_id": 7, "channel": "LinkedIn Kim", "action": "invitation",
                 "used": 10 + n, "cap": 20} for n, d in enumerate(span.days)]  # fmt: skip

    for name, fn in [("inbox_days", days), ("inbox_summary", summary),
                     ("inbox_by_agent", agents), ("inbox_by_channel", channels)]:  # fmt: skip
        monkeypatch.setattr(inbox, name, fn)
    for name, fn in [("campaign_funnel", funnel), ("campaign_steps", steps),
                     ("campaign_days", campaign_days), ("channel_usage", usage)]:  # fmt: skip
        monkeypatch.setattr(campaign_reports, name, fn)
    return calls
