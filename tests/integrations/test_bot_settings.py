"""Making a subscription its channel's responder, from the API and the admin: a channel
needed, one enabled responder per channel, the burst's timings within bounds; the
admin then shows the channel's conversations as handled by a bot."""

import pytest
from django.urls import reverse

from conversations import bots as conversation_bots
from integrations import egress
from integrations.models import Subscription
from tenants.models import Role
from tests.factories import ChannelFactory, ConversationFactory, MembershipFactory, UserFactory
from tests.integrations.conftest import subscribe

pytestmark = pytest.mark.django_db

BODY = {"url": "https://bot.example.com/in", "event_types": ["message.received"]}


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["93.184.215.14"])


def test_an_admin_makes_a_responder_with_its_timings(admin_client, organization):
    channel = ChannelFactory(organization=organization)
    created = admin_client.post(
        "/api/v1/subscriptions",
        {**BODY, "channel": channel.pk, "responder": True, "burst_quiet_seconds": 10},
        format="json",
    )
    assert created.status_code == 201, created.json()
    answer = created.json()
    assert (answer["responder"], answer["burst_quiet_seconds"]) == (True, 10)
    assert answer["burst_max_wait_seconds"] == 20  # the default

    changed = admin_client.patch(
        f"/api/v1/subscriptions/{answer['id']}", {"burst_max_wait_seconds": 45}, format="json"
    )
    assert changed.status_code == 200
    assert Subscription.objects.get().burst_max_wait_seconds == 45


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"responder": True}, "responder"),  # no channel
        ({"burst_quiet_seconds": 0}, "burst_quiet_seconds"),
        ({"burst_quiet_seconds": 61}, "burst_quiet_seconds"),
        ({"burst_quiet_seconds": 10, "burst_max_wait_seconds": 5}, "burst_max_wait_seconds"),
        ({"burst_max_wait_seconds": 301}, "burst_max_wait_seconds"),
    ],
)
def test_out_of_bounds_is_a_field_error(admin_client, fields, field):
    answer = admin_client.post("/api/v1/subscriptions", {**BODY, **fields}, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert field in answer.json()["details"]


def test_one_enabled_responder_per_channel(admin_client, organization):
    channel = ChannelFactory(organization=organization)
    first = subscribe(organization, BODY["url"], channel=channel, responder=True)
    second = admin_client.post(
        "/api/v1/subscriptions", {**BODY, "channel": channel.pk, "responder": True}, format="json"
    )
    assert second.status_code == 400
    assert "responder" in second.json()["details"]

    admin_client.patch(f"/api/v1/subscriptions/{first.pk}", {"enabled": False}, format="json")
    again = admin_client.post(
        "/api/v1/subscriptions", {**BODY, "channel": channel.pk, "responder": True}, format="json"
    )
    assert again.status_code == 201
    enabling = admin_client.patch(
        f"/api/v1/subscriptions/{first.pk}", {"enabled": True}, format="json"
    )
    assert enabling.status_code == 400


@pytest.fixture
def staff(client, organization):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.ADMIN)
    client.force_login(user)
    return client


def _add(staff, organization, channel, **fields):
    return staff.post(
        reverse("admin:integrations_subscription_add"),
        {
            "organization": organization.pk,
            "url": "https://bot.example.com/in",
            "event_types": ["message.received"],
            "channel": channel.pk,
            "enabled": "on",
            **fields,
        },
    )


def test_the_admin_makes_a_responder_and_says_what_is_wrong(staff, organization):
    channel = ChannelFactory(organization=organization)
    conversation = ConversationFactory(organization=organization, channel=channel)
    assert conversation_bots.bot_handling(conversation) is False

    _add(staff, organization, channel, responder="on", burst_quiet_seconds=8)
    responder = Subscription.objects.get()
    assert (responder.responder, responder.burst_quiet_seconds) == (True, 8)
    assert responder.burst_max_wait_seconds == 20  # left empty: the default
    assert conversation_bots.bot_handling(conversation) is True  # integrations registered

    refused = _add(staff, organization, channel, responder="on")
    assert refused.status_code == 200  # the form again, with the error
    assert "already has an enabled responder" in refused.content.decode()
    too_short = _add(
        staff,
        organization,
        ChannelFactory(organization=organization),
        burst_quiet_seconds=9,
        burst_max_wait_seconds=4,
    )
    assert "At least the quiet period" in too_short.content.decode()
    assert Subscription.objects.count() == 1


def test_two_responders_made_at_once_the_database_refuses_the_second(organization, monkeypatch):
    from integrations import subscriptions
    from tenants.errors import ApplicationError

    channel = ChannelFactory(organization=organization)
    subscribe(organization, BODY["url"], channel=channel, responder=True)
    monkeypatch.setattr(subscriptions, "responder_validate", lambda subscription: None)

    with pytest.raises(ApplicationError) as refused:
        subscribe(organization, BODY["url"], channel=channel, responder=True)
    assert "responder" in refused.value.details
    assert Subscription.objects.count() == 1
