import json
from urllib.parse import urlencode

import psycopg
import pytest
from django.db import connection

from providers import Provider
from tests import markers, worker
from tests.factories import OrganizationFactory
from tests.signers import twilio as twilio_signer
from tests.signers import whatsapp_cloud
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import SECRETS, fixture_text
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

# Preparing the store statement and replacing a dead connection under it happen only on
# PostgreSQL; the embedded SQLite setup stores through Django's cursor. CI runs these:
# it refuses to start without PostgreSQL (tests/conftest.py).
postgresql_only = markers.postgresql_only(
    "on SQLite webhooks are stored through Django's own cursor, with nothing prepared "
    "and no connection to lose"
)


def _post_whatsapp(client, body: bytes, secret: str = SECRETS[Provider.WHATSAPP_CLOUD]):
    return client.post(
        "/webhooks/whatsapp/",
        data=body,
        content_type="application/json",
        headers=whatsapp_cloud.sign(body, secret),
    )


def test_twilio_gets_an_empty_twiml_answer(client, endpoints):
    twilio = endpoints[Provider.TWILIO]

    response = twilio.post(client, *twilio.request("inbound_sms"))

    assert response["Content-Type"] == "text/xml"
    assert response.content.decode().endswith("<Response></Response>")


def test_stored_event_keeps_the_raw_body_and_the_headers_that_matter(client, whatsapp):
    body, content_type, headers = whatsapp.request("text")

    whatsapp.post(client, body, content_type, headers)

    event = WebhookEvent.objects.get()
    assert event.body_bytes == body
    assert event.headers["x-hub-signature-256"] == headers["X-Hub-Signature-256"]
    assert "cookie" not in event.headers
    assert (event.organization, event.status) == (whatsapp.channel.organization, "received")
    assert event.next_attempt_at > event.received_at  # the lease, in case the task is lost


def test_whatsapp_handshake_echoes_the_challenge(client, whatsapp):
    response = client.get(
        "/webhooks/whatsapp/",
        {
            "hub.mode": "subscribe",
            "hub.verify_token": whatsapp.channel.verify_token,
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        # A NUL byte reached PostgreSQL as a DataError (a 500).
        {"hub.mode": "subscribe", "hub.verify_token": "a\x00b", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.challenge": "1"},
        {},
    ],
)
def test_whatsapp_handshake_with_a_wrong_token_is_403(client, whatsapp, params):
    assert client.get("/webhooks/whatsapp/", params).status_code == 403


@pytest.mark.parametrize("key", ["a%00b", "%00", "k%C2%B2", "a.b"])
def test_a_channel_key_that_cannot_be_one_is_a_404(client, endpoints, key):
    client.raise_request_exception = False  # what the provider would get
    response = client.post(f"/webhooks/openphone/{key}/", b"{}", content_type="application/json")

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_whatsapp_routes_by_phone_number_id_across_tenants(client, whatsapp):
    other = make_channel(
        OrganizationFactory(),
        Provider.WHATSAPP_CLOUD,
        phone_number_id="999000111",
        app_secret=SECRETS[Provider.WHATSAPP_CLOUD],  # the same Meta app serves both
    )
    body = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("106540352242922", "999000111")

    _post_whatsapp(client, body.encode())

    assert WebhookEvent.objects.get().channel == other


def test_whatsapp_payload_for_an_unknown_number_is_kept_as_unroutable(client, whatsapp):
    body = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("106540352242922", "555")

    response = _post_whatsapp(client, body.encode())

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.channel, event.next_attempt_at) == ("unroutable", None, None)


def test_whatsapp_payload_for_an_unknown_number_signed_by_no_one_we_know_is_401(client, whatsapp):
    body = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("106540352242922", "555")

    assert _post_whatsapp(client, body.encode(), secret="stranger").status_code == 401
    assert not WebhookEvent.objects.exists()


def test_signed_but_unreadable_body_is_stored_and_lands_in_the_failed_queue(
    client, whatsapp, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_whatsapp(client, b'{"object": "whatsapp_business_account", "entr')

    assert response.status_code == 200  # acknowledged: Meta must not retry it for a week
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert event.next_attempt_at is None  # the same bytes would fail the same way
    assert event.last_error.startswith("Unreadable payload")
    assert event.channel == whatsapp.channel
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("provider", [Provider.OPENPHONE, Provider.TWILIO, Provider.UNIPILE])
def test_unknown_channel_key_is_404_and_nothing_stored(client, endpoints, provider):
    response = client.post(f"/webhooks/{provider.value}/no-such-key/", data={})

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()


def test_wrong_method_is_405(client, endpoints):
    twilio = endpoints[Provider.TWILIO]

    assert client.get(twilio.path).status_code == 405
    assert client.put("/webhooks/whatsapp/").status_code == 405


def test_body_over_five_megabytes_is_413(client, whatsapp):
    padding = "x" * (5 * 1024 * 1024)
    body = json.dumps({"object": "whatsapp_business_account", "entry": [], "pad": padding})

    response = _post_whatsapp(client, body.encode())

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_twilio_behind_a_proxy_is_verified_against_the_public_url(client, endpoints, settings):
    settings.PUBLIC_BASE_URL = "https://switchboard.example.com"
    twilio = endpoints[Provider.TWILIO]
    public_url = f"https://switchboard.example.com{twilio.path}"
    params = json.loads(fixture_text(Provider.TWILIO, "inbound_sms"))
    body = urlencode(params).encode()
    headers = twilio_signer.sign(public_url, params, SECRETS[Provider.TWILIO])

    # The request reaches Django as http://testserver/... (TLS ended at the proxy).
    response = twilio.post(client, body, "application/x-www-form-urlencoded", headers)

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_twilio_signed_for_another_url_is_refused(client, endpoints, settings):
    settings.PUBLIC_BASE_URL = "https://switchboard.example.com"
    twilio = endpoints[Provider.TWILIO]
    params = json.loads(fixture_text(Provider.TWILIO, "inbound_sms"))
    body = urlencode(params).encode()
    headers = twilio_signer.sign(
        f"https://evil.example.com{twilio.path}", params, SECRETS[Provider.TWILIO]
    )

    response = twilio.post(client, body, "application/x-www-form-urlencoded", headers)

    assert response.status_code == 401


@postgresql_only
def test_the_store_statement_is_prepared_once_per_connection(client, whatsapp):
    for n in range(6):  # psycopg prepares a statement on its fifth run
        body = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("wamid.", f"wamid.{n}.")
        assert _post_whatsapp(client, body.encode()).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert WebhookEvent.objects.count() == 6
    assert any("INSERT INTO webhooks_webhookevent" in statement for statement in prepared)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_is_replaced_and_the_webhook_stored(client, whatsapp):
    # The store skips Django's health-check query; a dead connection is found by the
    # INSERT itself, which is then run again on a new one.
    assert whatsapp.post(client, *whatsapp.request("text")).status_code == 200
    with psycopg.connect(worker.test_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    body = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("wamid.", "wamid.AFTER.")
    response = _post_whatsapp(client, body.encode())

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 2
