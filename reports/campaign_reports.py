"""Campaign reports (issue 17): the selectors the API and the Reports page read.

They read the rollups only (reports.campaign_models, kept by reports.campaign_rollups),
never the messages: a day's figures per campaign and step, summed over the span.
Days are the organization's (local) days; sent, delivered, read and failed count the
steps sent that day and how their messages fared since. Channel usage reads the
send limiter's own day counts (one row per channel and UTC day, the day its caps use).
"""

import statistics
from collections import defaultdict
from datetime import date

from django.db import connection
from django.db.models import Aggregate, FloatField, Q, Sum

from campaigns.models import Campaign, CampaignDailyCount, Step
from messaging.limits import limits_of
from messaging.models import DailyInvitationCount, DailySendCount, SendLimit
from providers import ChannelKind, Provider, channel_kind
from reports.campaign_models import FIGURES, CampaignDayRollup, CampaignLeadFact
from reports.ranges import DateRange
from tenants.models import Channel, Organization

FUNNEL = ("enrolled", "sent", "delivered", "read", "accepted", "replied", "opted_out", "failed")
STEP_FIGURES = ("sent", "delivered", "read", "accepted", "replied", "failed")
INVITATION, MESSAGE = "invitation", "message"


def campaign_funnel(
    *, organization: Organization, span: DateRange, campaign_id: int | None = None
) -> list[dict]:
    """One row per campaign active in span (figures in it, or running at some time of
    it; with `campaign_id`, that campaign whatever it did): {"campaign_id", "campaign",
    "status", "enrolled", "sent", "delivered", "read", "accepted", "replied",
    "opted_out", "failed", "reply_rate_pct", "first_reply_median_s"}."""
    rollups = _rollups(organization, span, campaign_id)
    sums = {
        row["campaign_id"]: row
        for row in rollups.values("campaign_id").annotate(**{f: Sum(f) for f in FIGURES})
    }
    campaigns = Campaign.objects.filter(organization=organization)
    if campaign_id is not None:
        campaigns = campaigns.filter(pk=campaign_id)
    else:
        ran = Q(started_at__lt=span.end_before) & (
            Q(finished_at__isnull=True) | Q(finished_at__gte=span.start_at)
        )
        campaigns = campaigns.filter(Q(pk__in=list(sums)) | ran)
    medians = _reply_medians(organization, span, campaign_id)
    rows = []
    for campaign in campaigns.order_by("name", "pk"):
        found = sums.get(campaign.pk, {})
        figures = {name: found.get(name) or 0 for name in (*FUNNEL, "contacted")}
        rows.append(
            {
                "campaign_id": campaign.pk,
                "campaign": campaign.name,
                "status": campaign.status,
                **{name: figures[name] for name in FUNNEL},
                "reply_rate_pct": _pct(figures["replied"], figures["contacted"]),
                "first_reply_median_s": medians.get(campaign.pk),
            }
        )
    return rows


def campaign_steps(*, organization: Organization, span: DateRange, campaign_id: int) -> list[dict]:
    """One row per step (and per position of a step deleted since that still has
    figures, kind ""): {"position", "kind", "sent", "delivered", "read", "accepted",
    "replied", "failed", "reply_rate_pct"}; replies count for the last step sent
    before them."""
    sums = {
        row["position"]: row
        for row in _rollups(organization, span, campaign_id)
        .filter(position__gte=0)
        .values("position")
        .annotate(**{f: Sum(f) for f in STEP_FIGURES})
    }
    kinds = dict(
        Step.objects.filter(
            campaign_id=campaign_id, campaign__organization=organization
        ).values_list("position", "kind")
    )
    rows = []
    for position in sorted(set(kinds) | set(sums)):
        found = sums.get(position, {})
        figures = {name: found.get(name) or 0 for name in STEP_FIGURES}
        rows.append(
            {
                "position": position,
                "kind": kinds.get(position, ""),
                **figures,
                "reply_rate_pct": _pct(figures["replied"], figures["sent"]),
            }
        )
    return rows


def campaign_days(
    *, organization: Organization, span: DateRange, campaign_id: int | None = None
) -> list[dict]:
    """One row per day of span (zero-filled): {"day", "enrolled", "sent", "delivered",
    "read", "accepted", "replied", "opted_out", "failed"}."""
    sums = {
        row["day"]: row
        for row in _rollups(organization, span, campaign_id)
        .values("day")
        .annotate(**{f: Sum(f) for f in FUNNEL})
    }
    return [
        {"day": day, **{name: sums.get(day, {}).get(name) or 0 for name in FUNNEL}}
        for day in span.days
    ]


def channel_usage(*, organization: Organization, span: DateRange) -> list[dict]:
    """Per LinkedIn/SMS channel, day and action: {"day", "channel_id", "channel",
    "action" ("invitation" | "message"), "used", "cap"}. The caps count UTC days, so
    these days are UTC days; `cap` is the channel's (its own limit, else its
    provider's), None when it has none."""
    kinds = (ChannelKind.SMS, ChannelKind.LINKEDIN)
    providers = [p.value for p in Provider if channel_kind(p) in kinds]
    channels = list(
        Channel.objects.filter(organization=organization, provider__in=providers).order_by(
            "name", "pk"
        )
    )
    own = {row.channel_id: row for row in SendLimit.objects.filter(channel__in=channels)}
    used = {
        MESSAGE: _day_counts(DailySendCount, channels, span),
        INVITATION: _day_counts(DailyInvitationCount, channels, span),
    }
    rows = []
    for day in span.days:
        for channel in channels:
            limits = limits_of(channel, own.get(channel.pk))
            actions = [(MESSAGE, limits.daily_cap)]
            if channel_kind(channel.provider) == ChannelKind.LINKEDIN:
                actions.insert(0, (INVITATION, limits.daily_invitation_cap))
            for action, cap in actions:
                rows.append(
                    {
                        "day": day,
                        "channel_id": channel.pk,
                        "channel": channel.name,
                        "action": action,
                        "used": used[action].get((channel.pk, day), 0),
                        "cap": cap,
                    }
                )
    return rows


def campaign_cap_usage(*, organization: Organization, span: DateRange) -> list[dict]:
    """Per campaign with a daily cap of its own, day and action: {"day", "campaign_id",
    "campaign", "channel_id", "action", "used", "cap"}. A campaign's caps count days
    of its own time zone; these are those days."""
    campaigns = list(
        Campaign.objects.filter(organization=organization)
        .filter(Q(daily_message_cap__isnull=False) | Q(daily_invitation_cap__isnull=False))
        .order_by("name", "pk")
    )
    used = {
        (campaign_id, day, kind): count
        for campaign_id, day, kind, count in CampaignDailyCount.objects.filter(
            campaign__in=campaigns, day__range=(span.start, span.end)
        ).values_list("campaign_id", "day", "kind", "count")
    }
    rows = []
    for day in span.days:
        for campaign in campaigns:
            caps = [
                (INVITATION, campaign.daily_invitation_cap),
                (MESSAGE, campaign.daily_message_cap),
            ]
            rows += [
                {
                    "day": day,
                    "campaign_id": campaign.pk,
                    "campaign": campaign.name,
                    "channel_id": campaign.channel_id,
                    "action": action,
                    "used": used.get((campaign.pk, day, action), 0),
                    "cap": cap,
                }
                for action, cap in caps
                if cap is not None
            ]
    return rows


def _day_counts(model, channels: list, span: DateRange) -> dict[tuple[int, date], int]:
    return {
        (channel_id, day): count
        for channel_id, day, count in model.objects.filter(
            channel__in=channels, day__range=(span.start, span.end)
        ).values_list("channel_id", "day", "count")
    }


def _rollups(organization: Organization, span: DateRange, campaign_id: int | None):
    rollups = CampaignDayRollup.objects.filter(
        organization=organization, day__range=(span.start, span.end)
    )
    return rollups.filter(campaign_id=campaign_id) if campaign_id is not None else rollups


class _Median(Aggregate):
    # PostgreSQL's exact median, computed where the rows are.
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _reply_medians(organization, span: DateRange, campaign_id: int | None) -> dict[int, float]:
    """Each campaign's median time from a lead's first step to its reply, over the
    replies of the span (one fact per replied lead, not per message)."""
    facts = CampaignLeadFact.objects.filter(
        organization=organization,
        replied_day__range=(span.start, span.end),
        reply_delay_s__isnull=False,
    )
    if campaign_id is not None:
        facts = facts.filter(campaign_id=campaign_id)
    if connection.vendor == "postgresql":
        medians = facts.values("campaign_id").annotate(median=_Median("reply_delay_s"))
        return {row["campaign_id"]: float(row["median"]) for row in medians}
    delays = defaultdict(list)  # SQLite has no percentile: the embedded default's few rows
    for campaign, delay in facts.values_list("campaign_id", "reply_delay_s"):
        delays[campaign].append(delay)
    return {campaign: float(statistics.median(values)) for campaign, values in delays.items()}


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
