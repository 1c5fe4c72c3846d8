"""Template and account webhooks name a WABA, not a number. Several channels may name
the same WABA: a business's numbers in one or several organizations, or a tenant who
typed another's WABA id. Each such event reaches every channel whose app secret signed
it, and only those."""

import pytest
from django.test import TestCase

from providers import Provider
from templates.models import MessageTemplate, TemplateEvent
from tenants.models import ChannelEvent
from tests.factories import ChannelFactory, OrganizationFactory
from tests.signers import whatsapp_cloud
from tests.webhooks.delivery import fixture_text
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process

pytestmark = pytest.mark.django_db

WABA_ID = "102290129340398"  # the WABA of tests/fixtures/whatsapp_cloud


def _channel(secret: str, organization=None):
    return ChannelFactory(
        organization=organization or OrganizationFactory(), waba_id=WABA_ID, app_secret=secret
    )


def _deliver(client, name: str, secret: str):
    body = fixture_text(Provider.WHATSAPP_CLOUD, name).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            "/webhooks/whatsapp/",
            data=body,
            content_type="application/json",
            headers=whatsapp_cloud.sign(body, secret),
        )


def _templates_by_channel() -> dict[int, str]:
    return dict(MessageTemplate.objects.values_list("channel_id", "status"))


def test_a_squatted_waba_still_gets_its_owners_template_webhooks(client):
    squatter = _channel("squatter-app-secret")  # the oldest channel naming the WABA
    owner = _channel("owner-app-secret")

    response = _deliver(client, "template_status_approved", "owner-app-secret")

    assert response.status_code == 200
    assert _templates_by_channel() == {owner.id: "APPROVED"}
    assert WebhookEvent.objects.get().channel == owner
    assert squatter.message_templates.count() == 0


def test_a_squatted_waba_still_gets_its_owners_account_webhooks(client):
    _channel("squatter-app-secret")
    owner = _channel("owner-app-secret")

    response = _deliver(client, "account_update_restriction", "owner-app-secret")

    assert response.status_code == 200
    assert list(ChannelEvent.objects.values_list("channel_id", flat=True)) == [owner.id]


def test_a_squatters_own_webhooks_reach_only_the_squatters_channel(client):
    owner = _channel("owner-app-secret")  # the oldest this time
    squatter = _channel("squatter-app-secret")

    response = _deliver(client, "template_status_approved", "squatter-app-secret")

    assert response.status_code == 200
    assert _templates_by_channel() == {squatter.id: "APPROVED"}
    assert owner.message_templates.count() == 0


def test_a_webhook_no_channel_of_the_waba_signed_is_refused(client):
    _channel("owner-app-secret")

    response = _deliver(client, "template_status_approved", "someone-else")

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_template_webhooks_of_a_shared_waba_reach_every_channel_of_its_app(client):
    """One Meta app, one WABA, two numbers (here in two organizations): one delivery."""
    first = _channel("business-app-secret")
    second = _channel("business-app-secret")
    _channel("squatter-app-secret")

    _deliver(client, "template_status_approved", "business-app-secret")
    _deliver(client, "template_quality_red", "business-app-secret")

    assert sorted(MessageTemplate.objects.values_list("channel_id", "name", "status")) == [
        (first.id, "abandoned_cart", "APPROVED"),
        (first.id, "welcome_template", ""),
        (second.id, "abandoned_cart", "APPROVED"),
        (second.id, "welcome_template", ""),
    ]
    red = MessageTemplate.objects.filter(name="welcome_template", quality_score="RED")
    assert red.count() == 2
    assert TemplateEvent.objects.filter(kind="status").count() == 2
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}


def test_account_webhooks_of_a_shared_waba_reach_every_channel_of_its_app(client):
    first = _channel("business-app-secret")
    second = _channel("business-app-secret")

    _deliver(client, "account_update_restriction", "business-app-secret")

    assert sorted(ChannelEvent.objects.values_list("channel_id", flat=True)) == [
        first.id,
        second.id,
    ]


def test_a_shared_waba_with_one_app_per_channel_gets_each_apps_delivery_once(client):
    """Two Meta apps subscribed to one WABA: Meta delivers to each, signed with its own
    secret; each delivery is for its own app's channel."""
    first = _channel("first-app-secret")
    second = _channel("second-app-secret")

    _deliver(client, "template_status_approved", "first-app-secret")
    assert _templates_by_channel() == {first.id: "APPROVED"}

    _deliver(client, "template_status_approved", "second-app-secret")
    assert _templates_by_channel() == {first.id: "APPROVED", second.id: "APPROVED"}
    assert TemplateEvent.objects.filter(kind="status").count() == 2


def test_replaying_a_shared_waba_webhook_changes_nothing(client):
    _channel("business-app-secret")
    _channel("business-app-secret")
    _deliver(client, "template_status_approved", "business-app-secret")
    _deliver(client, "account_update_restriction", "business-app-secret")
    WebhookEvent.objects.update(status=EventStatus.FAILED)

    ids = WebhookEvent.objects.order_by("id").values_list("id", flat=True)

    results = [webhook_event_process(event_id=pk) for pk in ids]

    assert results == [EventStatus.PROCESSED, EventStatus.PROCESSED]
    assert TemplateEvent.objects.filter(kind="status").count() == 2
    assert ChannelEvent.objects.count() == 2
