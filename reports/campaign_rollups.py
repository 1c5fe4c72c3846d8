"""Keeping the campaign rollups current: one pass a minute (reports.tasks) over what
changed since last time, page by page, each page a short transaction holding the
watermarks' row lock (the rebuild takes it too, so the two never interleave).

Where each figure comes from, and why:
- enrolled: new Enrollment rows, read by id from a durable watermark. No event says a
  lead was enrolled.
- sent, accepted, failed steps, opt-outs refused at send: new EnrollmentStep rows (the
  history is insert-only), read by id from a watermark. No event says a step was sent
  or an invitation accepted; the rows say both, set-based.
- delivered, read, failed messages: the outbox's message.status_changed, consumed with
  events_consume("reports.campaigns") in the same transaction as the rollups it moves:
  exactly once. Only the campaign's own messages count (looked up by message id).
- replied: campaign.enrollment.replied (the event campaigns record as a reply stops a
  lead), with the step it answered and the time since the lead's first step.
- opted out: contact.opted_out, for the leads live in a campaign on a channel of that
  kind when it happened; and a send refused because the lead had opted out.

Watermarks and commit order: an id is taken at insert and seen at commit, so a row
with a smaller id can appear after a larger one was read. The pass reads every row
above its watermark that is not a fact yet, and moves the watermark only past rows
older than RESCAN (no transaction of the campaigns app stays open that long). A row
read twice is one fact: facts are keyed by the row they stand for.

A sent step's delivered/read/failed count on the day it was sent, from the highest
status seen (statuses only rise in rank, failed below delivered): the fact made from
the row takes the message's status as it stands, and a later event can only raise it,
so an event read before or after the fact was made counts once either way.

A changed organization time zone does not move what was counted: rebuild
(campaign_backfill) recounts in the new zone. An erased enrollment stays counted until
a rebuild.
"""

import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.models import Enrollment, EnrollmentStep
from campaigns.replies import REPLY_RESCAN
from outbox.readers import READ_LIMIT, events_consume
from providers import Provider, channel_kind
from reports.campaign_facts import (
    ENROLLMENT_FIELDS,
    STEP_FIELDS,
    Deltas,
    Zones,
    counted_steps,
    lead_fact_add,
    lead_facts_ensure,
    lead_facts_make,
    lead_opt_out_note,
    reply_fill,
    status_rank,
    step_fact_add,
    step_facts_make,
    step_figures,
)
from reports.campaign_models import CampaignLeadFact, CampaignReportCursor, CampaignStepFact

READER = "reports.campaigns"
# Campaigns' transactions end within REPLY_RESCAN of their start (its reply detection
# relies on it too); a history row's `at` is its batch's start, a little earlier.
RESCAN = REPLY_RESCAN + timedelta(minutes=1)
SCAN_LIMIT = 2000
# A pass stops reading new pages after this long (the schedule runs it every minute).
BUDGET_SECONDS = 40.0


def campaign_rollups_update(
    *, now: datetime | None = None, budget_seconds: float = BUDGET_SECONDS
) -> dict | None:
    """One pass: new enrollments and step history, then the outbox, page by page, each
    page its own short transaction (a long one would hold back every outbox reader).
    None when another pass (or a rebuild) holds the lock."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget_seconds
    counted = {"enrollments": 0, "steps": 0, "events": 0}
    while True:
        with transaction.atomic():
            cursors = cursors_lock()
            if cursors is None:
                return None if not any(counted.values()) else counted
            zones, deltas = Zones(), Deltas()
            enrolled = _enrollments_scan(cursors["enrollments"], now, zones, deltas)
            steps = _steps_scan(cursors["steps"], now, zones, deltas)
            deltas.flush()
        counted["enrollments"] += enrolled
        counted["steps"] += steps
        if max(enrolled, steps) < SCAN_LIMIT or time.monotonic() > deadline:
            break
    while time.monotonic() <= deadline:
        handled = events_consume(name=READER, handle=_events_handle) or 0
        counted["events"] += handled
        if handled < READ_LIMIT:
            break
    return counted


def cursors_lock() -> dict[str, CampaignReportCursor] | None:
    """Both watermarks, locked for this transaction; None when someone else has them."""
    for name in ("enrollments", "steps"):
        CampaignReportCursor.objects.get_or_create(name=name)
    rows = list(CampaignReportCursor.objects.select_for_update(skip_locked=True).order_by("name"))
    if len(rows) < 2:
        return None
    return {row.name: row for row in rows}


def _advance(cursor: CampaignReportCursor, model, time_field: str, now, last_read, full):
    settled = (
        model.objects.filter(pk__gt=cursor.last_id, **{f"{time_field}__lt": now - RESCAN})
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    target = settled or cursor.last_id
    if full and last_read is not None:
        target = min(target, last_read)  # rows past the page are not read yet
    if target > cursor.last_id:
        cursor.last_id = target
        cursor.save(update_fields=["last_id", "updated_at"])


def _enrollments_scan(cursor, now, zones: Zones, deltas: Deltas) -> int:
    known = CampaignLeadFact.objects.filter(pk__gte=cursor.last_id).values("pk")
    rows = list(
        Enrollment.objects.filter(pk__gt=cursor.last_id)
        .exclude(pk__in=known)
        .order_by("pk")
        .values(*ENROLLMENT_FIELDS)[:SCAN_LIMIT]
    )
    facts = lead_facts_make(rows, zones)
    CampaignLeadFact.objects.bulk_create(facts)
    for fact in facts:
        lead_fact_add(deltas, fact)
    last = rows[-1]["id"] if rows else None
    _advance(cursor, Enrollment, "created_at", now, last, len(rows) == SCAN_LIMIT)
    return len(rows)


def _steps_scan(cursor, now, zones: Zones, deltas: Deltas) -> int:
    known = CampaignStepFact.objects.filter(pk__gte=cursor.last_id).values("pk")
    rows = list(
        counted_steps()
        .filter(pk__gt=cursor.last_id)
        .exclude(pk__in=known)
        .order_by("pk")
        .values(*STEP_FIELDS)[:SCAN_LIMIT]
    )
    # A refusal as opted out is the lead's fact, not a step's: it is read again until
    # the watermark passes it, and noting it again changes nothing (earliest day).
    facts, opted_out = step_facts_make(rows, zones)
    CampaignStepFact.objects.bulk_create(facts)
    for fact in facts:
        step_fact_add(deltas, fact)
    leads = lead_facts_ensure(opted_out, zones, deltas)
    for enrollment_id, day in opted_out.items():
        lead_opt_out_note(leads[enrollment_id], day, deltas)
    last = rows[-1]["id"] if rows else None
    _advance(cursor, EnrollmentStep, "at", now, last, len(rows) == SCAN_LIMIT)
    return len(rows)


def _events_handle(events) -> None:
    # Inside events_consume's transaction: wait for a rebuild (or a scan) to finish,
    # so the events always move the facts they were counted against.
    list(CampaignReportCursor.objects.select_for_update().order_by("name"))
    zones, deltas = Zones(), Deltas()
    statuses: dict[int, str] = {}
    for event in events:
        if event.type == "message.status_changed":
            message_id, status = event.body["message_id"], event.body["status"]
            if status_rank(status) > status_rank(statuses.get(message_id, "")):
                statuses[message_id] = status
        elif event.type == "campaign.enrollment.replied":
            _replied(event.body, zones, deltas)
        elif event.type == "contact.opted_out":
            _opted_out(event.organization_id, event.body, zones, deltas)
    _statuses(statuses, deltas)
    deltas.flush()


def _statuses(statuses: dict[int, str], deltas: Deltas) -> None:
    """A campaign message's status rose: its step's figures move (on its send day)."""
    if not statuses:
        return
    moved = []
    for fact in CampaignStepFact.objects.filter(message_id__in=list(statuses)):
        status = statuses[fact.message_id]
        if status_rank(status) <= status_rank(fact.status):
            continue  # seen already (the fact was made after this change)
        before = step_figures(fact.kind, fact.first, fact.status)
        after = step_figures(fact.kind, fact.first, status)
        change = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        deltas.add(fact.organization_id, fact.campaign_id, fact.day, fact.position, change)
        fact.status = status
        moved.append(fact)
    CampaignStepFact.objects.bulk_update(moved, ["status"], batch_size=500)


def _replied(body: dict, zones: Zones, deltas: Deltas) -> None:
    facts = lead_facts_ensure([body["enrollment_id"]], zones, deltas)
    fact = facts.get(body["enrollment_id"])
    if fact is None or fact.replied_day is not None or not body.get("replied_at"):
        return  # the enrollment is gone (erased), or its reply is counted
    reply_note(fact, parse_datetime(body["replied_at"]), zones)
    fact.save(update_fields=["replied_day", "reply_position", "reply_delay_s"])
    position = -1 if fact.reply_position is None else fact.reply_position
    deltas.add(fact.organization_id, fact.campaign_id, fact.replied_day, position, {"replied": 1})


def reply_note(fact: CampaignLeadFact, replied_at: datetime, zones: Zones) -> None:
    sent = EnrollmentStep.objects.filter(
        enrollment_id=fact.enrollment_id, execution=True, at__lte=replied_at
    ).values_list("position", "at")
    reply_fill(fact, replied_at, list(sent), zones)


def opted_out_leads(organization_id: int, contact_id: int, kind: str, at: datetime):
    """The enrollments that were live in a campaign on a channel of this kind when the
    lead opted out (started, not finished before)."""
    providers = [p.value for p in Provider if channel_kind(p) == kind]
    return (
        Enrollment.objects.filter(
            campaign__organization_id=organization_id,
            campaign__channel__provider__in=providers,
            contact_id=contact_id,
            started_at__lte=at,
        )
        .exclude(finished_at__lt=at)
        .values_list("pk", flat=True)
    )


def _opted_out(organization_id: int, body: dict, zones: Zones, deltas: Deltas) -> None:
    at = parse_datetime(body["changed_at"])
    ids = list(opted_out_leads(organization_id, body["contact_id"], body["kind"], at))
    for fact in lead_facts_ensure(ids, zones, deltas).values():
        lead_opt_out_note(fact, zones.day(organization_id, at), deltas)
