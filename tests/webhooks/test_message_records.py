"""Real payloads become the right records: thread order, echoes, readable text,
unhandled fields made visible, one consistent record of a late failure."""

import json
import random
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from conversations.models import Contact, Conversation, Message
from providers import Provider
from tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.webhooks.delivery import fixture_text
from tests.webhooks.test_processing import _outbound
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

T0 = 1749416383  # text.json's timestamp


def _api(organization) -> APIClient:
    client = APIClient()
    client.force_authenticate(MembershipFactory(organization=organization, role=Role.VIEWER).user)
    return client


def _texts_at(whatsapp, client, timestamps: list[int]) -> None:
    """One customer text per timestamp, delivered in the given order."""
    for n, at in enumerate(timestamps):
        payload = (
            fixture_text(Provider.WHATSAPP_CLOUD, "text")
            .replace("MTQ0RgA=", f"SHUF{n:04d}")
            .replace(str(T0), str(at))
            .replace("Does it come in another color?", f"written at {at}")
        )
        whatsapp.deliver_text(client, payload)


# --- order ------------------------------------------------------------------------


def test_shuffled_deliveries_read_in_the_order_they_were_written(client, whatsapp, webhook_org):
    written = [T0 + 60 * n for n in range(12)]
    arrival = written[:]
    random.Random(12).shuffle(arrival)  # noqa: S311 - a fixed shuffle, not a secret
    _texts_at(whatsapp, client, arrival)
    conversation = Conversation.objects.get()
    url = f"/api/v1/conversations/{conversation.id}/messages"

    oldest = _api(webhook_org).get(url, {"order": "oldest", "page_size": 5})
    newest = _api(webhook_org).get(url).json()["results"]

    assert [m["text"] for m in oldest.json()["results"]] == [f"written at {t}" for t in written[:5]]
    assert [m["text"] for m in newest] == [f"written at {t}" for t in reversed(written)]
    assert conversation.last_message_preview == f"written at {written[-1]}"


def test_messages_written_in_the_same_second_keep_one_order(client, whatsapp, webhook_org):
    _texts_at(whatsapp, client, [T0 + 5, T0, T0, T0])
    conversation = Conversation.objects.get()
    url = f"/api/v1/conversations/{conversation.id}/messages"

    pages = [_api(webhook_org).get(url, {"order": "oldest"}).json() for _ in range(2)]

    ids = [m["id"] for m in pages[0]["results"]]
    assert ids == [m["id"] for m in pages[1]["results"]]  # stable: ties broken by id
    assert ids[-1] == Message.objects.get(provider_timestamp=datetime.fromtimestamp(T0 + 5, UTC)).id
    assert ids[:3] == sorted(ids[:3])
    # and a page boundary inside the tie neither repeats nor skips a message
    api, walked, page_url = _api(webhook_org), [], url
    params = {"order": "oldest", "page_size": 2}
    while page_url:
        page = api.get(page_url, params).json()
        walked += [m["id"] for m in page["results"]]
        page_url, params = page["next"], None
    assert walked == ids


def test_the_admin_shows_the_thread_in_the_order_it_was_written(client, whatsapp):
    _texts_at(whatsapp, client, [T0 + 120, T0, T0 + 60])
    conversation = Conversation.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/conversations/conversation/{conversation.id}/change/")

    html = page.content.decode().split('id="thread"')[1]  # the thread, not the preview
    positions = [html.index(f"written at {t}") for t in (T0, T0 + 60, T0 + 120)]
    assert positions == sorted(positions)  # as a conversation reads: oldest written first


# --- echoes (coexistence) -----------------------------------------------------------


def test_an_echo_from_the_business_app_is_an_outbound_message(client, whatsapp):
    whatsapp.deliver(client, "smb_message_echoes")

    message = Message.objects.get()
    assert (message.direction, message.status, message.type) == ("outbound", "sent", "text")
    assert message.text == "Yes, it also comes in blue and green."
    assert message.sent_at == datetime.fromtimestamp(1749416450, tz=UTC)
    conversation = message.conversation
    assert conversation.contact.phone == "+16505551234"  # whom it went to
    assert conversation.unread_count == 0
    assert conversation.last_user_message_at is None  # our own message opens no window
    assert conversation.last_message_preview == "Yes, it also comes in blue and green."
    assert WebhookEvent.objects.get().result == {"created": 1}


def test_an_echo_and_the_customer_share_one_conversation(client, whatsapp):
    whatsapp.deliver(client, "text")
    whatsapp.deliver(client, "smb_message_echoes")

    assert Conversation.objects.count() == 1
    assert Contact.objects.count() == 1
    assert sorted(Message.objects.values_list("direction", flat=True)) == ["inbound", "outbound"]


# --- fields we do not handle ------------------------------------------------------


def test_an_unhandled_field_is_recorded_by_name_and_found_in_the_admin(client, whatsapp):
    whatsapp.deliver(client, "history")

    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.PROCESSED
    assert event.result == {"unsupported:history": 1}
    assert "unsupported:history" in event.refs
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/webhooks/webhookevent/", {"q": "unsupported:history"})
    assert page.status_code == 200
    assert "unsupported:history 1" in page.content.decode()
    assert f"/admin/webhooks/webhookevent/{event.id}/change/" in page.content.decode()


# --- readable text ----------------------------------------------------------------

READABLE = {
    "location": "Meta Headquarters, 1 Hacker Way, Menlo Park, CA 94025",
    "contacts": "Contact: Barbara J. Johnson",
    "order": "Order: 3 items, 2 products (85.00 USD). Please deliver before Friday",
    "interactive_button_reply": "Change date",
    "interactive_list_reply": "Express shipping",
    "button": "Stop promotions",
}


@pytest.mark.parametrize("name", list(READABLE))
def test_every_kind_of_message_has_a_readable_text(client, whatsapp, name):
    whatsapp.deliver(client, name)

    message = Message.objects.get()
    assert message.text == READABLE[name]
    assert message.payload  # the structured content is kept
    assert Conversation.objects.get().last_message_preview == READABLE[name]
    assert Message.objects.filter(text__icontains=READABLE[name].split()[-1]).exists()  # search


def test_a_twilio_location_has_a_readable_text(client, endpoints):
    twilio = endpoints[Provider.TWILIO]
    fields = json.loads(fixture_text(Provider.TWILIO, "inbound_whatsapp"))
    for key in ("ButtonText", "ButtonPayload"):
        fields.pop(key)
    fields |= {
        "Body": "",
        "MessageType": "location",
        "Latitude": "37.4847",
        "Longitude": "-122.1473",
        "Address": "1 Hacker Way, Menlo Park",
        "Label": "Meta HQ",
    }

    twilio.deliver_text(client, json.dumps(fields))

    message = Message.objects.get()
    assert (message.type, message.text) == ("location", "Meta HQ, 1 Hacker Way, Menlo Park")


# --- a failure reported after the message was read ---------------------------------

OUT = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQUZERjg0NDEzNDdFODU3MUMxMAA="  # status_read.json's


def _failed() -> str:
    failed = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "status_failed"))
    failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = OUT
    return json.dumps(failed)


@pytest.mark.parametrize(
    "failure_first", [False, True], ids=["read-then-failed", "failed-then-read"]
)
def test_a_failure_around_a_read_is_one_consistent_record(
    client, whatsapp, webhook_org, failure_first
):
    message = _outbound(whatsapp.channel, OUT)
    read = fixture_text(Provider.WHATSAPP_CLOUD, "status_read")
    for payload in [_failed(), read] if failure_first else [read, _failed()]:
        whatsapp.deliver_text(client, payload)

    message.refresh_from_db()
    assert message.status == "read"
    assert message.read_at == datetime.fromtimestamp(1750030214, tz=UTC)
    # no failed-looking fields on a read message, and no empty code either
    assert (message.failed_at, message.error_code, message.error_title) == (None, "", "")
    assert "errors" not in message.status_details
    # what Meta reported is not lost
    [failure] = message.error_history
    assert failure["code"] == "131049"
    shown = _api(webhook_org).get(f"/api/v1/conversations/{message.conversation_id}/messages")
    assert shown.json()["results"][0]["error_history"][0]["code"] == "131049"


def test_a_failure_before_any_delivery_still_fails_the_message(client, whatsapp):
    message = _outbound(whatsapp.channel, OUT)

    whatsapp.deliver_text(client, _failed())

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "131049")
    assert message.failed_at == datetime.fromtimestamp(1751142888, tz=UTC)
    assert [f["code"] for f in message.error_history] == ["131049"]
