"""Sending the weekly digest: the hourly "Send weekly digests" finds each organization
whose chosen local weekday and hour (Monday 08:00 by default) have come since its last
week ended, and emails last week's digest to each of its recipients, once.

Once, through a crash or two runs at the same time: the week's `DigestSend` is unique
per organization and week, and each address is claimed by inserting its
`DigestDelivery` (unique per send and address) in a transaction of its own before the
email goes. A claim that exists is never sent again, except one the mail server
refused (FAILED), reclaimed by a conditional update and retried on the next runs up
to MAX_ATTEMPTS. A worker that dies between handing the email over and recording it
leaves the claim SENDING: it may have gone, so it is not sent again (a missed digest
is better than a doubled one).

A week missed entirely (nothing ran between its due hour and the next week's) is not
sent late: the next due digest reports the week just over.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from reports.digest import digest_email, digest_figures
from reports.digest_models import (
    DeliveryStatus,
    DigestDelivery,
    DigestRecipient,
    DigestSchedule,
    DigestSend,
)
from reports.ranges import day_start, organization_tz
from tenants.models import Membership, Organization, Role

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# A claim older than this is a worker that died, not one still sending.
SENDING_LEASE = timedelta(hours=1)


@dataclass
class DigestRun:
    sent: int = 0
    failed: int = 0
    organizations: list[str] = field(default_factory=list)


def due_week(*, organization: Organization, schedule: DigestSchedule, now: datetime) -> date | None:
    """The Monday of the week whose digest is due now, or None."""
    if not schedule.enabled:
        return None
    tz = organization_tz(organization)
    local = now.astimezone(tz)
    this_monday = local.date() - timedelta(days=local.weekday())
    due_at = datetime.combine(
        this_monday + timedelta(days=schedule.weekday), time(schedule.hour), tzinfo=tz
    )
    if local < due_at:
        return None
    week_start = this_monday - timedelta(days=7)
    # An organization created after that week has nothing to report for it.
    if organization.created_at >= day_start(this_monday, tz):
        return None
    return week_start


def digests_send_due(*, now: datetime | None = None) -> DigestRun:
    now = now or timezone.now()
    run = DigestRun()
    schedules = {s.organization_id: s for s in DigestSchedule.objects.all()}
    for organization in Organization.objects.filter(is_active=True).order_by("pk"):
        schedule = schedules.get(organization.pk) or DigestSchedule(organization=organization)
        week_start = due_week(organization=organization, schedule=schedule, now=now)
        if week_start is None:
            continue
        if DigestSend.objects.filter(
            organization=organization, week_start=week_start, completed_at__isnull=False
        ).exists():
            continue
        sent, failed = digest_send(
            organization=organization, schedule=schedule, week_start=week_start, now=now
        )
        run.sent, run.failed = run.sent + sent, run.failed + failed
        if sent or failed:
            run.organizations.append(organization.name)
    return run


def digest_send(
    *, organization: Organization, schedule: DigestSchedule, week_start: date, now: datetime
) -> tuple[int, int]:
    """Emails the week's digest to each recipient not yet claimed; (sent, failed)."""
    send = _send_get_or_create(organization, week_start)
    sent = failed = 0
    for recipient in digest_recipients(organization=organization, schedule=schedule):
        delivery = _claim(send, recipient.email)
        if delivery is None:
            continue
        email = digest_email(organization=organization, figures=send.figures, recipient=recipient)
        try:
            email.send()
        except (smtplib.SMTPException, OSError) as error:
            failed += 1
            status = DeliveryStatus.GAVE_UP if delivery.attempts >= MAX_ATTEMPTS else (
                DeliveryStatus.FAILED)  # fmt: skip
            logger.warning("Weekly digest to %s refused: %s", recipient.email, error)
            DigestDelivery.objects.filter(pk=delivery.pk).update(
                status=status, last_error=str(error)[:1000], updated_at=timezone.now()
            )
        else:
            sent += 1
            DigestDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.SENT, last_error="", updated_at=timezone.now()
            )
    _complete_if_done(send, now)
    return sent, failed


def _send_get_or_create(organization: Organization, week_start: date) -> DigestSend:
    found = DigestSend.objects.filter(organization=organization, week_start=week_start).first()
    if found is not None:
        return found
    figures = digest_figures(organization=organization, week_start=week_start)
    try:
        with transaction.atomic():
            return DigestSend.objects.create(
                organization=organization, week_start=week_start, figures=figures
            )
    except IntegrityError:  # another run created it first: use theirs
        return DigestSend.objects.get(organization=organization, week_start=week_start)


def _claim(send: DigestSend, email: str) -> DigestDelivery | None:
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(
                send=send, email=email, status=DeliveryStatus.SENDING, attempts=1
            )
    except IntegrityError:
        pass
    retried = DigestDelivery.objects.filter(
        send=send, email__iexact=email, status=DeliveryStatus.FAILED
    )
    claimed = retried.update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not claimed:
        return None  # sent, being sent, or given up
    return DigestDelivery.objects.get(send=send, email__iexact=email)


def _complete_if_done(send: DigestSend, now: datetime) -> None:
    unfinished = send.deliveries.filter(
        Q(status=DeliveryStatus.FAILED)
        | Q(status=DeliveryStatus.SENDING, updated_at__gt=now - SENDING_LEASE)
    )
    if not unfinished.exists():
        DigestSend.objects.filter(pk=send.pk, completed_at__isnull=True).update(completed_at=now)


def digest_recipients(
    *, organization: Organization, schedule: DigestSchedule
) -> list[DigestRecipient]:
    """The addresses staff listed, and the admins' (when the schedule says so), each
    with its row (created for an admin the first time), minus those unsubscribed."""
    admins = set()
    if schedule.to_admins:
        admins = {
            email.lower()
            for email in Membership.objects.filter(
                organization=organization, role=Role.ADMIN, user__is_active=True
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        }
    known = {r.email.lower() for r in DigestRecipient.objects.filter(organization=organization)}
    for email in sorted(admins - known):
        try:
            with transaction.atomic():
                DigestRecipient.objects.create(
                    organization=organization, email=email, from_admins=True
                )
        except IntegrityError:  # recorded by a run at the same time
            pass
    rows = DigestRecipient.objects.filter(organization=organization, unsubscribed_at__isnull=True)
    return [row for row in rows if not row.from_admins or row.email.lower() in admins]
