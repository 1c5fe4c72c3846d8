"""Inbox counters: per channel and in total, in a constant number of queries."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers import Provider
from tenants.models import WindowPolicy
from tests.factories import (
    ChannelFactory,
    ConversationFactory,
    MembershipFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbox/counters"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ZERO = {"open": 0, "unread": 0, "unassigned": 0, "mine": 0, "expiring_windows": 0}


def _counters(client) -> dict:
    with time_machine.travel(NOW, tick=False):
        response = client.get(URL)
    assert response.status_code == 200, response.json()
    return response.json()


def _by_channel(body: dict) -> dict[int, dict]:
    return {item["channel"]["id"]: item["counts"] for item in body["channels"]}


def test_counts_per_channel_and_in_total(agent_client, organization):
    me, colleague = agent_client.user, MembershipFactory(organization=organization).user
    sales = ChannelFactory(organization=organization, name="Sales")
    support = ChannelFactory(organization=organization, name="Support")
    unused = ChannelFactory(organization=organization, name="Unused")
    on = {"organization": organization}
    # Sales: open+unread+mine, open unassigned, pending assigned to a colleague.
    ConversationFactory(**on, channel=sales, unread_count=2, assignee=me)
    ConversationFactory(**on, channel=sales)
    ConversationFactory(**on, channel=sales, status="pending", assignee=colleague)
    # Support: snoozed, unread, mine; closed ones count for nothing.
    ConversationFactory(**on, channel=support, status="snoozed", unread_count=1, assignee=me)
    ConversationFactory(**on, channel=support, status="closed", unread_count=5)
    ConversationFactory(**on, channel=support, status="closed", assignee=me)

    body = _counters(agent_client)

    assert _by_channel(body) == {
        sales.id: {**ZERO, "open": 2, "unread": 1, "unassigned": 1, "mine": 1},
        support.id: {**ZERO, "unread": 1, "mine": 1},
        unused.id: ZERO,
    }
    assert body["total"] == {**ZERO, "open": 2, "unread": 2, "unassigned": 1, "mine": 2}
    assert [c["channel"]["name"] for c in body["channels"]] == ["Sales", "Support", "Unused"]


def test_windows_expiring_within_the_next_hour(agent_client, organization):
    whatsapp = ChannelFactory(organization=organization)
    sms = ChannelFactory(
        organization=organization,
        provider=Provider.TWILIO,
        window_policy=WindowPolicy.ALWAYS_OPEN,
    )
    on = {"organization": organization, "channel": whatsapp}
    ConversationFactory(**on, window_expires_at=NOW + timedelta(minutes=30))
    ConversationFactory(**on, window_expires_at=NOW + timedelta(minutes=60))
    ConversationFactory(**on, window_expires_at=NOW + timedelta(minutes=61))
    ConversationFactory(**on, window_expires_at=NOW, is_window_open=True)  # stale flag: expired
    ConversationFactory(**on, window_expires_at=None)
    ConversationFactory(**on, status="closed", window_expires_at=NOW + timedelta(minutes=5))
    ConversationFactory(
        organization=organization, channel=sms, window_expires_at=NOW + timedelta(minutes=5)
    )

    body = _counters(agent_client)

    assert _by_channel(body)[whatsapp.id]["expiring_windows"] == 2
    assert _by_channel(body)[sms.id]["expiring_windows"] == 0
    assert body["total"]["expiring_windows"] == 2


def test_another_organizations_conversations_and_channels_are_not_counted(
    viewer_client, organization
):
    mine = ChannelFactory(organization=organization)
    ConversationFactory(organization=organization, channel=mine)
    ConversationFactory(organization=OrganizationFactory(), unread_count=3)

    body = _counters(viewer_client)

    assert list(_by_channel(body)) == [mine.id]
    assert body["total"] == {**ZERO, "open": 1, "unassigned": 1}


def test_mine_is_the_callers(viewer_client, agent_client, organization):
    ConversationFactory(organization=organization, assignee=agent_client.user)

    assert _counters(agent_client)["total"]["mine"] == 1
    assert _counters(viewer_client)["total"]["mine"] == 0


def test_counters_cost_the_same_queries_for_one_or_many_channels(agent_client, organization):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _counters(agent_client)
        return len(captured)

    ConversationFactory(organization=organization)
    few = queries()
    for _ in range(10):
        channel = ChannelFactory(organization=organization)
        ConversationFactory.create_batch(3, organization=organization, channel=channel)

    assert queries() == few <= 2  # membership, counters


def test_anonymous_is_401(anonymous_client):
    response = anonymous_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
