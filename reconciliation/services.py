"""Reconciliation runs: read what a provider has and apply it through the same
idempotent services as webhooks, so missing messages and conversations are created,
statuses and windows corrected, nothing is filed twice, and a run repeated changes
nothing.

A run works page by page. After each page its counters and cursor are saved, so a run
that fails (a rate limit that lasts, an outage) is resumed by running it again. A 429
with a short Retry-After is waited out inside the run; a longer one fails the run,
which the next trigger resumes. Other transient errors are retried with a backoff, a
bounded number of times in a bounded time (RECONCILIATION_FETCH_ATTEMPTS and
_SECONDS), so an unreachable provider fails the run instead of holding a worker.

A running run is leased like a webhook event (reconciliation.leases).
"""

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from conversations.batch import (
    ConversationEvent,
    Inbound,
    MissingContactError,
    Status,
    events_apply,
)
from providers import Provider
from providers.events import AccountEvent, InboundMessage, MessageStatusUpdate
from providers.http import ProviderError
from reconciliation.leases import resume_hint, run_claim, run_lease
from reconciliation.models import ReconciliationRun, RunKind, RunStatus, RunTrigger
from reconciliation.paging import page_fetch
from reconciliation.relations import (
    relations_lookback_hours,
    relations_reconcilable,
    relations_reconcile,
)
from reconciliation.sources import READ_AHEAD, SOURCES, Batch
from templates.services import templates_sync
from tenants import services as tenants
from tenants.clients import whatsapp_client_for
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel

logger = logging.getLogger(__name__)

MAX_ERRORS_KEPT = 20
INTEGRITY_DAYS = 7
NUMBER_STATUS_KIND = "phone_number_status"
_ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def channel_reconcilable_kind(channel: Channel) -> RunKind:
    """What a channel's reconciliation reads: its messages where the provider lists
    them, WhatsApp's templates otherwise (Meta has no message listing)."""
    if Provider(channel.provider) in SOURCES:
        return RunKind.MESSAGES
    return RunKind.TEMPLATES


def run_create(
    *,
    channel: Channel,
    trigger: RunTrigger,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: RunKind | None = None,
    requested_by=None,
) -> ReconciliationRun:
    """A queued run over [since, until] (default: the lookback up to now)."""
    kind = kind or channel_reconcilable_kind(channel)
    until = until or timezone.now()
    hours = settings.RECONCILIATION_LOOKBACK_HOURS
    if kind == RunKind.INTEGRITY:
        hours = INTEGRITY_DAYS * 24
    elif kind == RunKind.RELATIONS:
        hours = relations_lookback_hours()
    since = since or until - timedelta(hours=hours)
    _check_run(channel, kind, since, until)
    return ReconciliationRun.objects.create(
        # Long enough for its task to start; if the task is lost, the sweep queues it again.
        lease_expires_at=timezone.now() + run_lease(),
        organization_id=channel.organization_id,
        channel=channel,
        kind=kind,
        window_start=since,
        window_end=until,
        trigger=trigger,
        requested_by=requested_by,
    )


def run_execute(
    *, run_id: int, on_progress: Callable[[ReconciliationRun], None] | None = None
) -> ReconciliationRun:
    """Run (or resume) a run to its end, or to the failure that stops it. A run another
    worker holds (a live lease) or that is finished is returned as it is."""
    if not run_claim(run_id=run_id):
        return ReconciliationRun.objects.get(pk=run_id)
    run = ReconciliationRun.objects.select_related("channel").get(pk=run_id)
    try:
        if run.kind == RunKind.TEMPLATES:
            _sync_templates(run)
        elif run.kind == RunKind.INTEGRITY:
            _count_days(run, on_progress)
        elif run.kind == RunKind.RELATIONS:
            relations_reconcile(run, save=_save, on_progress=on_progress)
        else:
            _reconcile_messages(run, on_progress)
    except (ProviderError, ApplicationError) as exc:
        logger.warning("Reconciliation run %s failed: %s", run.pk, exc)
        _fail(run, str(exc))
        return run
    except BaseException as exc:
        # A time limit, a shutdown, a bug: the run keeps its place, and says so.
        _fail(run, f"Stopped by {type(exc).__name__}: {exc}".rstrip(": "))
        raise
    _mark(run, status=RunStatus.SUCCEEDED, finished_at=timezone.now(), lease_expires_at=None)
    return run


def _fail(run: ReconciliationRun, error: str) -> None:
    _mark(
        run,
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error=f"{error} {resume_hint(run.pk)}",
    )


def run_cancel(*, run: ReconciliationRun) -> ReconciliationRun:
    if run.status in (*_ACTIVE, RunStatus.FAILED):
        _mark(run, status=RunStatus.CANCELLED, finished_at=timezone.now(), lease_expires_at=None)
    return run


# --- messages ---------------------------------------------------------------------


def _reconcile_messages(run: ReconciliationRun, on_progress) -> None:
    """Page after page; where the source reads nothing from our database, the next page
    is read while this one is applied (the provider's time and ours overlap)."""
    read_ahead = Provider(run.channel.provider) in READ_AHEAD
    with ThreadPoolExecutor(max_workers=1) as reader:
        upcoming = None
        while not run.cursor.get("done"):
            batch = upcoming.result() if upcoming else page_fetch(run, run.cursor)
            upcoming = None
            if read_ahead and not batch.cursor.get("done"):
                upcoming = reader.submit(_fetch_ahead, run, batch.cursor)
            _apply(run, batch)
            if on_progress:
                on_progress(run)


def _fetch_ahead(run: ReconciliationRun, cursor: dict) -> Batch:
    try:
        return page_fetch(run, cursor)
    finally:
        connections.close_all()  # the reader thread's own, should a source ever open one


def _apply(run: ReconciliationRun, batch: Batch) -> None:
    """Apply one page and move the cursor, in one transaction: a crash between the
    two never skips a page (it is read again and applies nothing twice)."""
    inbound = [Inbound(run.channel, e) for e in batch.events if isinstance(e, ConversationEvent)]
    statuses = [
        Status(run.channel, e, from_webhook=False)
        for e in batch.events
        if isinstance(e, MessageStatusUpdate)
    ]
    outcomes = Counter()
    with transaction.atomic():
        try:
            filed, applied = events_apply(inbound=inbound, statuses=statuses)
        except MissingContactError as exc:
            filed, applied = _one_by_one(run, inbound, statuses, exc)
        outcomes.update(filed)
        outcomes.update(applied)
        run.fetched += batch.fetched
        run.created += outcomes["created"]
        # A listed message's reactions and deletion, when the webhooks missed them.
        run.updated += sum(outcomes[name] for name in ("applied", "reacted", "revoked"))
        run.unchanged += outcomes["duplicate"] + outcomes["unchanged"]
        run.errors += outcomes["error"] + sum(1 for e in batch.events if _unusable(e))
        run.cursor, run.progress = batch.cursor, {**run.progress, **batch.progress}
        _save(run)


def _one_by_one(run, inbound, statuses, first_error) -> tuple[list[str], list[str]]:
    """A page with a message we cannot file (no one to file it under): the others
    are filed alone, and the bad one is counted and noted."""
    filed = []
    for item in inbound:
        try:
            with transaction.atomic():
                filed += events_apply(inbound=[item], statuses=[])[0]
        except MissingContactError as exc:
            filed.append("error")
            _note_error(run, f"{item.message.message_id}: {exc}")
    return filed, events_apply(inbound=[], statuses=statuses)[1]


def _unusable(event) -> bool:
    return not isinstance(event, ConversationEvent | MessageStatusUpdate)


def _note_error(run: ReconciliationRun, text: str) -> None:
    errors = run.findings.setdefault("errors", [])
    if len(errors) < MAX_ERRORS_KEPT:
        errors.append(text)


# --- templates and number status (WhatsApp) ------------------------------------------


def _sync_templates(run: ReconciliationRun) -> None:
    """WhatsApp has no message listing: its reconciliation is the template sync and
    the number's status as Meta reports it now."""
    number = _number_status(run.channel)
    report = templates_sync(channel=run.channel)
    run.created, run.updated, run.unchanged = report.created, report.updated, report.unchanged
    run.fetched = report.created + report.updated + report.unchanged
    run.findings = {"removed": report.removed, "summary": report.summary(), "number": number}
    _save(run)
    if report.rate_limited:
        raise ApplicationError(
            ErrorCode.RATE_LIMITED,
            "Meta's template rate limit stopped the sync; the next run goes on.",
            {"retry_after": report.retry_after},
        )


def _number_status(channel: Channel) -> dict:
    """Record the number's state when it differs from the last one recorded (a change
    webhooks may have missed); a flagged or restricted number, or a red rating,
    alerts like the webhook would."""
    if not channel.phone_number_id:
        return {}
    with whatsapp_client_for(channel) as client:
        body = client.phone_number_status()
    details = {key: body[key] for key in sorted(body) if key != "id"}
    digest = hashlib.sha256(json.dumps(details, sort_keys=True, default=str).encode())
    tenants.channel_event_record(
        channel=channel,
        event=AccountEvent(
            provider=Provider.WHATSAPP_CLOUD,
            event_id=f"whatsapp:api:number:{channel.phone_number_id}:{digest.hexdigest()[:16]}",
            occurred_at=timezone.now(),
            raw=body,
            kind=NUMBER_STATUS_KIND,
            event=str(details.get("status", "")),
            details=details,
        ),
    )
    return details


# --- integrity: per-day counts, provider against ours -------------------------------


def _count_days(run: ReconciliationRun, on_progress) -> None:
    """Count the provider's messages per day in the window and compare with ours;
    the days that differ are the run's findings. Nothing is applied."""
    theirs = Counter(run.findings.get("provider_days", {}))
    while not run.cursor.get("done"):
        batch = page_fetch(run, run.cursor)
        messages = [e for e in batch.events if isinstance(e, InboundMessage)]
        theirs.update(e.occurred_at.date().isoformat() for e in messages)
        run.fetched += batch.fetched
        run.cursor, run.progress = batch.cursor, {**run.progress, **batch.progress}
        run.findings = {**run.findings, "provider_days": dict(theirs)}
        _save(run)
        if on_progress:
            on_progress(run)
    run.findings = {**run.findings, **_day_differences(run, theirs)}
    _save(run)


def _day_differences(run: ReconciliationRun, theirs: Counter) -> dict:
    from conversations.selectors import message_counts_by_day

    ours = message_counts_by_day(channel=run.channel, start=run.window_start, end=run.window_end)
    days = sorted(set(theirs) | set(ours))
    differing = [
        {"day": day, "provider": theirs.get(day, 0), "ours": ours.get(day, 0)}
        for day in days
        if theirs.get(day, 0) != ours.get(day, 0)
    ]
    return {"our_days": ours, "differing_days": differing}


# --- helpers ------------------------------------------------------------------------

_COUNTERS = [
    "status",
    "fetched",
    "created",
    "updated",
    "unchanged",
    "errors",
    "progress",
    "cursor",
    "findings",
    "error",
    "started_at",
    "finished_at",
    "lease_expires_at",
]


def _save(run: ReconciliationRun) -> None:
    """Save the run's progress, which also renews its lease (the worker is alive)."""
    if run.status == RunStatus.RUNNING:
        run.lease_expires_at = timezone.now() + run_lease()
    run.save(update_fields=_COUNTERS)


def _mark(run: ReconciliationRun, **fields) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(update_fields=_COUNTERS)


def _check_run(channel: Channel, kind: RunKind, since: datetime, until: datetime) -> None:
    if not channel.is_active:
        raise field_error("channel", "This channel is switched off.", code="inactive")
    if since >= until:
        raise field_error("since", "Must be before until.", code="invalid")
    lists_messages = Provider(channel.provider) in SOURCES
    if kind in (RunKind.MESSAGES, RunKind.INTEGRITY) and not lists_messages:
        raise field_error(
            "kind",
            "WhatsApp has no message listing; reconcile its templates instead.",
            code="unsupported",
        )
    if kind == RunKind.TEMPLATES and lists_messages:
        raise field_error("kind", "Only WhatsApp channels have templates.", code="unsupported")
    if kind == RunKind.RELATIONS and not relations_reconcilable(channel):
        raise field_error(
            "kind",
            "Only LinkedIn (Unipile) channels with an account id have relations.",
            code="unsupported",
        )


@dataclass(frozen=True)
class Scheduled:
    runs: list[int]


def runs_schedule_all(*, kind: RunKind | None = None, trigger=RunTrigger.SCHEDULE) -> Scheduled:
    """A run for every active channel (the daily schedule; the weekly integrity check
    with kind=INTEGRITY, for channels whose provider lists messages; the daily LinkedIn
    relations with kind=RELATIONS, for Unipile channels)."""
    channels = Channel.objects.filter(is_active=True).order_by("pk")
    runs = []
    for channel in channels:
        channel_kind = kind or channel_reconcilable_kind(channel)
        if channel_kind == RunKind.INTEGRITY and Provider(channel.provider) not in SOURCES:
            continue
        if channel_kind == RunKind.TEMPLATES and not channel.waba_id:
            continue
        if channel_kind == RunKind.RELATIONS and not relations_reconcilable(channel):
            continue
        runs.append(run_create(channel=channel, trigger=trigger, kind=channel_kind).pk)
    return Scheduled(runs)
