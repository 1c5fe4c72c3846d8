"""The subscriptions and deliveries API: admins only, scoped, the secret shown once."""

import pytest
from standardwebhooks import Webhook

from integrations import egress
from integrations.fanout import deliveries_fan_out
from integrations.models import Delivery, DeliveryStatus, Subscription
from tests.factories import ChannelFactory
from tests.integrations.conftest import record, subscribe

pytestmark = pytest.mark.django_db

BODY = {"url": "https://hooks.example.com/in", "event_types": ["message.received"]}


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["93.184.215.14"])


def test_an_admin_creates_a_subscription_and_sees_its_secret_once(admin_client):
    created = admin_client.post("/api/v1/subscriptions", BODY, format="json")
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    Webhook(secret)  # a valid Standard Webhooks secret
    assert secret.startswith("whsec_")
    shown = admin_client.get(f"/api/v1/subscriptions/{created.json()['id']}")
    assert "secret" not in shown.json()
    assert "secret" not in admin_client.get("/api/v1/subscriptions").json()["results"][0]
    assert Subscription.objects.get().secret == secret


@pytest.mark.parametrize("client_name", ["agent_client", "viewer_client"])
def test_agents_and_viewers_neither_read_nor_manage(request, client_name, organization):
    client = request.getfixturevalue(client_name)
    subscription = subscribe(organization, "https://hooks.example.com/in")
    for method, path in [
        ("get", "/api/v1/subscriptions"),
        ("get", f"/api/v1/subscriptions/{subscription.pk}"),
        ("post", "/api/v1/subscriptions"),
        ("post", f"/api/v1/subscriptions/{subscription.pk}/rotate-secret"),
        ("get", "/api/v1/deliveries"),
    ]:
        answer = getattr(client, method)(path, BODY, format="json")
        assert answer.status_code == 403, (method, path)
        assert answer.json()["code"] == "PERMISSION_DENIED"


def test_another_organizations_subscription_is_not_found(admin_client, other_organization):
    theirs = subscribe(other_organization, "https://hooks.example.com/in")
    for path in [f"/api/v1/subscriptions/{theirs.pk}", f"/api/v1/subscriptions/{theirs.pk}/test"]:
        answer = admin_client.post(path) if path.endswith("test") else admin_client.get(path)
        assert answer.status_code == 404
        assert answer.json()["code"] == "NOT_FOUND"


def test_a_private_url_or_another_organizations_channel_is_a_field_error(
    admin_client, settings, monkeypatch, other_organization
):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["10.0.0.8"])
    answer = admin_client.post("/api/v1/subscriptions", BODY, format="json")
    assert answer.status_code == 400
    assert answer.json()["details"]["url"][0]["code"] == "invalid"
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["93.184.215.14"])
    channel = ChannelFactory(organization=other_organization)
    answer = admin_client.post("/api/v1/subscriptions", {**BODY, "channel": channel.pk})
    assert answer.status_code == 400
    assert "channel" in answer.json()["details"]


def test_rotate_change_test_replay_and_delete(admin_client, organization):
    subscription = subscribe(organization, "https://hooks.example.com/in")
    rotated = admin_client.post(f"/api/v1/subscriptions/{subscription.pk}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != subscription.secret
    assert rotated.json()["previous_secret_valid_until"]

    changed = admin_client.patch(
        f"/api/v1/subscriptions/{subscription.pk}", {"enabled": False}, format="json"
    )
    assert changed.json()["enabled"] is False

    tested = admin_client.post(f"/api/v1/subscriptions/{subscription.pk}/test")
    assert tested.status_code == 202
    assert tested.json()["event_type"] == "test.ping"
    Delivery.objects.update(status=DeliveryStatus.DEAD)

    replayed = admin_client.post(
        f"/api/v1/subscriptions/{subscription.pk}/replay",
        {"since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z"},
        format="json",
    )
    assert replayed.json() == {"replayed": 1}
    assert Delivery.objects.get().status == DeliveryStatus.PENDING

    assert admin_client.delete(f"/api/v1/subscriptions/{subscription.pk}").status_code == 204
    assert not Delivery.objects.exists()


def test_deliveries_are_listed_with_filters_and_replayed_one_by_one(admin_client, organization):
    subscription = subscribe(organization, "https://hooks.example.com/in")
    subscription.event_types = ["conversation.assigned"]
    subscription.save()
    record(organization, conversation_id=4)
    record(organization, conversation_id=5)
    deliveries_fan_out()
    Delivery.objects.filter(conversation_id=4).update(status=DeliveryStatus.DEAD)

    dead = admin_client.get("/api/v1/deliveries", {"status": "dead"}).json()["results"]
    assert [d["conversation_id"] for d in dead] == [4]
    by_conversation = admin_client.get("/api/v1/deliveries", {"conversation": 5}).json()
    assert [d["conversation_id"] for d in by_conversation["results"]] == [5]
    bad = admin_client.get("/api/v1/deliveries", {"status": "lost"})
    assert bad.status_code == 400
    assert "status" in bad.json()["details"]

    replayed = admin_client.post(f"/api/v1/deliveries/{dead[0]['id']}/replay")
    assert replayed.json() == {"replayed": 1}
    assert Delivery.objects.get(conversation_id=4).status == DeliveryStatus.PENDING
