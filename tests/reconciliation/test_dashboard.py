"""The operations dashboard on the admin index: its figures, the lists they open, its
cost, and who sees it."""

import html
import re
from datetime import UTC, datetime, timedelta
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reconciliation.dashboard import dashboard_figures
from reconciliation.models import (
    HealthCheckResult,
    ReconciliationRun,
    RunKind,
    RunStatus,
    RunTrigger,
    WebhookHealthCheck,
)
from tenants.models import Role, WindowPolicy
from tests.factories import (
    ChannelFactory,
    ConversationFactory,
    MembershipFactory,
    MessageTemplateFactory,
    OrganizationFactory,
    UserFactory,
)
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
INDEX = "/admin/"
_keys = count()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False):
        yield


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def event(channel, status=EventStatus.PROCESSED, *, ago: timedelta) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider=channel.provider if channel else "whatsapp_cloud",
        channel=channel,
        organization=channel.organization if channel else None,
        body=b"{}",
        received_at=T0 - ago,
        dedupe_key=f"dashboard-{next(_keys)}",
        status=status,
    )


def run(channel, *, finished_ago: timedelta, status=RunStatus.SUCCEEDED, **fields):
    return ReconciliationRun.objects.create(
        organization=channel.organization,
        channel=channel,
        window_start=T0 - timedelta(days=2),
        window_end=T0,
        trigger=RunTrigger.SCHEDULE,
        status=status,
        finished_at=T0 - finished_ago,
        **fields,
    )


def health_check(channel, result, *, ago: timedelta, latency_ms=None):
    return WebhookHealthCheck.objects.create(
        organization=channel.organization,
        channel=channel,
        sent_at=T0 - ago,
        result=result,
        latency_ms=latency_ms,
    )


def window(channel, expires_in: timedelta | None):
    return ConversationFactory(
        organization=channel.organization,
        channel=channel,
        window_expires_at=None if expires_in is None else T0 + expires_in,
        is_window_open=False,  # the flag must not matter: the clock decides
    )


def channel_figures(channel):
    dashboard = dashboard_figures(now=T0)
    return next(
        figures
        for organization in dashboard.organizations
        for figures in organization.channels
        if figures.channel.pk == channel.pk
    )


def dashboard_links(page: str) -> list[str]:
    section = page[page.index('id="operations"') : page.index("</section>")]
    return [html.unescape(href) for href in re.findall(r'<a href="([^"]+)"', section)]


def link_to(page: str, path: str, **filters) -> str:
    """The dashboard's link to `path` with exactly these filters."""
    for href in dashboard_links(page):
        parts = urlsplit(href)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path == path and query == {k: str(v) for k, v in filters.items()}:
            return href
    raise AssertionError(f"no link to {path} with {filters}: {dashboard_links(page)}")


def listed(client, href: str) -> set[int]:
    response = client.get(href)
    assert response.status_code == 200, href  # a bad filter redirects to ?e=1
    return {row.pk for row in response.context["cl"].result_list}


# The figures


def test_intake_counts_the_last_hour_only(channel):
    # given webhooks received 10 and 59 minutes ago, and one 61 minutes ago
    event(channel, ago=timedelta(minutes=10))
    event(channel, EventStatus.FAILED, ago=timedelta(minutes=59))
    event(channel, ago=timedelta(minutes=61))
    event(ChannelFactory(organization=channel.organization), ago=timedelta(minutes=5))

    # when the dashboard is read
    figures = channel_figures(channel)

    # then only the last hour's two count
    assert figures.intake_last_hour == 2


def test_failed_and_dead_queue_depth(channel):
    # given failed and dead webhooks of any age, and others already settled
    event(channel, EventStatus.FAILED, ago=timedelta(days=3))
    event(channel, EventStatus.FAILED, ago=timedelta(minutes=3))
    event(channel, EventStatus.DEAD, ago=timedelta(days=20))
    event(channel, EventStatus.DISCARDED, ago=timedelta(hours=2))
    event(channel, EventStatus.PROCESSED, ago=timedelta(hours=2))

    # when
    figures = channel_figures(channel)

    # then
    assert (figures.failed, figures.dead) == (2, 1)


def test_oldest_unprocessed_is_the_oldest_received_or_processing(channel):
    # given an event stuck in processing for 2 hours, a newer one received, and older
    # ones that are not waiting for a worker (processed, failed)
    event(channel, EventStatus.PROCESSING, ago=timedelta(hours=2))
    event(channel, EventStatus.RECEIVED, ago=timedelta(minutes=1))
    event(channel, EventStatus.PROCESSED, ago=timedelta(hours=5))
    event(channel, EventStatus.FAILED, ago=timedelta(hours=6))

    # when
    figures = channel_figures(channel)

    # then
    assert figures.oldest_unprocessed_at == T0 - timedelta(hours=2)


def test_nothing_unprocessed_has_no_age(channel):
    event(channel, EventStatus.PROCESSED, ago=timedelta(minutes=5))

    assert channel_figures(channel).oldest_unprocessed_at is None


def test_windows_open_and_expiring_follow_the_clock(organization):
    # given windows open for hours, closing in 42 minutes, expired, never opened
    whatsapp = ChannelFactory(organization=organization)
    window(whatsapp, timedelta(hours=3))
    window(whatsapp, timedelta(minutes=42))
    window(whatsapp, timedelta(minutes=-1))
    window(whatsapp, None)
    sms = ChannelFactory(organization=organization, window_policy=WindowPolicy.ALWAYS_OPEN)
    window(sms, None)

    # when
    figures, sms_figures = channel_figures(whatsapp), channel_figures(sms)

    # then the stored flags (all False) are ignored, and SMS has no window to count
    assert (figures.open_windows, figures.expiring_windows) == (2, 1)
    assert (sms_figures.open_windows, sms_figures.expiring_windows) == (None, None)


def test_template_problems_count_each_template_once(channel):
    # given paused, disabled and red templates, one both paused and red
    MessageTemplateFactory(channel=channel, status="PAUSED")
    MessageTemplateFactory(channel=channel, status="PAUSED", quality_score="RED")
    MessageTemplateFactory(channel=channel, status="DISABLED")
    MessageTemplateFactory(channel=channel, quality_score="RED")
    # and ones that are fine, or that Meta no longer lists
    MessageTemplateFactory(channel=channel, quality_score="GREEN")
    MessageTemplateFactory(channel=channel, status="PAUSED", is_deleted=True)

    # when
    templates = channel_figures(channel).templates

    # then
    assert (templates.paused, templates.disabled, templates.red) == (2, 1, 2)
    assert templates.problems == 4


def test_last_successful_reconciliation_and_its_findings(channel):
    # given two successful runs, a newer failed one, and an integrity check
    run(channel, finished_ago=timedelta(days=2), created=9)
    run(channel, finished_ago=timedelta(hours=3), created=3, updated=1)
    run(channel, finished_ago=timedelta(hours=1), status=RunStatus.FAILED, created=7)
    differing = [{"day": "2026-11-18", "provider": 10, "ours": 9}, {"day": "2026-11-19"}]
    run(
        channel,
        finished_ago=timedelta(hours=2),
        kind=RunKind.INTEGRITY,
        findings={"differing_days": differing},
    )

    # when
    figures = channel_figures(channel)

    # then the newest successful run is reported, and the days that differ
    assert figures.last_run.finished_at == T0 - timedelta(hours=3)
    assert (figures.last_run.created, figures.last_run.updated) == (3, 1)
    assert figures.last_integrity_check.differing_days == 2


def test_health_check_is_the_latest_finished_one(channel):
    # given a confirmed check, a newer timed-out one, and one still waiting
    health_check(channel, HealthCheckResult.CONFIRMED, ago=timedelta(hours=2), latency_ms=1800)
    health_check(channel, HealthCheckResult.TIMED_OUT, ago=timedelta(hours=1))
    health_check(channel, HealthCheckResult.PENDING, ago=timedelta(minutes=1))

    # when
    health = channel_figures(channel).health

    # then
    assert health.result == HealthCheckResult.TIMED_OUT
    assert not health.ok


def test_chart_counts_intake_and_failures_per_hour(channel):
    # given webhooks in the current hour, 5 hours ago, and beyond the 24 hours
    event(channel, ago=timedelta(minutes=10))
    event(channel, EventStatus.DEAD, ago=timedelta(minutes=20))
    event(channel, EventStatus.FAILED, ago=timedelta(hours=5))
    event(channel, ago=timedelta(hours=25))

    # when
    (organization,) = dashboard_figures(now=T0).organizations

    # then
    hours = {hour.start: (hour.intake, hour.failures) for hour in organization.hours}
    assert len(organization.hours) == 24
    assert organization.hours[-1].start == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert hours[datetime(2026, 11, 20, 12, tzinfo=UTC)] == (2, 1)
    assert hours[datetime(2026, 11, 20, 7, tzinfo=UTC)] == (1, 1)
    assert sum(intake for intake, _ in hours.values()) == 3


def test_unroutable_webhooks_are_counted_apart(channel):
    event(None, EventStatus.UNROUTABLE, ago=timedelta(days=1))

    assert dashboard_figures(now=T0).unroutable == 1


# The page and its links


def test_the_index_shows_the_dashboard_above_the_app_list(staff_client, channel, clock):
    # given a failed webhook
    event(channel, EventStatus.FAILED, ago=timedelta(minutes=5))

    # when the index is opened
    page = staff_client.get(INDEX).content.decode()

    # then the dashboard shows the channel and its figure, before the app list
    assert "Operations dashboard" in page
    assert channel.name in page
    assert page.index('id="operations"') < page.index('class="app-webhooks module')
    assert '<svg class="intake-chart"' in page
    assert "12:00 UTC: 1 received, 1 failed" in page


def test_each_figure_opens_the_list_behind_it(staff_client, organization, clock):
    # given a channel with something in every list, and another channel beside it
    channel = ChannelFactory(organization=organization)
    other = ChannelFactory(organization=organization)
    recent = event(channel, ago=timedelta(minutes=10))
    failed = event(channel, EventStatus.FAILED, ago=timedelta(days=1))
    dead = event(channel, EventStatus.DEAD, ago=timedelta(days=2))
    waiting = event(channel, EventStatus.RECEIVED, ago=timedelta(minutes=30))
    for status in (EventStatus.FAILED, EventStatus.DEAD, EventStatus.RECEIVED):
        event(other, status, ago=timedelta(minutes=1))
    open_ = window(channel, timedelta(hours=5))
    expiring = window(channel, timedelta(minutes=30))
    window(other, timedelta(minutes=30))
    paused = MessageTemplateFactory(channel=channel, status="PAUSED")
    red = MessageTemplateFactory(channel=channel, quality_score="RED")
    check = health_check(channel, HealthCheckResult.CONFIRMED, ago=timedelta(hours=1))

    # when the index is opened
    page = staff_client.get(INDEX).content.decode()

    # then each figure links to its list, filtered to exactly what it counts
    by_channel = {"channel__id__exact": channel.pk}
    since = (T0 - timedelta(hours=1)).isoformat()
    intake = link_to(page, "/admin/webhooks/webhookevent/", received_at__gte=since, **by_channel)
    assert listed(staff_client, intake) == {recent.pk, waiting.pk}
    queue = "/admin/webhooks/failedwebhook/"
    failed_link = link_to(page, queue, status__exact="failed", **by_channel)
    dead_link = link_to(page, queue, status__exact="dead", **by_channel)
    assert listed(staff_client, failed_link) == {failed.pk}
    assert listed(staff_client, dead_link) == {dead.pk}
    events = "/admin/webhooks/webhookevent/"
    unprocessed = link_to(page, events, status__in="received,processing", **by_channel)
    assert listed(staff_client, unprocessed) == {waiting.pk}
    conversations = "/admin/conversations/conversation/"
    open_link = link_to(page, conversations, window="open", **by_channel)
    expiring_link = link_to(page, conversations, window="expiring", **by_channel)
    assert listed(staff_client, open_link) == {open_.pk, expiring.pk}
    assert listed(staff_client, expiring_link) == {expiring.pk}
    templates = "/admin/templates/messagetemplate/"
    paused_link = link_to(page, templates, status="PAUSED", removed="no", **by_channel)
    red_link = link_to(page, templates, quality_score__exact="RED", removed="no", **by_channel)
    assert listed(staff_client, paused_link) == {paused.pk}
    assert listed(staff_client, red_link) == {red.pk}
    checks = "/admin/reconciliation/webhookhealthcheck/"
    assert listed(staff_client, link_to(page, checks, **by_channel)) == {check.pk}


def test_the_reconciliation_figure_opens_the_channels_successful_runs(staff_client, channel, clock):
    # given a successful run
    done = run(channel, finished_ago=timedelta(hours=3), created=3, updated=1)
    run(ChannelFactory(organization=channel.organization), finished_ago=timedelta(hours=1))

    # when
    page = staff_client.get(INDEX).content.decode()

    # then its findings are shown, linked to the channel's successful runs (once the
    # runs have an admin list; until then the figure stands without a link)
    assert "3 h ago · 3 created, 1 updated" in page
    if not admin.site.is_registered(ReconciliationRun):
        assert not any("reconciliationrun" in href for href in dashboard_links(page))
        return
    runs = link_to(
        page,
        "/admin/reconciliation/reconciliationrun/",
        status__exact="succeeded",
        channel__id__exact=channel.pk,
    )
    assert listed(staff_client, runs) == {done.pk}


def test_every_dashboard_link_opens_a_list(staff_client, channel, clock):
    # given something behind every figure
    event(channel, EventStatus.FAILED, ago=timedelta(minutes=5))
    event(channel, EventStatus.DEAD, ago=timedelta(minutes=5))
    event(channel, EventStatus.PROCESSING, ago=timedelta(minutes=5))
    event(None, EventStatus.UNROUTABLE, ago=timedelta(minutes=5))
    window(channel, timedelta(minutes=5))
    MessageTemplateFactory(channel=channel, status="DISABLED")
    health_check(channel, HealthCheckResult.SEND_FAILED, ago=timedelta(hours=1))
    run(channel, finished_ago=timedelta(hours=1), kind=RunKind.INTEGRITY)

    # when every link of the dashboard is followed
    links = dashboard_links(staff_client.get(INDEX).content.decode())

    # then each opens its page (no "?e=1": every filter name is one the list knows)
    assert len(links) >= 12
    for href in links:
        response = staff_client.get(href)
        assert response.status_code == 200, href


def test_the_dashboard_takes_the_same_queries_for_2_or_6_channels(staff_client, clock):
    def add_channels(how_many: int) -> None:
        organization = OrganizationFactory()
        for _ in range(how_many):
            channel = ChannelFactory(organization=organization)
            event(channel, EventStatus.FAILED, ago=timedelta(minutes=5))
            event(channel, EventStatus.RECEIVED, ago=timedelta(hours=3))
            window(channel, timedelta(minutes=20))
            MessageTemplateFactory(channel=channel, status="PAUSED")
            run(channel, finished_ago=timedelta(hours=1))
            run(channel, finished_ago=timedelta(hours=1), kind=RunKind.INTEGRITY)
            health_check(channel, HealthCheckResult.CONFIRMED, ago=timedelta(hours=1))

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as figures:
            dashboard_figures()
        with CaptureQueriesContext(connection) as index:
            assert staff_client.get(INDEX).status_code == 200
        return len(figures), len(index)

    add_channels(2)
    with_two = queries()
    add_channels(4)

    assert queries() == with_two
    assert with_two[0] == 7


# Who sees it


def test_a_user_who_is_not_staff_never_sees_it(client, channel, clock):
    # given a signed-in user who is not staff
    event(channel, EventStatus.FAILED, ago=timedelta(minutes=5))
    client.force_login(UserFactory(is_staff=False))

    # when they open the admin index
    response = client.get(INDEX, follow=True)

    # then they are sent to the login page, and see no figure
    assert response.redirect_chain[0][0].startswith("/admin/login/")
    assert "Operations dashboard" not in response.content.decode()


def test_staff_without_access_to_webhooks_get_the_plain_index(client, channel, clock):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    page = client.get(INDEX).content.decode()

    assert "Operations dashboard" not in page


def test_staff_who_may_read_webhooks_see_it(client, channel, clock):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    MembershipFactory(user=staff, organization=channel.organization, role=Role.VIEWER)
    client.force_login(staff)

    page = client.get(INDEX).content.decode()

    assert "Operations dashboard" in page
    assert channel.name in page


def test_members_see_their_organizations_without_any_django_permission(client, channel, clock):
    other = ChannelFactory(name="Somebody else's line")
    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, organization=channel.organization, role=Role.VIEWER)
    client.force_login(staff)

    page = client.get(INDEX).content.decode()

    assert "Operations dashboard" in page
    assert channel.name in page
    assert other.name not in page
