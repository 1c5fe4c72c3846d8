"""Rebuilding the campaign rollups from the campaigns' history: a full recount, by the
same rules as the incremental pass (reports.campaign_facts), under the same lock.

Facts are made again from the source rows (enrollments, their step history and its
messages' statuses as they stand, replied enrollments, opt-outs from the consent
history), then the day rollups are summed from the facts. The watermarks stay where
they are: what the pass reads next is already a fact and is skipped, and the outbox
events still unread change nothing the rebuild already counted (a status only rises,
a reply counts once, an opt-out keeps its earliest day).
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import Q

from campaigns.models import Enrollment, EnrollmentState, EnrollmentStep
from conversations.consent_models import ConsentChange, ConsentState
from reports.campaign_facts import (
    ENROLLMENT_FIELDS,
    STEP_FIELDS,
    Deltas,
    Zones,
    counted_steps,
    lead_fact_add,
    lead_facts_make,
    reply_fill,
    step_fact_add,
    step_facts_make,
)
from reports.campaign_models import (
    CampaignDayRollup,
    CampaignLeadFact,
    CampaignReportCursor,
    CampaignStepFact,
)
from reports.campaign_rollups import opted_out_leads
from reports.ranges import DateRange
from tenants.models import Organization

CHUNK = 2000


def campaign_rollups_rebuild(
    *, organization: Organization | None = None, span: DateRange | None = None
) -> dict:
    """Recount one organization's campaigns (or all). With `span`, only the rollup rows
    of its days are replaced (the facts are made again whole)."""
    scope = Q(campaign__organization=organization) if organization else Q()
    with transaction.atomic():
        for name in ("enrollments", "steps"):
            CampaignReportCursor.objects.get_or_create(name=name)
        # Waits for a running pass: the two never interleave.
        list(CampaignReportCursor.objects.select_for_update().order_by("name"))
        CampaignStepFact.objects.filter(scope).delete()
        CampaignLeadFact.objects.filter(scope).delete()
        zones, deltas = Zones(), Deltas()
        opted_out, steps = _step_facts(organization, zones, deltas)
        _consent_opt_outs(organization, zones, opted_out)
        leads = _lead_facts(organization, zones, deltas, opted_out)
        rollups = CampaignDayRollup.objects.filter(scope)
        if span is not None:
            rollups = rollups.filter(day__range=(span.start, span.end))
            deltas.rows = {k: v for k, v in deltas.rows.items() if span.start <= k[2] <= span.end}
        rollups.delete()
        deltas.flush()
    return {"leads": leads, "steps": steps}


def _step_facts(organization, zones: Zones, deltas: Deltas) -> tuple[dict, int]:
    rows = counted_steps().order_by("pk")
    if organization is not None:
        rows = rows.filter(enrollment__campaign__organization=organization)
    opted_out, count, chunk = {}, 0, []
    for row in rows.values(*STEP_FIELDS).iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            count += _step_chunk(chunk, zones, deltas, opted_out)
            chunk = []
    count += _step_chunk(chunk, zones, deltas, opted_out)
    return opted_out, count


def _step_chunk(rows: list, zones: Zones, deltas: Deltas, opted_out: dict) -> int:
    facts, refused = step_facts_make(rows, zones)
    CampaignStepFact.objects.bulk_create(facts)
    for fact in facts:
        step_fact_add(deltas, fact)
    for enrollment_id, day in refused.items():
        opted_out[enrollment_id] = min(day, opted_out.get(enrollment_id, day))
    return len(facts)


def _consent_opt_outs(organization, zones: Zones, opted_out: dict) -> None:
    changes = ConsentChange.objects.filter(state=ConsentState.OPTED_OUT)
    if organization is not None:
        changes = changes.filter(organization=organization)
    for org_id, contact_id, kind, at in changes.values_list(
        "organization_id", "contact_id", "kind", "changed_at"
    ).iterator(chunk_size=CHUNK):
        day = zones.day(org_id, at)
        for enrollment_id in opted_out_leads(org_id, contact_id, kind, at):
            opted_out[enrollment_id] = min(day, opted_out.get(enrollment_id, day))


def _lead_facts(organization, zones: Zones, deltas: Deltas, opted_out: dict) -> int:
    rows = Enrollment.objects.order_by("pk")
    if organization is not None:
        rows = rows.filter(campaign__organization=organization)
    count, chunk = 0, []
    for row in rows.values(*ENROLLMENT_FIELDS, "state", "replied_at").iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            count += _lead_chunk(chunk, zones, deltas, opted_out)
            chunk = []
    return count + _lead_chunk(chunk, zones, deltas, opted_out)


def _lead_chunk(rows: list, zones: Zones, deltas: Deltas, opted_out: dict) -> int:
    replied = {
        row["id"]: row["replied_at"]
        for row in rows
        if row["state"] == EnrollmentState.REPLIED and row["replied_at"]
    }
    sent = defaultdict(list)
    for enrollment_id, position, at in EnrollmentStep.objects.filter(
        enrollment_id__in=list(replied), execution=True
    ).values_list("enrollment_id", "position", "at"):
        sent[enrollment_id].append((position, at))
    facts = lead_facts_make(rows, zones)
    for fact in facts:
        if fact.enrollment_id in replied:
            reply_fill(fact, replied[fact.enrollment_id], sent[fact.enrollment_id], zones)
        fact.opted_out_day = opted_out.get(fact.enrollment_id)
        lead_fact_add(deltas, fact)
    CampaignLeadFact.objects.bulk_create(facts)
    return len(facts)
