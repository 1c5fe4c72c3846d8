import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings

from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "access_token": "EAAG-plaintext-access-token",
    "app_secret": "plaintext-app-secret",
    "signing_key": "plaintext-signing-key",
    "auth_token": "plaintext-auth-token",
    "shared_secret": "plaintext-shared-secret",
}


@pytest.fixture
def secret_channel(organization):
    return ChannelFactory(organization=organization, **SECRETS)


def _raw_columns(channel_id: int) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(SECRETS)} FROM tenants_channel WHERE id = %s",  # noqa: S608
            [channel_id],
        )
        return dict(zip(SECRETS, cursor.fetchone(), strict=True))


def test_database_column_holds_ciphertext_not_the_secret(secret_channel):
    stored = _raw_columns(secret_channel.id)

    for name, plaintext in SECRETS.items():
        assert plaintext not in stored[name]
        assert stored[name].startswith("gAAAA")  # a Fernet token
    secret_channel.refresh_from_db()
    assert secret_channel.app_secret == SECRETS["app_secret"]


def test_secrets_survive_key_rotation(secret_channel, settings):
    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), *old_keys]

    secret_channel.refresh_from_db()
    assert secret_channel.auth_token == SECRETS["auth_token"]
    secret_channel.save()  # re-encrypted with the new first key

    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY[:1]
    secret_channel.refresh_from_db()
    assert secret_channel.auth_token == SECRETS["auth_token"]


def test_api_never_returns_secrets(admin_client, secret_channel):
    listing = admin_client.get("/api/v1/channels/").content.decode()
    detail = admin_client.get(f"/api/v1/channels/{secret_channel.id}/").content.decode()

    for plaintext in SECRETS.values():
        assert plaintext not in listing
        assert plaintext not in detail
    assert admin_client.get(f"/api/v1/channels/{secret_channel.id}/").json()["secrets_set"] == [
        "access_token",
        "app_secret",
        "signing_key",
        "auth_token",
        "shared_secret",
    ]


@override_settings(PUBLIC_BASE_URL="https://switchboard.example.com")
def test_admin_pages_never_render_secrets(client, secret_channel):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    pages = [
        client.get(f"/admin/tenants/channel/{secret_channel.id}/change/"),
        client.get("/admin/tenants/channel/"),
        client.get(f"/admin/tenants/organization/{secret_channel.organization_id}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        for plaintext in SECRETS.values():
            assert plaintext not in page.content.decode()
    change_page = pages[0].content.decode()
    assert "https://switchboard.example.com/webhooks/whatsapp/" in change_page
    assert secret_channel.verify_token in change_page
