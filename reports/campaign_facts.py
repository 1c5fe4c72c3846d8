"""What each campaign fact contributes to the day rollups, and the facts made from
the campaigns' own rows. Shared by the incremental pass (campaign_rollups) and the
rebuild (campaign_backfill), so the two count by one rule.
"""

import zoneinfo
from collections import defaultdict
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from campaigns.models import Enrollment, EnrollmentStep, StepOutcome
from providers.events import MessageStatus
from reports.campaign_models import (
    FIGURES,
    LEAD_POSITION,
    CampaignDayRollup,
    CampaignLeadFact,
    CampaignStepFact,
    StepFactKind,
)
from tenants.errors import ErrorCode
from tenants.models import Organization

_OPTED_OUT_PREFIX = f"{ErrorCode.CONTACT_OPTED_OUT}:"
_DELIVERED = (MessageStatus.DELIVERED, MessageStatus.READ)


def status_rank(status: str) -> int:
    try:
        return MessageStatus(status).rank
    except ValueError:
        return -1  # "" (no message: an invitation) ranks below every status


def step_figures(kind: str, first: bool, status: str) -> dict[str, int]:
    """A step fact's figures: a sent step counts its message's delivery, read and
    failure (as they stand) on the day it was sent."""
    if kind == StepFactKind.ACCEPTED:
        return {"accepted": 1}
    if kind == StepFactKind.FAILED:
        return {"failed": 1}
    return {
        "sent": 1,
        "contacted": int(first),
        "delivered": int(status in _DELIVERED),
        "read": int(status == MessageStatus.READ),
        "failed": int(status == MessageStatus.FAILED),
    }


class Zones:
    """Organizations' time zones, looked up once per pass."""

    def __init__(self) -> None:
        self._zones: dict[int, zoneinfo.ZoneInfo] = {}

    def day(self, organization_id: int, moment: datetime):
        if organization_id not in self._zones:
            name = Organization.objects.values_list("timezone", flat=True).get(pk=organization_id)
            self._zones[organization_id] = zoneinfo.ZoneInfo(name)
        return moment.astimezone(self._zones[organization_id]).date()


class Deltas:
    """Changes to the day rollups, summed in memory and written in one upsert."""

    def __init__(self) -> None:
        self.rows: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))

    def add(self, org_id: int, campaign_id: int, day, position: int, figures: dict, sign=1):
        row = self.rows[(org_id, campaign_id, day, position)]
        for name, value in figures.items():
            row[name] += sign * value

    def flush(self) -> None:
        rows = [(key, row) for key, row in self.rows.items() if any(row.values())]
        if not rows:
            return
        table = CampaignDayRollup._meta.db_table
        columns = ", ".join(FIGURES)
        places = ", ".join(["%s"] * (4 + len(FIGURES)))
        updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in FIGURES)
        sql = (
            f"INSERT INTO {table} (organization_id, campaign_id, day, position, {columns}) "  # noqa: S608 - names from the model
            f"VALUES ({places}) ON CONFLICT (campaign_id, day, position) DO UPDATE SET {updates}"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [[*key, *(row[n] for n in FIGURES)] for key, row in rows])
        self.rows.clear()


def lead_fact_add(deltas: Deltas, fact: CampaignLeadFact, sign: int = 1) -> None:
    key = (fact.organization_id, fact.campaign_id)
    deltas.add(*key, fact.enrolled_day, LEAD_POSITION, {"enrolled": 1}, sign)
    if fact.replied_day is not None:
        position = LEAD_POSITION if fact.reply_position is None else fact.reply_position
        deltas.add(*key, fact.replied_day, position, {"replied": 1}, sign)
    if fact.opted_out_day is not None:
        deltas.add(*key, fact.opted_out_day, LEAD_POSITION, {"opted_out": 1}, sign)


def step_fact_add(deltas: Deltas, fact: CampaignStepFact, sign: int = 1) -> None:
    figures = step_figures(fact.kind, fact.first, fact.status)
    deltas.add(fact.organization_id, fact.campaign_id, fact.day, fact.position, figures, sign)


def lead_facts_make(enrollments, zones: Zones) -> list[CampaignLeadFact]:
    """Unsaved facts of these enrollments (values with id, campaign_id,
    campaign__organization_id, created_at)."""
    return [
        CampaignLeadFact(
            enrollment_id=row["id"],
            organization_id=row["campaign__organization_id"],
            campaign_id=row["campaign_id"],
            enrolled_day=zones.day(row["campaign__organization_id"], row["created_at"]),
        )
        for row in enrollments
    ]


ENROLLMENT_FIELDS = ("id", "campaign_id", "campaign__organization_id", "created_at")


def lead_facts_ensure(enrollment_ids, zones: Zones, deltas: Deltas) -> dict[int, CampaignLeadFact]:
    """The facts of these enrollments, made (and counted as enrolled) where missing."""
    facts = CampaignLeadFact.objects.in_bulk(list(enrollment_ids))
    missing = set(enrollment_ids) - set(facts)
    if missing:
        rows = Enrollment.objects.filter(pk__in=missing).values(*ENROLLMENT_FIELDS)
        made = lead_facts_make(rows, zones)
        CampaignLeadFact.objects.bulk_create(made)
        for fact in made:
            lead_fact_add(deltas, fact)
            facts[fact.enrollment_id] = fact
    return facts


STEP_FIELDS = (
    "id",
    "enrollment_id",
    "position",
    "execution",
    "at",
    "message_id",
    "message__status",
    "outcome",
    "detail",
    "enrollment__campaign_id",
    "enrollment__campaign__organization_id",
    "later",
)


def counted_steps():
    """The history rows that are facts: sent steps, acceptances, refusals and failures
    (a refusal because the lead opted out is the lead's opt-out, not a failure).
    `later`: an earlier step of the lead was sent (this one is not its first)."""
    earlier = EnrollmentStep.objects.filter(
        enrollment_id=OuterRef("enrollment_id"), execution=True, position__lt=OuterRef("position")
    )
    return EnrollmentStep.objects.filter(
        Q(execution=True) | Q(outcome__in=(StepOutcome.ACCEPTED, *_FAILED))
    ).annotate(later=Exists(earlier))


_FAILED = (StepOutcome.FAILED, StepOutcome.REFUSED)


def step_facts_make(rows, zones: Zones) -> tuple[list[CampaignStepFact], dict[int, object]]:
    """Unsaved step facts of these history rows (values of STEP_FIELDS), and the
    opt-outs they show: {enrollment id: the day its send was refused as opted out}."""
    facts, opted_out = [], {}
    for row in rows:
        org_id = row["enrollment__campaign__organization_id"]
        day = zones.day(org_id, row["at"])
        if row["execution"]:
            kind = StepFactKind.SENT
        elif row["outcome"] == StepOutcome.ACCEPTED:
            kind = StepFactKind.ACCEPTED
        elif row["detail"].startswith(_OPTED_OUT_PREFIX):
            opted_out[row["enrollment_id"]] = min(day, opted_out.get(row["enrollment_id"], day))
            continue
        else:
            kind = StepFactKind.FAILED
        sent = kind == StepFactKind.SENT
        facts.append(
            CampaignStepFact(
                enrollment_step_id=row["id"],
                organization_id=org_id,
                campaign_id=row["enrollment__campaign_id"],
                enrollment_id=row["enrollment_id"],
                position=row["position"],
                day=day,
                kind=kind,
                first=sent and not row["later"],
                message_id=row["message_id"] if sent else None,
                status=(row["message__status"] or "") if sent else "",
            )
        )
    return facts, opted_out


def lead_opt_out_note(fact: CampaignLeadFact, day, deltas: Deltas) -> None:
    """The lead opted out on `day`: counted once, on the earliest day seen."""
    if fact.opted_out_day is not None and fact.opted_out_day <= day:
        return
    if fact.opted_out_day is not None:
        deltas.add(
            fact.organization_id,
            fact.campaign_id,
            fact.opted_out_day,
            LEAD_POSITION,
            {"opted_out": 1},
            -1,
        )
    deltas.add(fact.organization_id, fact.campaign_id, day, LEAD_POSITION, {"opted_out": 1})
    fact.opted_out_day = day
    CampaignLeadFact.objects.filter(pk=fact.pk).update(opted_out_day=day)


def reply_fill(fact: CampaignLeadFact, replied_at: datetime, sent: list, zones: Zones) -> None:
    """The reply's day, the last step sent before it, and the time since the lead's
    first step (None when the lead wrote before any step was sent). `sent`: the lead's
    (position, at) of its steps sent."""
    sent = [(position, at) for position, at in sent if at <= replied_at]
    fact.replied_day = zones.day(fact.organization_id, replied_at)
    fact.reply_position = max(position for position, _ in sent) if sent else None
    first = min((at for _, at in sent), default=None)
    fact.reply_delay_s = (replied_at - first).total_seconds() if first else None
