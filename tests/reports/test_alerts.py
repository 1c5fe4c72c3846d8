"""The operators' alerts: each fires once per incident and sends one recovery email;
incidents are rows, visible in the admin to whom they concern."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from providers import Provider
from reports import monitoring
from reports.alert_models import AlertIncident, AlertKind, ChannelQuietPeriod
from reports.alerts import alerts_evaluate
from reports.quiet import quiet_periods_learn
from tenants.models import Role
from tests.factories import ChannelFactory, MembershipFactory, UserFactory
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
OPERATORS = [("Operators", "ops@switchboard.test")]
OPERATORS_TO = ["ops@switchboard.test"]
_keys = count()


@pytest.fixture(autouse=True)
def operators(settings):
    settings.ADMINS = OPERATORS
    settings.CELERY_BROKER_URL = "filesystem://"  # no queue lengths unless a test gives some


@pytest.fixture
def queues(monkeypatch):
    """The broker's queue lengths, as the test sets them (None: the broker is down)."""
    lengths = {"value": None}
    monkeypatch.setattr(monitoring, "celery_queue_lengths", lambda queues: lengths["value"])
    return lengths


def event(channel, status=EventStatus.PROCESSED, *, at: datetime) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider=channel.provider,
        channel=channel,
        organization=channel.organization,
        body=b"{}",
        received_at=at,
        dedupe_key=f"alerts-{next(_keys)}",
        status=status,
    )


def evaluate_at(moment: datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return alerts_evaluate()


def emails() -> list[tuple[str, list[str]]]:
    return [(message.subject, message.to) for message in mail.outbox]


# --- webhook backlog ------------------------------------------------------------------


def test_webhook_backlog_fires_once_and_recovers_once(channel):
    waiting = event(channel, EventStatus.RECEIVED, at=T0 - timedelta(minutes=4))

    evaluate_at(T0)  # 4 minutes: under the threshold
    assert AlertIncident.objects.count() == 0

    evaluate_at(T0 + timedelta(minutes=2))  # 6 minutes
    evaluate_at(T0 + timedelta(minutes=3))  # still waiting: the same incident, no email
    (incident,) = AlertIncident.objects.all()
    assert (incident.kind, incident.key) == (AlertKind.WEBHOOK_BACKLOG, channel.provider)
    assert incident.opened_at == T0 + timedelta(minutes=2)
    assert incident.last_seen_at == T0 + timedelta(minutes=3)
    assert incident.details["age_seconds"] == 7 * 60
    assert emails() == [
        (f"[Switchboard] Alert: {channel.provider} webhooks waiting 6 min", OPERATORS_TO)
    ]

    body = mail.outbox[0].body
    assert "Since 2026-11-20 12:32 UTC." in body
    assert f"/admin/reports/alertincident/{incident.pk}/change/" in body
    assert "age_seconds=360, threshold_seconds=300" in body

    WebhookEvent.objects.filter(pk=waiting.pk).update(status=EventStatus.PROCESSED)
    evaluate_at(T0 + timedelta(minutes=4))
    evaluate_at(T0 + timedelta(minutes=5))

    incident.refresh_from_db()
    assert incident.resolved_at == T0 + timedelta(minutes=4)
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject.startswith("[Switchboard] Resolved:")
    assert "(2 min)" in mail.outbox[1].body


def test_a_new_backlog_after_recovery_is_a_new_incident(channel):
    first = event(channel, EventStatus.RECEIVED, at=T0 - timedelta(minutes=6))
    evaluate_at(T0)
    WebhookEvent.objects.filter(pk=first.pk).update(status=EventStatus.PROCESSED)
    evaluate_at(T0 + timedelta(minutes=1))
    event(channel, EventStatus.PROCESSING, at=T0 - timedelta(minutes=1))
    evaluate_at(T0 + timedelta(minutes=6))

    assert AlertIncident.objects.filter(resolved_at__isnull=True).count() == 1
    assert AlertIncident.objects.count() == 2
    assert len(mail.outbox) == 3  # opened, resolved, opened


def test_an_email_the_mail_server_refused_is_sent_at_the_next_evaluation(channel, monkeypatch):
    from reports import alerts

    event(channel, EventStatus.RECEIVED, at=T0 - timedelta(minutes=10))
    real = alerts.alert_send

    def refused(**kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(alerts, "alert_send", refused)
    evaluate_at(T0)
    assert AlertIncident.objects.get().opened_notified_at is None

    monkeypatch.setattr(alerts, "alert_send", real)
    evaluate_at(T0 + timedelta(minutes=1))
    evaluate_at(T0 + timedelta(minutes=2))
    assert len(mail.outbox) == 1
    assert AlertIncident.objects.get().opened_notified_at == T0 + timedelta(minutes=1)


# --- Celery queue backlog ------------------------------------------------------------


def test_a_queue_growing_for_ten_minutes_fires_once_and_recovers(queues):
    def minute(n: int, webhooks: int) -> None:
        queues["value"] = {"webhooks": webhooks, "outbound": 3}
        evaluate_at(T0 + timedelta(minutes=n))

    for n in range(10):  # 0..9: growing, but not yet for 10 minutes
        minute(n, 10 + n * 5)
    assert AlertIncident.objects.count() == 0

    minute(10, 70)  # ten minutes of growth (a plateau in between is still growth)
    minute(11, 70)
    minute(12, 90)
    (incident,) = AlertIncident.objects.all()
    assert (incident.kind, incident.key) == (AlertKind.QUEUE_GROWING, "webhooks")
    assert incident.opened_at == T0 + timedelta(minutes=10)
    assert emails() == [
        ("[Switchboard] Alert: Celery queue webhooks grew from 10 to 70", OPERATORS_TO)
    ]

    minute(13, 80)  # went down: neither growing nor cleared (90 > 30 ten minutes ago)
    assert AlertIncident.objects.get().resolved_at is None
    for n in range(14, 24):
        minute(n, 20)
    incident.refresh_from_db()
    # At minute 14 the queue (20) is shorter than ten minutes before (30 at minute 4):
    # cleared then, and only one recovery email however long it stays so.
    assert incident.resolved_at == T0 + timedelta(minutes=14)
    assert len(mail.outbox) == 2


def test_the_broker_down_keeps_a_queue_incident_open(queues):
    for n in range(11):
        queues["value"] = {"webhooks": n}
        evaluate_at(T0 + timedelta(minutes=n))
    assert AlertIncident.objects.get().resolved_at is None

    queues["value"] = None  # Redis went away: no samples, no judgement
    for n in range(11, 30):
        evaluate_at(T0 + timedelta(minutes=n))

    assert AlertIncident.objects.get().resolved_at is None
    assert len(mail.outbox) == 1


# --- quiet channels ------------------------------------------------------------------


def history(channel, times: list[datetime]) -> None:
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            provider=channel.provider,
            channel=channel,
            organization=channel.organization,
            body=b"{}",
            received_at=at,
            dedupe_key=f"history-{next(_keys)}",
            status=EventStatus.PROCESSED,
        )
        for at in times
    )


def test_the_usual_quiet_period_is_the_99th_percentile_gap(channel, settings):
    settings.ALERT_QUIET_MIN_SECONDS = 60
    settings.ALERT_QUIET_MIN_WEBHOOKS = 150
    # 201 webhooks: 197 gaps of a minute and 3 of two hours. Nearest rank: the 198th
    # of the 200 sorted gaps, the first two-hour gap.
    times = [T0 - timedelta(days=1)]
    for gap in [60] * 197 + [7200] * 3:
        times.append(times[-1] + timedelta(seconds=gap))
    history(channel, times)
    quiet = ChannelFactory(organization=channel.organization)
    history(quiet, [T0 - timedelta(hours=n) for n in range(1, 11)])  # ten: too few
    history(channel, [T0 - timedelta(days=15)])  # before the 14 days: not learned

    assert quiet_periods_learn(now=T0) == {"channels": 2, "watched": 1}

    period = ChannelQuietPeriod.objects.get(channel=channel)
    assert (period.quiet_seconds, period.webhooks, period.usual) == (7200, 201, True)
    assert ChannelQuietPeriod.objects.get(channel=quiet).usual is False


def test_a_channel_silent_every_night_is_not_an_outage_every_night(channel, settings):
    settings.ALERT_QUIET_MIN_WEBHOOKS = 100
    # Fourteen days, a webhook every 5 minutes from 08:00 to 17:00 UTC: 13 night gaps
    # of 15 hours are under 1% of the 1,511 gaps (the 99th percentile is 5 minutes),
    # but each day's longest gap, the night before it, is 15 hours.
    first_day = datetime(2026, 11, 6, 8, 0, tzinfo=UTC)
    times = [
        first_day + timedelta(days=day, minutes=5 * n) for day in range(14) for n in range(109)
    ]
    history(channel, times)
    learned_at = datetime(2026, 11, 19, 20, 0, tzinfo=UTC)

    quiet_periods_learn(now=learned_at)

    assert ChannelQuietPeriod.objects.get(channel=channel).quiet_seconds == 15 * 3600
    evaluate_at(learned_at)  # 3 hours after the day's last webhook: a usual night
    assert AlertIncident.objects.count() == 0
    evaluate_at(learned_at + timedelta(hours=13))  # 16 hours: longer than any night
    assert AlertIncident.objects.get().kind == AlertKind.CHANNEL_QUIET


def test_the_quiet_period_is_at_least_the_minimum(channel, settings):
    settings.ALERT_QUIET_MIN_SECONDS = 1800
    settings.ALERT_QUIET_MIN_WEBHOOKS = 100
    history(channel, [T0 - timedelta(minutes=2 * n) for n in range(1, 151)])

    quiet_periods_learn(now=T0)

    assert ChannelQuietPeriod.objects.get(channel=channel).quiet_seconds == 1800


def test_a_busy_channel_gone_quiet_fires_once_and_recovers(channel, settings):
    settings.ALERT_QUIET_MIN_SECONDS = 1800  # the usual gap is 2 minutes: 30 min it is
    settings.ALERT_QUIET_MIN_WEBHOOKS = 100
    history(channel, [T0 - timedelta(minutes=20 + 2 * n) for n in range(150)])
    sleepy = ChannelFactory(organization=channel.organization, provider=Provider.TWILIO)
    history(sleepy, [T0 - timedelta(hours=n) for n in range(1, 5)])  # never watched
    quiet_periods_learn(now=T0)

    evaluate_at(T0)  # 20 minutes without a webhook: usual enough
    assert AlertIncident.objects.count() == 0
    evaluate_at(T0 + timedelta(minutes=11))  # 31 minutes
    evaluate_at(T0 + timedelta(minutes=12))

    (incident,) = AlertIncident.objects.all()
    assert (incident.kind, incident.key) == (AlertKind.CHANNEL_QUIET, str(channel.pk))
    assert (incident.channel, incident.organization) == (channel, channel.organization)
    assert incident.details["usual_quiet_seconds"] == 1800
    assert emails() == [
        (f"[Switchboard] Alert: No webhook from {channel.name} for over 30 min", OPERATORS_TO)
    ]

    event(channel, at=T0 + timedelta(minutes=13))
    evaluate_at(T0 + timedelta(minutes=13, seconds=30))
    evaluate_at(T0 + timedelta(minutes=14))

    incident.refresh_from_db()
    assert incident.resolved_at == T0 + timedelta(minutes=13, seconds=30)
    assert [subject for subject, _ in emails()][1].startswith("[Switchboard] Resolved: No webhook")
    assert len(mail.outbox) == 2


def test_a_quiet_incident_ends_when_its_channel_is_switched_off(channel, settings):
    settings.ALERT_QUIET_MIN_WEBHOOKS = 100
    history(channel, [T0 - timedelta(hours=1, minutes=2 * n) for n in range(150)])
    quiet_periods_learn(now=T0)
    evaluate_at(T0)
    assert AlertIncident.objects.get().resolved_at is None

    channel.is_active = False
    channel.save(update_fields=["is_active"])
    evaluate_at(T0 + timedelta(minutes=1))

    assert AlertIncident.objects.get().resolved_at == T0 + timedelta(minutes=1)


# --- the admin -----------------------------------------------------------------------


def test_the_admin_shows_operators_everything_and_staff_their_channels(client, channel):
    other = ChannelFactory()
    now = timezone.now()
    mine = AlertIncident.objects.create(
        kind=AlertKind.CHANNEL_QUIET,
        key=str(channel.pk),
        channel=channel,
        organization=channel.organization,
        summary="No webhook from mine",
        opened_at=now,
    )
    theirs = AlertIncident.objects.create(
        kind=AlertKind.CHANNEL_QUIET,
        key=str(other.pk),
        channel=other,
        organization=other.organization,
        summary="No webhook from theirs",
        opened_at=now,
    )
    platform = AlertIncident.objects.create(
        kind=AlertKind.WEBHOOK_BACKLOG, key="twilio", summary="twilio waiting"
    )
    url = "/admin/reports/alertincident/"

    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, organization=channel.organization, role=Role.VIEWER)
    client.force_login(staff)
    page = client.get(url).content.decode()
    assert "No webhook from mine" in page
    assert "No webhook from theirs" not in page
    assert "twilio waiting" not in page
    assert client.get(f"{url}{theirs.pk}/change/").status_code == 404
    assert client.get(f"{url}{platform.pk}/change/").status_code == 404
    assert client.get(f"{url}{mine.pk}/change/").status_code == 200
    assert client.get(f"{url}add/").status_code == 403

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(url).content.decode()
    assert all(s in page for s in ["mine", "theirs", "twilio waiting"])
    assert client.post(f"{url}{platform.pk}/delete/").status_code == 403


def test_the_alerts_the_quiet_periods_and_the_daily_email_are_scheduled(channel, settings):
    from config import settings as configured
    from config.celery import app

    # The Celery app reads its broker once, when first used: if that is here, it must
    # be the real one, not this module's stand-in (later tests start real workers).
    settings.CELERY_BROKER_URL = configured.CELERY_BROKER_URL
    from reconciliation.schedules import PERIODIC_TASKS
    from reports.tasks import alerts_evaluate_task

    declared = {spec.task: spec for spec in PERIODIC_TASKS}
    evaluate = declared["reports.tasks.alerts_evaluate_task"]
    assert (evaluate.every_seconds, evaluate.queue) == (60, "sweeps")
    assert declared["reports.tasks.quiet_periods_learn_task"].cron == "10 4 * * *"
    assert declared["reports.tasks.ops_digest_send_task"].cron == "0 7 * * *"
    assert app.amqp.router.route({}, "reports.tasks.alerts_evaluate_task")["queue"].name == (
        "sweeps"
    )

    event(channel, EventStatus.RECEIVED, at=T0 - timedelta(minutes=8))
    with time_machine.travel(T0, tick=False):
        alerts_evaluate_task.delay()
    assert AlertIncident.objects.get().kind == AlertKind.WEBHOOK_BACKLOG


def test_the_admin_shows_a_channels_learned_quiet_period(client, channel):
    ChannelQuietPeriod.objects.create(
        channel=channel, quiet_seconds=15 * 3600 + 120, webhooks=1512, usual=True, computed_at=T0
    )
    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, organization=channel.organization, role=Role.VIEWER)
    client.force_login(staff)

    page = client.get("/admin/reports/channelquietperiod/").content.decode()

    assert channel.name in page
    assert "15 h 02 min" in page
