"""Subscriptions in the admin: created with the secret shown once, test events, secret
rotation, replay of deliveries (one, or a filtered range selected together)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from integrations import egress
from integrations.fanout import deliveries_fan_out
from integrations.models import Delivery, DeliveryStatus, Subscription
from tenants.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.integrations.conftest import record, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["93.184.215.14"])


@pytest.fixture
def staff(client, organization):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.ADMIN)
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_creating_shows_the_secret_once(staff, organization):
    response = staff.post(
        reverse("admin:integrations_subscription_add"),
        {
            "organization": organization.pk,
            "name": "CRM",
            "url": "https://hooks.example.com/in",
            "event_types": ["message.received", "message.sent"],
            "enabled": "on",
        },
        follow=True,
    )
    subscription = Subscription.objects.get()
    assert subscription.event_types == ["message.received", "message.sent"]
    assert any(subscription.secret in m for m in _messages(response))
    page = staff.get(reverse("admin:integrations_subscription_change", args=[subscription.pk]))
    assert page.status_code == 200
    assert subscription.secret not in page.content.decode()


def test_editing_keeps_the_secret_and_checks_the_url(staff, organization):
    subscription = subscribe(organization, "https://hooks.example.com/in")
    staff.post(
        reverse("admin:integrations_subscription_change", args=[subscription.pk]),
        {"url": "https://hooks.example.com/v2", "event_types": ["message.sent"]},
    )
    changed = Subscription.objects.get()
    assert changed.url == "https://hooks.example.com/v2"
    assert changed.event_types == ["message.sent"]
    assert changed.enabled is False  # the box was not ticked
    assert changed.secret == subscription.secret


def test_a_private_url_is_refused_in_the_form(staff, organization, settings, monkeypatch):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(egress, "resolve", lambda host, port: ["169.254.169.254"])
    response = staff.post(
        reverse("admin:integrations_subscription_add"),
        {
            "organization": organization.pk,
            "url": "https://metadata.example.com/",
            "event_types": ["message.received"],
        },
    )
    assert response.status_code == 200
    assert "169.254.169.254" in response.content.decode()
    assert not Subscription.objects.exists()


def test_send_test_and_rotate_secret(staff, organization):
    subscription = subscribe(organization, "https://hooks.example.com/in")
    url = reverse("admin:integrations_subscription_changelist")
    staff.post(url, {"action": "send_test", "_selected_action": [subscription.pk]})
    assert Delivery.objects.get().event_type == "test.ping"

    old = subscription.secret
    response = staff.post(
        url, {"action": "rotate_secret", "_selected_action": [subscription.pk]}, follow=True
    )
    subscription.refresh_from_db()
    assert subscription.secret != old
    assert subscription.previous_secret == old
    assert any(subscription.secret in m for m in _messages(response))


def test_deliveries_list_detail_and_replay(staff, organization):
    subscription = subscribe(organization, "https://hooks.example.com/in")
    record(organization, conversation_id=1)
    record(organization, conversation_id=2)
    deliveries_fan_out()
    Delivery.objects.update(status=DeliveryStatus.DEAD, attempts=8)
    listing = reverse("admin:integrations_delivery_changelist")
    page = staff.get(listing, {"subscription__id__exact": subscription.pk})
    assert page.status_code == 200
    one = Delivery.objects.order_by("id").first()
    detail = staff.get(reverse("admin:integrations_delivery_change", args=[one.pk]))
    assert "conversation.assigned" in detail.content.decode()

    staff.post(listing, {"action": "replay", "_selected_action": [one.pk]})
    assert list(Delivery.objects.order_by("id").values_list("status", "attempts")) == [
        (DeliveryStatus.PENDING, 0),
        (DeliveryStatus.DEAD, 8),
    ]


def test_another_organizations_subscription_is_not_shown(staff):
    theirs = subscribe(OrganizationFactory(), "https://hooks.example.com/in")
    page = staff.get(reverse("admin:integrations_subscription_change", args=[theirs.pk]))
    assert page.status_code == 404


def test_agents_do_not_see_subscriptions(client, organization):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.AGENT)
    client.force_login(user)
    subscribe(organization, "https://hooks.example.com/in")
    page = client.get(reverse("admin:integrations_subscription_changelist"))
    assert page.status_code == 403
