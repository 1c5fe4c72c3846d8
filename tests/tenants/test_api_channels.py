import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tenants.models import Channel
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory
from tests.meta_numbers import meta_reads_numbers

pytestmark = pytest.mark.django_db

NEW_TWILIO_CHANNEL = {
    "provider": "twilio",
    "name": "Support SMS",
    "display_phone_number": "+1 (415) 555-0199",
    "account_id": "AC11111111111111111111111111111111",
    "auth_token": "twilio-secret-token",
}


def test_viewer_lists_only_their_organizations_channels(viewer_client, organization):
    mine = ChannelFactory(organization=organization)
    ChannelFactory(organization=OrganizationFactory())

    response = viewer_client.get("/api/v1/channels/")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [mine.id]


def test_another_organizations_channel_is_not_found(admin_client):
    theirs = ChannelFactory(organization=OrganizationFactory())

    response = admin_client.get(f"/api/v1/channels/{theirs.id}/")

    assert response.status_code == 404
    assert response.json() == {"code": "NOT_FOUND", "message": "Not found.", "details": {}}


def test_another_organizations_channel_cannot_be_changed(admin_client):
    theirs = ChannelFactory(organization=OrganizationFactory(), name="Theirs")

    response = admin_client.patch(f"/api/v1/channels/{theirs.id}/", {"name": "Mine now"})
    deactivate = admin_client.post(f"/api/v1/channels/{theirs.id}/deactivate/")

    assert (response.status_code, deactivate.status_code) == (404, 404)
    theirs.refresh_from_db()
    assert (theirs.name, theirs.is_active) == ("Theirs", True)


def test_anonymous_call_is_401_in_the_error_format(anonymous_client):
    response = anonymous_client.get("/api/v1/channels/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert set(response.json()) == {"code", "message", "details"}


def test_bad_token_is_401(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anonymous_client.get("/api/v1/channels/")

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_token_authentication_works(organization):
    membership = MembershipFactory(organization=organization, role="viewer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=membership.user)}")

    assert client.get("/api/v1/channels/").status_code == 200


@pytest.mark.parametrize("client_fixture", ["viewer_client", "agent_client"])
def test_non_admins_cannot_write_channels(request, client_fixture, channel):
    client = request.getfixturevalue(client_fixture)

    responses = [
        client.post("/api/v1/channels/", NEW_TWILIO_CHANNEL),
        client.patch(f"/api/v1/channels/{channel.id}/", {"name": "x"}),
        client.post(f"/api/v1/channels/{channel.id}/deactivate/"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert {r.json()["code"] for r in responses} == {"PERMISSION_DENIED"}
    assert Channel.objects.count() == 1


def test_admin_creates_a_channel_with_normalized_number_and_hidden_secret(admin_client):
    response = admin_client.post("/api/v1/channels/", NEW_TWILIO_CHANNEL)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["display_phone_number"] == "+14155550199"
    assert body["secrets_set"] == ["auth_token"]
    assert body["window_policy"] == "always_open"
    assert body["webhook_url"].endswith(f"/webhooks/twilio/{body['key']}/")
    assert "twilio-secret-token" not in response.content.decode()
    assert Channel.objects.get(id=body["id"]).auth_token == "twilio-secret-token"


def test_whatsapp_channel_defaults_to_meta_window_rule_and_shared_webhook_url(admin_client):
    with meta_reads_numbers():
        response = admin_client.post(
            "/api/v1/channels/",
            {
                "provider": "whatsapp_cloud",
                "name": "Sales WhatsApp",
                "phone_number_id": "106540352242922",
                "access_token": "meta-access-token",
                "app_secret": "meta-app-secret",
            },
        )

    assert response.status_code == 201, response.json()
    assert response.json()["window_policy"] == "meta"
    assert response.json()["webhook_url"].endswith("/webhooks/whatsapp/")
    assert response.json()["verify_token"]


def test_create_without_what_the_provider_needs_is_a_field_level_400(admin_client):
    response = admin_client.post(
        "/api/v1/channels/", {"provider": "whatsapp_cloud", "name": "No ids"}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert set(body["details"]) == {"phone_number_id", "app_secret"}
    assert body["details"]["app_secret"][0]["code"] == "required"


def test_create_with_bad_fields_is_a_field_level_400(admin_client):
    response = admin_client.post(
        "/api/v1/channels/", {"provider": "carrier-pigeon", "display_phone_number": "12"}
    )

    assert response.status_code == 400
    details = response.json()["details"]
    assert details["provider"][0]["code"] == "invalid_choice"
    assert details["name"][0]["code"] == "required"


def test_invalid_phone_number_is_rejected(admin_client):
    response = admin_client.post(
        "/api/v1/channels/", {**NEW_TWILIO_CHANNEL, "display_phone_number": "not a number"}
    )

    assert response.status_code == 400
    assert "display_phone_number" in response.json()["details"]


def test_duplicate_whatsapp_phone_number_id_is_refused(admin_client, channel):
    """Even with a token Meta lets read the number (who can is told it is in use)."""
    with meta_reads_numbers():
        response = admin_client.post(
            "/api/v1/channels/",
            {
                "provider": "whatsapp_cloud",
                "name": "Copy",
                "phone_number_id": channel.phone_number_id,
                "access_token": "a-token-that-reads-it",
                "app_secret": "x",
            },
        )

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["phone_number_id"][0]["code"] == "unique"
    assert Channel.objects.count() == 1


def test_update_keeps_secrets_not_sent_and_clears_an_empty_one(admin_client, channel):
    response = admin_client.patch(
        f"/api/v1/channels/{channel.id}/", {"name": "Renamed", "access_token": ""}
    )

    assert response.status_code == 200, response.json()
    channel.refresh_from_db()
    assert channel.name == "Renamed"
    assert channel.access_token == ""
    assert channel.app_secret.startswith("test-app-secret")


def test_admin_deactivates_and_reactivates(admin_client, channel):
    off = admin_client.post(f"/api/v1/channels/{channel.id}/deactivate/")
    on = admin_client.post(f"/api/v1/channels/{channel.id}/activate/")

    assert (off.json()["is_active"], on.json()["is_active"]) == (False, True)


def test_channels_are_cursor_paginated(viewer_client, organization):
    ChannelFactory.create_batch(3, organization=organization)

    first = viewer_client.get("/api/v1/channels/?page_size=2").json()
    second = viewer_client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert "cursor=" in first["next"]
    assert len(second["results"]) == 1
    assert {c["id"] for c in first["results"]}.isdisjoint(c["id"] for c in second["results"])


def test_channels_filter_by_provider(viewer_client, organization):
    ChannelFactory(organization=organization)
    sms = ChannelFactory(
        organization=organization, provider="twilio", phone_number_id="", auth_token="t"
    )

    response = viewer_client.get("/api/v1/channels/?provider=twilio")

    assert [c["id"] for c in response.json()["results"]] == [sms.id]


def test_the_trailing_slash_is_optional_for_reads_and_actions(admin_client, organization):
    channel = ChannelFactory(organization=organization)

    read = admin_client.get(f"/api/v1/channels/{channel.id}")
    action = admin_client.post(f"/api/v1/channels/{channel.id}/deactivate")

    assert (read.status_code, action.status_code) == (200, 200)
    assert action.json()["is_active"] is False
