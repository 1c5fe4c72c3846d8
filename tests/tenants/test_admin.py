import pytest

from tenants.models import Channel
from tests.factories import ChannelFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _channel_form(channel: Channel, **changes) -> dict:
    form = {
        "organization": channel.organization_id,
        "provider": channel.provider,
        "name": channel.name,
        "display_phone_number": channel.display_phone_number,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "account_id": channel.account_id,
        "api_base_url": "",
        "window_policy": channel.window_policy,
        "is_active": "on",
        # the provider-account-events inline's management form, as a browser sends it
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    form.update(changes)
    return form


def test_saving_the_form_with_empty_secret_boxes_keeps_the_secrets(staff_client, channel):
    response = staff_client.post(
        f"/admin/tenants/channel/{channel.id}/change/", _channel_form(channel, name="Renamed")
    )

    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed"
    assert channel.app_secret.startswith("test-app-secret")


def test_a_secret_can_be_replaced_and_another_cleared(staff_client, channel):
    form = _channel_form(channel, app_secret="rotated-secret", clear_secrets=["access_token"])

    staff_client.post(f"/admin/tenants/channel/{channel.id}/change/", form)

    channel.refresh_from_db()
    assert (channel.app_secret, channel.access_token) == ("rotated-secret", "")


def test_admin_form_enforces_what_the_provider_needs(staff_client, channel):
    form = _channel_form(channel, clear_secrets=["app_secret"])

    response = staff_client.post(f"/admin/tenants/channel/{channel.id}/change/", form)

    assert response.status_code == 200
    assert "Required for WhatsApp (Meta Cloud API)" in response.content.decode()
    channel.refresh_from_db()
    assert channel.app_secret


def test_admin_adds_a_channel_and_normalizes_its_number(staff_client, organization):
    form = {
        "organization": organization.id,
        "name": "Front desk",
        "display_phone_number": "+1 415 555 0100",
        "window_policy": "",
        "is_active": "on",
        "signing_key": "c2lnbmluZw==",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }

    response = staff_client.post("/admin/tenants/channel/add/?provider=openphone", form)

    assert response.status_code == 302
    channel = Channel.objects.get(name="Front desk")
    assert channel.provider == "openphone"  # the first step's choice
    assert (channel.display_phone_number, channel.signing_key) == ("+14155550100", "c2lnbmluZw==")
    assert channel.window_policy == "always_open"  # SMS has no customer-service window


def test_deactivate_action_reports_what_it_did(staff_client, organization):
    channels = ChannelFactory.create_batch(2, organization=organization)
    channels[1].is_active = False
    channels[1].save()

    response = staff_client.post(
        "/admin/tenants/channel/",
        {"action": "deactivate", "_selected_action": [c.id for c in channels]},
        follow=True,
    )

    assert "1 channel(s) deactivated; 1 already were." in response.content.decode()
    assert not Channel.objects.filter(is_active=True).exists()


def test_organization_page_shows_members_inline(staff_client, organization):
    membership = MembershipFactory(organization=organization, role="viewer")

    page = staff_client.get(f"/admin/tenants/organization/{organization.id}/change/")

    assert page.status_code == 200
    assert membership.user.username in page.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/tenants/organization/",
        "/admin/tenants/channel/add/",
        "/admin/django_celery_beat/periodictask/",
        "/admin/django_celery_beat/crontabschedule/",
        "/admin/django_celery_results/taskresult/",
    ],
)
def test_admin_screens_load(staff_client, url):
    assert staff_client.get(url).status_code == 200
