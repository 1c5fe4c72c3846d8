"""What the channel API shows of a channel, to whom, and that it matches the schema."""

from urllib.parse import urlsplit

import pytest
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator

from providers import Provider
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def _twilio_channel(organization):
    return ChannelFactory(
        organization=organization,
        provider=Provider.TWILIO,
        phone_number_id="",
        waba_id="",
        app_secret="",
        auth_token="twilio-token",
    )


@pytest.mark.parametrize("client_fixture", ["viewer_client", "agent_client"])
def test_the_verify_token_is_hidden_from_everyone_but_admins(request, client_fixture, channel):
    client = request.getfixturevalue(client_fixture)

    detail = client.get(f"/api/v1/channels/{channel.id}/").json()
    listed = client.get("/api/v1/channels/").json()["results"][0]

    assert detail["verify_token"] is None
    assert listed["verify_token"] is None
    assert channel.verify_token not in client.get("/api/v1/channels/").content.decode()


def test_an_admin_sees_the_verify_token_of_a_whatsapp_channel(admin_client, channel):
    detail = admin_client.get(f"/api/v1/channels/{channel.id}/").json()
    listed = admin_client.get("/api/v1/channels/").json()["results"][0]

    assert detail["verify_token"] == listed["verify_token"] == channel.verify_token


def test_channels_of_other_providers_have_no_verify_token(admin_client, organization):
    sms = _twilio_channel(organization)

    detail = admin_client.get(f"/api/v1/channels/{sms.id}/").json()

    assert detail["verify_token"] is None


def test_an_unset_api_base_url_is_null(admin_client, organization):
    sms = _twilio_channel(organization)

    detail = admin_client.get(f"/api/v1/channels/{sms.id}/").json()

    assert detail["api_base_url"] is None


def test_every_channel_answer_matches_the_schema(admin_client, viewer_client, organization):
    """Both roles, a channel with and one without an API base URL: each answer
    validates against the published Channel schema, `format: uri` included."""
    _twilio_channel(organization)
    ChannelFactory(
        organization=organization,
        provider=Provider.UNIPILE,
        phone_number_id="",
        api_base_url="https://api1.unipile.com:13111",
        shared_secret="s",
    )
    ChannelFactory(organization=organization)
    schema = admin_client.get("/api/v1/schema/?format=json").json()
    validator = OAS30Validator(
        {"$ref": "#/components/schemas/Channel", "components": schema["components"]},
        format_checker=_uri_checker(),
    )

    answers = [
        item
        for client in (admin_client, viewer_client)
        for item in client.get("/api/v1/channels/").json()["results"]
    ]

    assert len(answers) == 6
    for answer in answers:
        errors = [error.message for error in validator.iter_errors(answer)]
        assert errors == [], answer


def _uri_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("uri")
    def is_uri(value) -> bool:
        if not isinstance(value, str):
            return True  # other types are the `type` keyword's business
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc)

    return checker
