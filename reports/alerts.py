"""The operators' alerts: incidents opened and resolved from the rules' readings
(reports.alert_rules), and one email to the operators (settings.ADMINS) when an
incident opens and one when it clears.

Every minute `alerts_evaluate`:
1. samples the Celery queues' lengths;
2. for each reading, opens an incident when its condition holds and none is open
   (the partial unique constraint keeps one open incident per kind and key, even with
   two evaluations at once), refreshes `last_seen_at` and `details` of an open one,
   and resolves the open one when the condition has cleared;
3. sends the emails still owed: a new incident's, then a resolved one's. Each email
   is claimed by stamping its `*_notified_at` first (one sender wins), and unstamped if
   the mail server refused it, so the next minute tries again. An incident resolved
   before its opening email could go is not announced at all (the daily operators'
   email lists it).
"""

import logging
import smtplib
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from reports import alert_rules
from reports.alert_models import AlertIncident, AlertKind
from reports.alert_rules import Reading
from tenants.alerts import admin_url, alert_send

logger = logging.getLogger(__name__)


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    alert_rules.queue_samples_record(now=now)
    readings = [
        *alert_rules.webhook_backlog_readings(now=now),
        *alert_rules.queue_growth_readings(now=now),
        *alert_rules.channel_quiet_readings(now=now),
    ]
    opened = resolved = 0
    for reading in readings:
        change = incident_apply(reading=reading, now=now)
        opened += change == "opened"
        resolved += change == "resolved"
    resolved += _resolve_unwatched(readings, now=now)
    sent = incidents_notify(now=now)
    return {"readings": len(readings), "opened": opened, "resolved": resolved, "emails": sent}


def incident_apply(*, reading: Reading, now: datetime) -> str:
    """Open, refresh or resolve the incident of the reading's kind and key; returns
    "opened", "resolved", "ongoing" or ""."""
    open_incidents = AlertIncident.objects.filter(
        kind=reading.kind, key=reading.key, resolved_at__isnull=True
    )
    if not reading.firing:
        done = open_incidents.update(resolved_at=now, last_seen_at=now)
        return "resolved" if done else ""
    if open_incidents.update(last_seen_at=now, details=reading.details):
        return "ongoing"
    try:
        with transaction.atomic():
            AlertIncident.objects.create(
                kind=reading.kind,
                key=reading.key,
                organization_id=reading.organization_id,
                channel_id=reading.channel_id,
                opened_at=now,
                last_seen_at=now,
                summary=reading.summary[:300],
                details=reading.details,
            )
    except IntegrityError:
        return "ongoing"  # another evaluation opened it a moment ago
    return "opened"


def _resolve_unwatched(readings: list[Reading], *, now: datetime) -> int:
    """A quiet-channel incident of a channel no longer watched (switched off, or no
    longer usually busy) ends: nobody expects its webhooks any more."""
    watched = [r.key for r in readings if r.kind == AlertKind.CHANNEL_QUIET]
    return (
        AlertIncident.objects.filter(kind=AlertKind.CHANNEL_QUIET, resolved_at__isnull=True)
        .exclude(key__in=watched)
        .update(resolved_at=now, last_seen_at=now)
    )


def incidents_notify(*, now: datetime) -> int:
    sent = 0
    for incident in AlertIncident.objects.filter(
        opened_notified_at__isnull=True, resolved_at__isnull=True
    ).order_by("pk"):
        sent += _notify(incident, "opened_notified_at", now, *_opened_email(incident))
    # One resolved before anyone was told it began is not announced: never picked below.
    for incident in AlertIncident.objects.filter(
        opened_notified_at__isnull=False, resolved_at__isnull=False, resolved_notified_at=None
    ).order_by("pk"):
        sent += _notify(incident, "resolved_notified_at", now, *_resolved_email(incident))
    return sent


def _notify(incident: AlertIncident, stamp: str, now: datetime, subject: str, body: str) -> int:
    claimed = AlertIncident.objects.filter(pk=incident.pk, **{f"{stamp}__isnull": True}).update(
        **{stamp: now}
    )
    if not claimed:
        return 0  # another evaluation is sending it
    try:
        alert_send(organization=None, subject=subject, body=body)
    except (smtplib.SMTPException, OSError):
        # The mail server refused or did not answer: owed again at the next minute.
        logger.exception("Alert email for incident %s not sent; retrying later", incident.pk)
        AlertIncident.objects.filter(pk=incident.pk).update(**{stamp: None})
        return 0
    return 1


def _link(incident: AlertIncident) -> str:
    return admin_url("admin:reports_alertincident_change", incident.pk)


def _opened_email(incident: AlertIncident) -> tuple[str, str]:
    body = (
        f"{incident.get_kind_display()}: {incident.summary}.\n"
        f"Since {incident.opened_at:%Y-%m-%d %H:%M} UTC.\n\n"
        f"{_explain(incident)}\n\n"
        f"What was measured: {_measured(incident.details)}\n\n"
        f"The incident: {_link(incident)}\n\n"
        "You will not be emailed again while it lasts; you will be told when it clears.\n"
    )
    return f"Alert: {incident.summary}", body


def _resolved_email(incident: AlertIncident) -> tuple[str, str]:
    lasted = incident.resolved_at - incident.opened_at
    minutes = max(round(lasted.total_seconds() / 60), 1)
    body = (
        f"Cleared: {incident.summary}.\n"
        f"It began at {incident.opened_at:%Y-%m-%d %H:%M} UTC and cleared at "
        f"{incident.resolved_at:%Y-%m-%d %H:%M} UTC ({minutes} min).\n\n"
        f"The incident: {_link(incident)}\n"
    )
    return f"Resolved: {incident.summary}", body


def _explain(incident: AlertIncident) -> str:
    if incident.kind == AlertKind.WEBHOOK_BACKLOG:
        return (
            f"{incident.key} webhooks are stored but not applied: look at the `webhooks` "
            "workers (running? stuck?) and the failed-webhook queue."
        )
    if incident.kind == AlertKind.QUEUE_GROWING:
        return (
            f"The Celery queue `{incident.key}` keeps growing: its workers are down or too "
            "few for the work."
        )
    return (
        "A channel that usually has traffic has been silent longer than usual: check that "
        "the provider still sends its webhooks to us (its webhook URL, credentials, the "
        "provider's status page)."
    )


def _measured(details: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in details.items())
