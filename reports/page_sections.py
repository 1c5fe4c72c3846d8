"""The Reports page's sections (reports.admin_page): each calls the report selectors
once per figure set and turns rows into tiles, charts and table rows.

The tables' raw rows are what their CSV links download (`TABLES`, read by the page's
CSV answer), so a download holds exactly the figures the table shows, unformatted.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from campaigns.models import StepKind
from reports import campaign_reports, inbox
from reports.charts import Series, bar_chart, funnel_chart, line_chart
from reports.page_format import REFUSAL_REASONS, count, duration, minutes, percent, refused_total
from reports.ranges import DateRange
from tenants.models import Organization

# Campaigns drawn one by one (funnel and steps); the CSV of the funnel lists them all.
MAX_CAMPAIGNS = 8
# Short names for the steps table ("Send a WhatsApp template" is a sentence).
STEP_KINDS = {
    StepKind.WHATSAPP_TEMPLATE: "WhatsApp template",
    StepKind.TEXT: "Text",
    StepKind.LINKEDIN_INVITATION: "LinkedIn invitation",
    StepKind.WAIT_FOR_ACCEPTANCE: "Wait for acceptance",
}
FUNNEL = ["enrolled", "sent", "delivered", "read", "accepted", "replied"]


@dataclass(frozen=True)
class Filters:
    organization: Organization
    span: DateRange
    channel_id: int | None = None
    campaign_id: int | None = None


def _refusals(filters: Filters) -> list[dict]:
    summary = inbox.inbox_summary(
        organization=filters.organization, span=filters.span, channel_id=filters.channel_id
    )
    return [{"reason": label, "refused": summary.get(key) or 0} for key, label in REFUSAL_REASONS]


def _usage(filters: Filters) -> list[dict]:
    rows = campaign_reports.channel_usage(organization=filters.organization, span=filters.span)
    if filters.channel_id is None:
        return rows
    return [row for row in rows if row["channel_id"] == filters.channel_id]


# Each downloadable table: its rows from the selectors, as the API would give them.
TABLES: dict[str, Callable[[Filters], list[dict]]] = {
    "inbox_days": lambda f: inbox.inbox_days(
        organization=f.organization, span=f.span, channel_id=f.channel_id
    ),
    "inbox_agents": lambda f: inbox.inbox_by_agent(
        organization=f.organization, span=f.span, channel_id=f.channel_id
    ),
    "inbox_channels": lambda f: inbox.inbox_by_channel(organization=f.organization, span=f.span),
    "refusals": _refusals,
    "campaigns": lambda f: campaign_reports.campaign_funnel(
        organization=f.organization, span=f.span, campaign_id=f.campaign_id
    ),
    "campaign_steps": lambda f: (
        campaign_reports.campaign_steps(
            organization=f.organization, span=f.span, campaign_id=f.campaign_id
        )
        if f.campaign_id
        else []
    ),
    "campaign_days": lambda f: campaign_reports.campaign_days(
        organization=f.organization, span=f.span, campaign_id=f.campaign_id
    ),
    "usage": _usage,
}


def _label(day: date, span: DateRange) -> str:
    return f"{day:%b} {day.day}" if span.start.year == span.end.year else f"{day:%Y-%m-%d}"


def _figure_cells(row: dict) -> list[str]:
    return [
        count(row.get("conversations_opened")),
        count(row.get("conversations_closed")),
        count(row.get("messages_in")),
        count(row.get("messages_out")),
        duration(row.get("first_response_median_s")),
        duration(row.get("first_response_p90_s")),
        duration(row.get("resolution_median_s")),
        percent(row.get("answered_within_sla_pct")),
        count(refused_total(row)),
    ]


FIGURE_HEADERS = [
    "Opened",
    "Closed",
    "In",
    "Out",
    "1st response median",
    "1st response p90",
    "Resolution median",
    "Within SLA",
    "Refused",
]


def inbox_section(filters: Filters) -> dict:
    org, span, channel_id = filters.organization, filters.span, filters.channel_id
    summary = inbox.inbox_summary(organization=org, span=span, channel_id=channel_id)
    days = TABLES["inbox_days"](filters)
    labels = [_label(row["day"], span) for row in days]

    def line(key: str, title: str, names: list[tuple[str, str]], unit="", convert=None):
        convert = convert or (lambda value: value)
        series = [Series(name, [convert(row[field]) for row in days]) for field, name in names]
        return line_chart(title=title, labels=labels, series=series, unit=unit, key=key)

    refusals = _refusals(filters)
    return {
        "tiles": _tiles(summary),
        "charts": [
            line("messages", "Messages per day", [("messages_in", "In"), ("messages_out", "Out")]),
            line(
                "conversations",
                "Conversations per day",
                [("conversations_opened", "Opened"), ("conversations_closed", "Closed")],
            ),
            line(
                "first-response",
                "First response time per day",
                [("first_response_median_s", "Median"), ("first_response_p90_s", "p90")],
                unit="minutes",
                convert=minutes,
            ),
            bar_chart(
                title="Sends refused, by reason",
                labels=[row["reason"] for row in refusals],
                values=[row["refused"] for row in refusals],
                color="#dc2626",
                key="refusals",
            ),
        ],
        "headers": FIGURE_HEADERS,
        "agents": [
            {"name": row["agent"], "cells": _figure_cells(row)}
            for row in TABLES["inbox_agents"](filters)
        ],
        "channels": [
            {"name": row["channel"], "cells": _figure_cells(row)}
            for row in TABLES["inbox_channels"](filters)
        ],
        "refusals": refusals,
    }


def _tiles(summary: dict) -> list[tuple[str, str, str]]:
    """(label, figure, what it means) for the tiles above the charts."""
    sla = duration(summary.get("sla_seconds"))
    return [
        ("Conversations opened", count(summary["conversations_opened"]), ""),
        ("Conversations closed", count(summary["conversations_closed"]), ""),
        (
            "Messages in / out",
            f"{count(summary['messages_in'])} / {count(summary['messages_out'])}",
            "",
        ),
        (
            "First response",
            duration(summary["first_response_median_s"]),
            f"median; p90 {duration(summary['first_response_p90_s'])}",
        ),
        (
            "Resolution",
            duration(summary["resolution_median_s"]),
            f"median; p90 {duration(summary['resolution_p90_s'])}",
        ),
        ("Answered within SLA", percent(summary["answered_within_sla_pct"]), f"SLA {sla}"),
        (
            "Unread backlog",
            count(summary.get("unread_backlog")),
            f"oldest {duration(summary.get('unread_oldest_age_s'))}",
        ),
        ("Sends refused", count(refused_total(summary)), ""),
    ]


def campaigns_section(filters: Filters) -> dict:
    span = filters.span
    funnels = TABLES["campaigns"](filters)
    days = TABLES["campaign_days"](filters)
    labels = [_label(row["day"], span) for row in days]
    names = [("sent", "Sent"), ("delivered", "Delivered"), ("replied", "Replied")]
    daily = line_chart(
        title="Campaign steps per day",
        labels=labels,
        series=[Series(name, [row[key] for row in days]) for key, name in names],
        key="campaign-days",
    )
    return {
        "daily": daily,
        "campaigns": [_campaign(filters, row) for row in funnels[:MAX_CAMPAIGNS]],
        "more": max(len(funnels) - MAX_CAMPAIGNS, 0),
    }


def _campaign(filters: Filters, row: dict) -> dict:
    steps = campaign_reports.campaign_steps(
        organization=filters.organization, span=filters.span, campaign_id=row["campaign_id"]
    )
    return {
        "id": row["campaign_id"],
        "name": row["campaign"],
        "status": row["status"],
        "chart": funnel_chart(
            title=f"Funnel: {row['campaign']}",
            stages=[(key.capitalize(), row[key] or 0) for key in FUNNEL],
            key=f"funnel-{row['campaign_id']}",
        ),
        "facts": [
            ("Reply rate", percent(row["reply_rate_pct"])),
            ("First reply", duration(row["first_reply_median_s"])),
            ("Opted out", count(row["opted_out"])),
            ("Failed", count(row["failed"])),
        ],
        "steps": [
            [
                str(step["position"]),
                STEP_KINDS.get(step["kind"], "(a step since deleted)"),
                *(count(step[k]) for k in FUNNEL[1:]),
                count(step["failed"]),
                percent(step["reply_rate_pct"]),
            ]
            for step in steps
        ],
    }


def usage_section(filters: Filters) -> list[dict]:
    """One chart per channel and action: each day's use against its cap."""
    groups: dict[tuple, list[dict]] = {}
    for row in TABLES["usage"](filters):
        groups.setdefault((row["channel_id"], row["channel"], row["action"]), []).append(row)
    shown = []
    for (channel_id, channel, action), rows in sorted(groups.items(), key=lambda g: g[0][1:]):
        rows.sort(key=lambda row: row["day"])
        caps = [row["cap"] for row in rows if row["cap"] is not None]
        last = rows[-1]
        title = f"{channel}: {action}s per day"
        shown.append(
            {
                "channel": channel,
                "action": action,
                "latest": f"{count(last['used'])} of {count(last['cap'])} on {last['day']}"
                if last["cap"] is not None
                else f"{count(last['used'])} on {last['day']} (no cap)",
                "chart": bar_chart(
                    title=title,
                    labels=[_label(row["day"], filters.span) for row in rows],
                    values=[row["used"] for row in rows],
                    limit=caps[-1] if caps else None,
                    key=f"usage-{channel_id}-{action}",
                ),
            }
        )
    return shown
