"""seed_demo_history: a month of demo history that the Reports page shows at once,
written once, and as the services would have written it (the periodic passes that
read it find nothing to change).

The figures hand-counted from the story (reports.demo_history, reports.demo_campaign):
60 conversations (50 customers', 10 campaign leads'), the last 3 customers waiting
unread; refused sends 2 window + 1 template + 1 rate + 1 opted out; the campaign's 10
leads got 10 + 8 + 7 = 25 texts, the landline's 3 failed, 3 leads replied (30%).
"""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, Enrollment, EnrollmentStep, Step
from campaigns.scheduler import scheduler_tick
from conversations.maintenance import windows_backfill, windows_close_expired
from conversations.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
)
from messaging.models import DailyRefusalCount, DailySendCount
from providers import Provider
from reports import campaign_reports, inbox
from reports.campaign_models import CampaignDayRollup, CampaignLeadFact, CampaignStepFact
from reports.campaign_rollups import campaign_rollups_update
from reports.demo_history import demo_history_seed
from reports.inbox_models import ConversationFact, InboxDay
from reports.inbox_rollup import inbox_rollups_update
from reports.ranges import date_range_parse
from tenants.demo import demo_seed
from tenants.models import Membership, Organization

pytestmark = pytest.mark.django_db

TABLES = [
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    Campaign,
    Step,
    Enrollment,
    EnrollmentStep,
    DailyRefusalCount,
    DailySendCount,
    InboxDay,
    ConversationFact,
    CampaignDayRollup,
    CampaignStepFact,
    CampaignLeadFact,
    Membership,
    get_user_model(),
]
# A Friday evening in New York, four weeks after its clocks moved (8 March): the
# history crosses the change; and a Saturday night in UTC, the demo's default zone.
CLOCKS = [
    pytest.param(datetime(2026, 4, 4, 0, 30, tzinfo=UTC), "America/New_York", id="new-york"),
    pytest.param(datetime(2026, 11, 28, 23, 50, tzinfo=UTC), "UTC", id="utc"),
]


@pytest.fixture(autouse=True)
def development_mode(settings):
    settings.DEBUG = True  # pytest-django turns DEBUG off; the demo is for development


@pytest.fixture
def still():
    """The clock stopped: the unread backlog's age would move between two readings."""
    with time_machine.travel(datetime.now(UTC), tick=False):
        yield


def _demo(zone: str = "UTC") -> Organization:
    organization = demo_seed().organization
    Organization.objects.filter(pk=organization.pk).update(timezone=zone)
    organization.refresh_from_db()
    return organization


def _figures(organization: Organization) -> dict:
    span = date_range_parse({}, organization=organization)  # the page's default: 30 days
    return {
        "summary": inbox.inbox_summary(organization=organization, span=span),
        "agents": inbox.inbox_by_agent(organization=organization, span=span),
        "funnel": campaign_reports.campaign_funnel(organization=organization, span=span),
    }


def _rows() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


@pytest.mark.parametrize(("clock", "zone"), CLOCKS)
def test_the_reports_show_the_demo_history_at_once(clock, zone):
    with time_machine.travel(clock, tick=False):
        # given the demo tenant of `make run`
        organization = _demo(zone)

        # when its history is seeded
        written = demo_history_seed(organization=organization)
        figures = _figures(organization)

    # then the inbox figures over the default range count every row written
    summary = figures["summary"]
    messages = Message.objects.filter(organization=organization)
    assert written["conversations"] == summary["conversations_opened"] == 60
    assert summary["conversations_closed"] == (
        Conversation.objects.filter(status=ConversationStatus.CLOSED).count()
    )
    assert summary["conversations_closed"] > 0
    assert summary["messages_in"] == messages.filter(direction=Direction.INBOUND).count() > 0
    assert summary["messages_out"] == messages.filter(direction=Direction.OUTBOUND).count() > 0
    assert summary["first_response_median_s"] > 0
    assert summary["resolution_median_s"] > 0
    assert 0 < summary["answered_within_sla_pct"] < 100  # quick and slow answers
    assert summary["unread_backlog"] == 3
    refused = {key: summary[key] for key in inbox.REFUSALS}
    assert refused == {
        "refused_window_expired": 2,
        "refused_template_not_approved": 1,
        "refused_rate_limited": 1,
        "refused_opted_out": 1,
        "refused_other": 0,
    }
    agents = {row["agent"]: row for row in figures["agents"]}
    assert set(agents) == {"ana.agent", "ben.agent", "Unassigned"}
    assert agents["ana.agent"]["conversations_opened"] > 0
    assert agents["ben.agent"]["first_response_median_s"] > 0
    # and the campaign's funnel has its story's figures
    (campaign,) = figures["funnel"]
    assert campaign["status"] == "completed"
    assert {key: campaign[key] for key in ("enrolled", "sent", "delivered", "failed")} == {
        "enrolled": 10,
        "sent": 25,
        "delivered": 22,
        "failed": 3,
    }
    assert (campaign["replied"], campaign["reply_rate_pct"]) == (3, 30.0)
    assert campaign["first_reply_median_s"] > 0


def test_running_it_again_adds_nothing(still):
    # given the demo with its history
    organization = _demo()
    call_command("seed_demo_history", stdout=io.StringIO())
    before, figures = _rows(), _figures(organization)

    # when it is run again (the next `make run`)
    out = io.StringIO()
    call_command("seed_demo_history", stdout=out)

    # then nothing is added or recounted
    assert "already there, nothing added" in out.getvalue()
    assert _rows() == before
    assert _figures(organization) == figures
    assert before["Conversation"] == 60


def test_what_it_wrote_is_what_the_services_would_have_written(still):
    # given the seeded demo, an hour later
    organization = _demo()
    demo_history_seed(organization=organization)
    figures, windows = _figures(organization), _windows()
    later = timezone.now() + timedelta(hours=1)

    # when the periodic passes that read this history run
    inbox_rollups_update()
    campaign_rollups_update(now=later)
    tick = scheduler_tick(now=later)
    closed = windows_close_expired(now=timezone.now())
    windows_backfill(organization_id=organization.pk)  # the windows, recomputed from messages

    # then none of them finds anything to do: no figure moves, no step is sent, no
    # reply is detected or emailed again, every window is what the messages make it
    assert _figures(organization) == figures
    assert (tick.claimed, tick.replied, tick.notified, tick.completed_campaigns) == (0, 0, 0, 0)
    assert not closed.closed
    assert not closed.reopened
    assert _windows() == windows
    assert not Message.objects.filter(status="queued").exists()


def test_free_form_whatsapp_answers_are_inside_the_window():
    organization = _demo()
    demo_history_seed(organization=organization)

    whatsapp = Message.objects.filter(channel__provider=Provider.WHATSAPP_CLOUD).order_by(
        "occurred_at"
    )
    last_customer: dict[int, datetime] = {}
    for message in whatsapp:
        if message.direction == Direction.INBOUND:
            last_customer[message.conversation_id] = message.occurred_at
            continue
        opened = last_customer.get(message.conversation_id)
        assert opened is not None
        assert message.occurred_at - opened < timedelta(hours=24)


def test_the_reports_page_shows_the_demo(client):
    organization = _demo()
    demo_history_seed(organization=organization)
    client.force_login(get_user_model().objects.get(username="admin"))

    response = client.get("/admin/reports/", {"organization": organization.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Winter check-in (demo)" in page
    assert "ana.agent" in page


def test_it_needs_the_demo_organization():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_demo_history")


def test_it_refuses_production_without_force(settings):
    settings.DEBUG = False
    _demo()

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo_history")
    assert not Conversation.objects.exists()


def _windows() -> list[tuple]:
    fields = ["pk", "last_user_message_at", "window_expires_at", "is_window_open"]
    return list(Conversation.objects.order_by("pk").values_list(*fields))
