"""The admin on a common laptop screen (1,366 px wide): the pages support staff work
from fit it, with their key columns on screen, nothing scrolling sideways.

The data is the kind that widens tables: long names, long user names, long errors
with provider ids in them, open windows, and a dashboard with every figure filled in.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from campaigns.models import Campaign, CampaignStatus, Enrollment, EnrollmentState
from integrations.models import Delivery, DeliveryStatus, Subscription
from outbox.types import EVENT_TYPES
from providers import Provider
from reconciliation.models import (
    HealthCheckResult,
    ReconciliationRun,
    RunKind,
    RunStatus,
    RunTrigger,
    WebhookHealthCheck,
)
from tests.browser.test_admin_browser import PASSWORD, wait_for
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ConversationFactory,
    MessageTemplateFactory,
    OrganizationFactory,
    UserFactory,
)
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
WIDTH, HEIGHT = 1366, 900
LONG_ERROR = (
    'IntegrityError: duplicate key value violates unique constraint "message_unique" '
    "DETAIL: Key (channel_id, provider_message_id)=(3, wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"
    "QTRBNjU5OUFFRTAzODEwMTQ0RgA=) already exists."
)

# Each page, and the headers of the columns that must be on screen (Django names a
# list column's header cell "column-<field>").
PAGES = {
    "/admin/conversations/conversation/": [
        "column-conversation",
        "column-status_badge",
        "column-unread_badge",
        "column-last_activity",
        "column-window",
    ],
    "/admin/webhooks/failedwebhook/": [
        "column-id",
        "column-status_column",
        "column-source",
        "column-received",
        "column-attempts",
        "column-error",
    ],
    "/admin/webhooks/webhookevent/": ["column-status_column", "column-error"],
    "/admin/tenants/channel/": ["column-channel", "column-credentials"],
    "/admin/campaigns/campaign/": ["column-campaign", "column-status_badge", "column-enrolled"],
    "/admin/campaigns/enrollment/": [
        "column-lead",
        "column-in_campaign",
        "column-state_badge",
        "column-next_run",
    ],
    "/admin/integrations/subscription/": [
        "column-subscription",
        "column-state",
        "column-deliveries_link",
    ],
    "/admin/integrations/delivery/": [
        "column-subscription",
        "column-event",
        "column-status_badge",
        "column-http_status",
        "column-next_attempt",
    ],
    "/admin/": [],  # the dashboard: every column of its tables
}


@pytest.fixture
def busy_tenants() -> None:
    now = timezone.now()
    agent = UserFactory(username="jonathan.whitaker-mcallister", is_staff=True)
    for org_name in ["Demo Company", "Northwind Traders International Holdings"]:
        organization = OrganizationFactory(name=org_name)
        channels = [
            ChannelFactory(organization=organization, name="Customer Care EMEA (+44 main line)"),
            ChannelFactory(
                organization=organization,
                name="US Sales SMS",
                provider=Provider.TWILIO,
                phone_number_id="",
            ),
        ]
        for index in range(12):
            channel = channels[index % 2]
            ConversationFactory(
                organization=organization,
                channel=channel,
                contact=ContactFactory(
                    organization=organization,
                    name=f"Venkatanarasimharajuvaripeta Christopher-Montgomery {index}",
                ),
                assignee=agent if index % 3 else None,
                unread_count=index * 11,
                last_activity_at=now - timedelta(minutes=7 * index),
                last_message_preview="Can I change the delivery address to 221B Baker "
                "Street, London NW1 6XE? The tracking link https://example.com/track/"
                "0123456789abcdef0123456789abcdef is broken",
                window_expires_at=now + timedelta(hours=23, minutes=59 - index),
            )
            WebhookEvent.objects.create(
                provider=channel.provider,
                channel=channel if index % 4 else None,
                organization=organization if index % 4 else None,
                body=b"{}",
                dedupe_key=f"{org_name}-{index}",
                received_at=now - timedelta(hours=index),
                status=[EventStatus.FAILED, EventStatus.DEAD, EventStatus.UNROUTABLE][index % 3],
                attempts=5,
                next_attempt_at=now + timedelta(minutes=16) if index % 2 else None,
                last_error=LONG_ERROR,
            )
        for channel in channels:
            _dashboard_figures(channel, now)
        _campaign(channels[1], now)
        _subscription(organization, now)


def _subscription(organization, now) -> None:
    """A named receiver with a long URL, failing for days, and its deliveries."""
    subscription = Subscription.objects.create(
        organization=organization,
        name="Salesforce Service Cloud (EMEA production org, inbound case sync)",
        url="https://hooks.eu-central-1.integrations.example.com/v2/tenants/"
        "0f8fad5b-d9cb-469f-a165-70867728950e/switchboard/events",
        event_types=sorted(EVENT_TYPES),
        secret="whsec_" + "A" * 32,
        failing_since=now - timedelta(days=4, hours=7),
    )
    for index in range(6):
        Delivery.objects.create(
            organization=organization,
            subscription=subscription,
            event_type="campaign.enrollment.completed",
            webhook_id=f"msg_{organization.pk}_{index}",
            payload="{}",
            status=[DeliveryStatus.PENDING, DeliveryStatus.DEAD][index % 2],
            attempts=index + 1,
            response_status=503,
            next_attempt_at=now + timedelta(hours=index),
        )


def _campaign(channel, now) -> None:
    """A running campaign with a long name, its leads stopped for long reasons."""
    campaign = Campaign.objects.create(
        organization=channel.organization,
        channel=channel,
        name="Spring re-engagement of lapsed enterprise accounts (EMEA, second wave)",
        status=CampaignStatus.RUNNING,
        started_at=now - timedelta(days=3),
    )
    for index in range(6):
        Enrollment.objects.create(
            campaign=campaign,
            contact=ContactFactory(
                organization=channel.organization,
                name=f"Venkatanarasimharajuvaripeta Christopher-Montgomery {index}",
                phone=f"+4420790{index:05d}",
            ),
            state=[EnrollmentState.ACTIVE, EnrollmentState.OPTED_OUT][index % 2],
            stop_reason="contact_do_not_contact_registered_by_agent" if index % 2 else "",
            next_run_at=now + timedelta(hours=index),
        )


def _dashboard_figures(channel, now) -> None:
    """A reconciliation, a daily counts check, a late health check, template problems."""
    common = {
        "organization": channel.organization,
        "channel": channel,
        "status": RunStatus.SUCCEEDED,
        "trigger": RunTrigger.SCHEDULE,
        "window_start": now - timedelta(days=2),
        "window_end": now,
        "finished_at": now - timedelta(hours=3, minutes=12),
    }
    ReconciliationRun.objects.create(kind=RunKind.MESSAGES, created=1234, updated=567, **common)
    ReconciliationRun.objects.create(
        kind=RunKind.INTEGRITY, findings={"differing_days": ["2026-11-28"]}, **common
    )
    WebhookHealthCheck.objects.create(
        organization=channel.organization,
        channel=channel,
        sent_at=now - timedelta(minutes=30),
        latency_ms=12_345,
        result=HealthCheckResult.TIMED_OUT,
    )
    if channel.provider == Provider.WHATSAPP_CLOUD:
        for status, quality in [("PAUSED", "RED"), ("DISABLED", "RED"), ("APPROVED", "RED")]:
            MessageTemplateFactory(channel=channel, status=status, quality_score=quality)


def overflowing(browser) -> list[str]:
    """The page, and each table's scrolling box, wider than what is on screen."""
    return browser.execute_script(
        """
        const found = [];
        const page = document.documentElement;
        if (page.scrollWidth > window.innerWidth) found.push(`page ${page.scrollWidth}px`);
        for (const box of document.querySelectorAll('.results, #operations .scroll')) {
            if (box.scrollWidth > box.clientWidth)
                found.push(`${box.className} ${box.scrollWidth}px in ${box.clientWidth}px`);
        }
        return found;
        """
    )


def cut_off(browser, headers: list[str]) -> list[str]:
    """Headers (all of the dashboard's) whose column ends past what is on screen."""
    return browser.execute_script(
        """
        const [classes] = arguments;
        const cells = classes.length
            ? classes.map(c => document.querySelector(`#result_list thead th.${c}`))
            : [...document.querySelectorAll('#operations thead th')];
        return cells.flatMap((cell, i) => {
            if (!cell) return [`${classes[i]} missing`];
            const box = cell.closest('.results, .scroll') || document.body;
            const right = cell.getBoundingClientRect().right;
            const edge = Math.min(box.getBoundingClientRect().right, window.innerWidth);
            return right > edge + 0.5 ? [`${cell.textContent.trim()} ends at ${right}`] : [];
        });
        """,
        headers,
    )


def test_the_lists_and_dashboard_fit_a_laptop_screen(open_browser, live_server, busy_tenants):
    browser = open_browser()
    browser.set_window_size(WIDTH, HEIGHT)
    UserFactory(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait_for(browser, "#operations h2", "Operations dashboard")
    assert browser.execute_script("return window.innerWidth") == WIDTH

    for path, headers in PAGES.items():
        browser.get(f"{live_server.url}{path}")
        wait_for(browser, "#result_list tbody tr" if headers else "#operations table")

        assert overflowing(browser) == [], path
        assert cut_off(browser, headers) == [], path
