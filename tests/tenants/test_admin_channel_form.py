"""A channel's admin pages: each provider's own fields, its name read well everywhere."""

import re

import pytest

from providers import Provider
from tenants.models import Channel
from tests.factories import ChannelFactory, ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db
ADD = "/admin/tenants/channel/add/"
ACCOUNT_AND_SECRETS = {
    "display_phone_number",
    "phone_number_id",
    "waba_id",
    "account_id",
    "account_user_id",
    "api_base_url",
    "window_policy",
    "access_token",
    "app_secret",
    "signing_key",
    "auth_token",
    "shared_secret",
}


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _inputs(page) -> set[str]:
    """The provider fields the page lets one type into."""
    assert page.status_code == 200
    names = set(
        re.findall(r'<(?:input|select|textarea)[^>]* name="([^"]+)"', page.content.decode())
    )
    return names & ACCOUNT_AND_SECRETS


def _change(channel: Channel) -> str:
    return f"/admin/tenants/channel/{channel.pk}/change/"


def test_a_channel_reads_as_its_name_and_the_providers_short_name(organization):
    assert str(ChannelFactory(name="Front desk")) == "Front desk · WhatsApp"
    assert str(ChannelFactory(name="Sales", provider=Provider.UNIPILE)) == "Sales · LinkedIn"


def test_the_conversation_list_names_channels_without_nested_brackets(staff_client, organization):
    channel = ChannelFactory(organization=organization, name="Demo WhatsApp")
    ConversationFactory(organization=organization, channel=channel)

    page = staff_client.get("/admin/conversations/conversation/").content.decode()

    assert "Demo WhatsApp · WhatsApp" in page  # the channel filter's choice
    assert "(WhatsApp (Meta Cloud API))" not in page


def test_a_whatsapp_channel_shows_only_whatsapp_fields(staff_client, channel):
    page = staff_client.get(_change(channel))

    assert _inputs(page) == {
        *("display_phone_number", "phone_number_id", "waba_id", "window_policy"),
        *("access_token", "app_secret"),
    }
    assert 'name="provider"' not in page.content.decode()  # fixed once saved


@pytest.mark.parametrize(
    ("provider", "fields"),
    [
        (
            Provider.OPENPHONE,
            {"display_phone_number", "phone_number_id", "access_token", "signing_key"},
        ),
        (Provider.TWILIO, {"display_phone_number", "account_id", "auth_token"}),
        (
            Provider.UNIPILE,
            {"account_id", "account_user_id", "api_base_url", "access_token", "shared_secret"},
        ),
    ],
)
def test_each_provider_shows_its_own_fields(staff_client, organization, provider, fields):
    channel = ChannelFactory(organization=organization, provider=provider, phone_number_id="")

    added = _inputs(staff_client.get(ADD, {"provider": provider.value}))
    changed = _inputs(staff_client.get(_change(channel)))

    assert added == changed == {*fields, "window_policy"}


def test_adding_a_channel_starts_with_its_provider(staff_client):
    page = staff_client.get(ADD)

    assert _inputs(page) == set()
    text = page.content.decode()
    for provider in Provider:
        assert f'href="?provider={provider.value}"' in text
    assert "Account SID, Auth token" in text  # what Twilio's form will ask for


def test_a_channel_added_with_its_providers_form_is_of_that_provider(staff_client, organization):
    form = {
        "organization": organization.id,
        "name": "Front desk",
        "display_phone_number": "+1 415 555 0100",
        "account_id": "AC00000000000000000000000000000042",
        "window_policy": "",
        "is_active": "on",
        "auth_token": "twilio-auth-token",
        "app_secret": "not-twilios",  # another provider's: no such box, not saved
    }

    response = staff_client.post(f"{ADD}?provider=twilio", form)

    assert response.status_code == 302
    channel = Channel.objects.get(name="Front desk")
    assert (channel.provider, channel.auth_token, channel.app_secret) == (
        "twilio",
        "twilio-auth-token",
        "",
    )


def test_another_providers_field_is_not_saved_and_the_provider_not_changed(staff_client, channel):
    form = {
        "organization": channel.organization_id,
        "provider": "twilio",
        "name": channel.name,
        "display_phone_number": channel.display_phone_number,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "window_policy": channel.window_policy,
        "is_active": "on",
        "account_id": "AC00000000000000000000000000000042",
        "signing_key": "not-whatsapps",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }

    response = staff_client.post(_change(channel), form)

    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.provider, channel.account_id, channel.signing_key) == (
        "whatsapp_cloud",
        "",
        "",
    )


def test_a_secret_left_from_another_provider_can_be_cleared(staff_client, organization):
    channel = ChannelFactory(organization=organization, signing_key="left-over-key")
    page = staff_client.get(_change(channel)).content.decode()
    assert 'name="clear_secrets" value="signing_key"' in page
    assert "left-over-key" not in page  # secrets are never rendered back

    form = {
        "organization": organization.id,
        "name": channel.name,
        "display_phone_number": channel.display_phone_number,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "window_policy": channel.window_policy,
        "is_active": "on",
        "clear_secrets": ["signing_key"],
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    assert staff_client.post(_change(channel), form).status_code == 302

    channel.refresh_from_db()
    assert channel.signing_key == ""
    assert channel.app_secret  # its own secrets are kept
