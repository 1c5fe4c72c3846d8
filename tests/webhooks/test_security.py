"""One set of security tests, run against every provider's webhook endpoint."""

from datetime import UTC, datetime, timedelta

import pytest

from providers import Provider
from tenants import services
from tenants.models import WEBHOOK_SECRET_FIELD, Channel
from tests.signers import openphone
from tests.webhooks.delivery import INBOUND_TEXT, fixture_text
from webhooks.metrics import webhook_refused_today
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def _signed(endpoint, **signing):
    return endpoint.request(INBOUND_TEXT[endpoint.provider], **signing)


def test_correctly_signed_webhook_is_stored_and_acknowledged(client, endpoint):
    response = endpoint.post(client, *_signed(endpoint))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().channel == endpoint.channel


def test_missing_signature_is_refused_and_nothing_stored(client, endpoint):
    body, content_type, _ = _signed(endpoint)

    response = endpoint.post(client, body, content_type, headers={})

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert webhook_refused_today(endpoint.provider) >= 1


def test_wrong_secret_is_refused(client, endpoint):
    wrong = "d3Jvbmctc2VjcmV0" if endpoint.provider == Provider.OPENPHONE else "wrong-secret"

    response = endpoint.post(client, *_signed(endpoint, secret=wrong))

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_tampered_body_is_refused(client, endpoint):
    body, content_type, headers = _signed(endpoint)
    tampered = body.replace(b"e", b"3", 1)

    response = endpoint.post(client, tampered, content_type, headers)

    # Unipile signs nothing: its shared secret authenticates the sender, not the body.
    expected = 200 if endpoint.provider == Provider.UNIPILE else 401
    assert response.status_code == expected


def test_rotated_secret_refuses_the_old_one_and_accepts_the_new(client, endpoint):
    old_headers = _signed(endpoint)[2]
    new_secret = "bmV3LXNpZ25pbmcta2V5" if endpoint.provider == Provider.OPENPHONE else "rotated"
    services.channel_update(
        channel=endpoint.channel, **{WEBHOOK_SECRET_FIELD[endpoint.provider]: new_secret}
    )
    body, content_type, new_headers = _signed(endpoint, secret=new_secret)

    with_old = endpoint.post(client, body, content_type, old_headers)
    with_new = endpoint.post(client, body, content_type, new_headers)

    assert (with_old.status_code, with_new.status_code) == (401, 200)


def test_secret_rotated_by_another_process_is_used_at_once(client, endpoint):
    """A web process remembers routes for a while; a secret changed elsewhere (no
    signal reaches this process) must still be accepted on the first webhook."""
    assert endpoint.post(client, *_signed(endpoint)).status_code == 200  # now remembered
    new_secret = "bmV3LXNpZ25pbmcta2V5" if endpoint.provider == Provider.OPENPHONE else "rotated"
    field = WEBHOOK_SECRET_FIELD[endpoint.provider]
    Channel.objects.filter(pk=endpoint.channel.pk).update(**{field: new_secret})  # no signal

    response = endpoint.post(client, *_signed(endpoint, secret=new_secret))

    assert response.status_code == 200


def test_a_replayed_request_is_one_stored_event(client, endpoint):
    request = _signed(endpoint)

    first = endpoint.post(client, *request)
    again = endpoint.post(client, *request)

    assert (first.status_code, again.status_code) == (200, 200)
    assert WebhookEvent.objects.count() == 1


def test_channel_without_a_secret_refuses_everything(client, endpoint):
    endpoint.channel.__class__.objects.filter(pk=endpoint.channel.pk).update(
        **{WEBHOOK_SECRET_FIELD[endpoint.provider]: ""}
    )

    response = endpoint.post(client, *_signed(endpoint))

    assert response.status_code == 401


@pytest.mark.parametrize("scheme", ["legacy", "standard"])
def test_stale_signature_is_refused(client, endpoints, scheme):
    endpoint = endpoints[Provider.OPENPHONE]
    body = fixture_text(Provider.OPENPHONE, "message_received").encode()
    six_minutes_ago = datetime.now(UTC) - timedelta(minutes=6)
    secret = endpoint.channel.signing_key
    headers = (
        openphone.sign(body, secret, at=six_minutes_ago)
        if scheme == "legacy"
        else openphone.sign_standard(body, _whsec(secret), at=six_minutes_ago)
    )

    response = endpoint.post(client, body, "application/json", headers)

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_standard_webhooks_signature_is_accepted(client, endpoints):
    endpoint = endpoints[Provider.OPENPHONE]
    body = fixture_text(Provider.OPENPHONE, "message_received").encode()
    headers = openphone.sign_standard(body, _whsec(endpoint.channel.signing_key))

    assert endpoint.post(client, body, "application/json", headers).status_code == 200


def _whsec(secret: str) -> str:
    return secret if secret.startswith("whsec_") else f"whsec_{secret}"
