"""Forget a contact: nothing of them is left in any table, and they can start afresh.

The contact writes on WhatsApp and SMS (real webhook processing of the fixtures), we
answer on both (through the send API, the providers faked at the HTTP layer) and their
statuses come back as webhooks; then an admin erases them and every text, JSON and
binary column of every table is searched for their number and name.
"""

import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conversations.erasure import contact_erase, contact_erasure_find, identifier_hash
from conversations.models import (
    Contact,
    ContactErasure,
    ContactIdentity,
    Conversation,
    ConversationNote,
    Message,
    MessageReaction,
    PendingStatusUpdate,
)
from messaging.models import IdempotencyKey
from providers import Provider
from tests.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.messaging.conftest import SEND_URL, WAMID, accepted
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint, fixture_text
from webhooks.models import EventStatus, WebhookEvent
from webhooks.services import webhook_events_replay

pytestmark = pytest.mark.django_db

PHONE = "+16505551234"  # the WhatsApp fixtures' customer
DIGITS = "16505551234"
NAME = "Sheena Nelson"
TWILIO_SID = "AC" + "1" * 32
TWILIO_SEND_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
SMS_OUT_ID = "SM8d7c6b5a4f3e4d2c1b0a9f8e7d6c5b4a"  # status_delivered.json's


def _sms(name: str) -> str:
    """A Twilio fixture with our customer's number instead of the fixture's."""
    return fixture_text(Provider.TWILIO, name).replace("+14155550199", PHONE)


def _send(client, conversation, text: str, key: str):
    return client.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        json.dumps({"text": text}),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


@pytest.fixture
def channels(organization):
    whatsapp = make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")
    twilio = make_channel(
        organization,
        Provider.TWILIO,
        account_id=TWILIO_SID,
        display_phone_number="+14155550100",
        window_policy="always_open",
    )
    return Endpoint(Provider.WHATSAPP_CLOUD, whatsapp), Endpoint(Provider.TWILIO, twilio)


@pytest.fixture
def customer(client, agent_client, channels, django_capture_on_commit_callbacks):
    """Sheena wrote on WhatsApp (text, image, a reaction) and SMS; we answered on both
    and the providers told us the answers arrived. Returns her contact."""
    whatsapp, twilio = channels
    for name in ("text", "image", "reaction"):
        assert whatsapp.deliver(client, name).status_code == 200
    assert twilio.deliver_text(client, _sms("inbound_sms")).status_code == 200
    contact = Contact.objects.get(phone=PHONE)
    conversations = {c.channel_id: c for c in contact.conversations.all()}
    assert set(conversations) == {whatsapp.channel.pk, twilio.channel.pk}
    # The fixtures were written in 2025: their window is long closed. She wrote just now.
    Conversation.objects.filter(pk=conversations[whatsapp.channel.pk].pk).update(
        window_expires_at=timezone.now() + timedelta(hours=1), is_window_open=True
    )

    with respx.mock(assert_all_called=True) as providers:
        providers.post(SEND_URL).mock(return_value=accepted(WAMID))
        providers.post(TWILIO_SEND_URL).mock(
            return_value=httpx.Response(201, json={"sid": SMS_OUT_ID, "status": "queued"})
        )
        with django_capture_on_commit_callbacks(execute=True):
            wa = _send(agent_client, conversations[whatsapp.channel.pk], f"Hi {NAME}!", "k-wa")
        with django_capture_on_commit_callbacks(execute=True):
            sms = _send(agent_client, conversations[twilio.channel.pk], f"Call {PHONE}", "k-sms")
    assert (wa.status_code, sms.status_code) == (201, 201)
    for name in ("status_delivered", "status_read"):
        whatsapp.deliver(client, name)
    twilio.deliver_text(client, _sms("status_delivered"))
    assert Message.objects.get(provider_message_id=WAMID).status == "read"
    assert Message.objects.get(provider_message_id=SMS_OUT_ID).status == "delivered"

    ConversationNote.objects.create(
        organization=contact.organization,
        conversation=conversations[twilio.channel.pk],
        text=f"{NAME} asked us to call {PHONE}",
    )
    PendingStatusUpdate.objects.create(  # a status for a message we never saw
        channel=whatsapp.channel,
        provider_message_id="wamid.never-seen",
        event_id="never-seen-delivered",
        status="delivered",
        occurred_at=timezone.now(),
        details={"recipient_id": DIGITS},
    )
    LogEntry.objects.create(  # an agent edited her in the admin: history names her
        user=agent_client.user,
        content_type=ContentType.objects.get_for_model(Contact),
        object_id=str(contact.pk),
        object_repr=str(contact),
        action_flag=CHANGE,
    )
    return contact


def _tables_mentioning(*needles: str) -> dict[str, int]:
    """Every column of every table of ours that holds one of `needles` (any case),
    with how many rows: text, varchar, JSON, tsvector and binary columns alike."""
    found = {}
    with connection.cursor() as cursor:
        columns = _searchable_columns(cursor)
        assert len(columns) > 50  # every table, not a few
        for table, column, value in columns:
            for needle in needles:
                query = f'SELECT count(*) FROM "{table}" WHERE {value} LIKE %s'  # noqa: S608
                cursor.execute(query, [f"%{needle}%"])
                if count := cursor.fetchone()[0]:
                    found[f"{table}.{column} ~ {needle}"] = count
    return found


def _searchable_columns(cursor) -> list[tuple[str, str, str]]:
    """(table, column, the column as lower-case text) for every column that can hold
    text: PostgreSQL's catalog; on SQLite every column of every table, read as text."""
    if connection.vendor != "postgresql":
        return [
            (table, column.name, f'lower(CAST("{column.name}" AS TEXT))')
            for table in connection.introspection.table_names(cursor)
            for column in connection.introspection.get_table_description(cursor, table)
        ]
    cursor.execute(
        """
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type IN (
            'text', 'character varying', 'jsonb', 'json', 'bytea', 'tsvector', 'ARRAY'
        )
        """
    )
    return [
        (table, column, f"lower(encode(\"{column}\", 'escape'))")
        if data_type == "bytea"
        else (table, column, f'lower("{column}"::text)')
        for table, column, data_type in cursor.fetchall()
    ]


def test_an_erased_contact_is_nowhere_in_the_database(customer, admin_client):
    before = _tables_mentioning(DIGITS, "sheena", "nelson")
    assert "webhooks_webhookevent.body ~ 16505551234" in before  # the search does find them
    if connection.vendor == "postgresql":  # the stored full-text document
        assert "conversations_message.search_document ~ sheena" in before
    messages = Message.objects.filter(conversation__contact=customer).count()

    response = admin_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    assert response.status_code == 200, response.json()
    assert response.json()["completed_at"] is not None
    assert response.json()["counts"]["messages"] == messages
    assert response.json()["counts"]["webhook_bodies"] >= 7
    assert response.json()["counts"]["idempotency_answers"] == 2
    assert _tables_mentioning(DIGITS, "sheena", "nelson") == {}


def test_conversations_remain_as_counts_without_personal_data(customer, admin_client):
    counts = {c.pk: c.messages.count() for c in customer.conversations.all()}

    admin_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("", "")
    assert not ContactIdentity.objects.filter(contact=customer).exists()
    assert {c.pk: c.messages.count() for c in customer.conversations.all()} == counts
    assert set(
        Conversation.objects.filter(contact=customer).values_list("last_message_preview", flat=True)
    ) == {""}
    assert not MessageReaction.objects.filter(conversation__contact=customer).exists()
    erased = Message.objects.filter(conversation__contact=customer)
    assert not erased.filter(contents_erased_at=None).exists()
    assert set(erased.values_list("text", flat=True)) == {""}
    assert {m.status for m in erased.filter(direction="outbound")} == {"read", "delivered"}


def test_a_later_message_from_the_same_number_creates_a_new_contact(
    customer, admin_client, client, channels
):
    whatsapp, twilio = channels
    admin_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    whatsapp.deliver(client, "text")  # a byte-identical redelivery: still a no-op
    assert not Contact.objects.exclude(pk=customer.pk).exists()
    later = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("3QTRBNjU5", "3QTRBNjU6")
    whatsapp.deliver_text(client, later.replace("another color", "a bigger size"))
    twilio.deliver_text(client, _sms("inbound_sms").replace("SM0f9e", "SM1f9e"))

    new = Contact.objects.exclude(pk=customer.pk).get()
    assert (new.phone, new.name) == (PHONE, NAME)
    assert new.conversations.count() == 2
    assert not Message.objects.filter(conversation__contact=customer, contents_erased_at=None)


def test_the_audit_record_keeps_only_a_keyed_hash(customer, admin_client):
    admin_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    erasure = ContactErasure.objects.get()
    assert erasure.identifier_kind == "phone"
    assert erasure.identifier_hash == identifier_hash(PHONE) != identifier_hash(DIGITS)
    assert len(erasure.identifier_hash) == 64
    assert DIGITS not in erasure.identifier_hash
    assert erasure.pending_identifiers == ""
    assert erasure.requested_by == admin_client.user
    assert erasure.source == "api"
    assert (
        contact_erasure_find(organization=customer.organization, identifier="(650) 555-1234") == []
    )
    assert contact_erasure_find(
        organization=customer.organization, identifier="+1 650 555 1234"
    ) == [erasure]


def test_asking_again_returns_the_same_record(customer, admin_client):
    first = admin_client.post(f"/api/v1/contacts/{customer.pk}/erase").json()
    again = admin_client.post(f"/api/v1/contacts/{customer.pk}/erase").json()

    assert again == first
    assert ContactErasure.objects.count() == 1


def test_an_interrupted_erasure_is_finished_by_the_next_request(
    customer, admin_client, monkeypatch
):
    from conversations import erasure as module

    def crash(subject):
        raise RuntimeError("worker killed")

    monkeypatch.setitem(module._STEPS, "webhook_bodies", crash)
    with pytest.raises(RuntimeError):
        contact_erase(organization=customer.organization, contact_id=customer.pk)
    record = ContactErasure.objects.get()
    assert record.completed_at is None
    steps = module.erasure_steps()
    assert record.steps_done == steps[: steps.index("webhook_bodies")]  # those before the crash
    assert record.steps_done[:2] == ["contact", "messages"]
    assert Contact.objects.filter(phone=PHONE).count() == 0  # unfindable from the first step
    monkeypatch.undo()

    response = admin_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    assert response.json()["id"] == record.pk
    assert response.json()["completed_at"]
    assert _tables_mentioning(DIGITS, "sheena") == {}


def test_redacted_webhooks_leave_the_queue_and_cannot_be_replayed(customer, admin_client):
    failed = next(e for e in WebhookEvent.objects.order_by("pk") if DIGITS.encode() in e.body_bytes)
    WebhookEvent.objects.filter(pk=failed.pk).update(status=EventStatus.DEAD)

    admin_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    failed.refresh_from_db()
    assert (failed.status, failed.next_attempt_at, bytes(failed.body)) == ("discarded", None, b"")
    assert "contact erasure" in failed.last_error
    assert webhook_events_replay(event_ids=[failed.pk], enqueue=False) == 0


def test_agents_may_not_erase(customer, agent_client):
    response = agent_client.post(f"/api/v1/contacts/{customer.pk}/erase")

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert Contact.objects.filter(phone=PHONE).exists()


def test_another_organizations_contact_is_not_found(admin_client, other_organization):
    stranger = ContactFactory(organization=other_organization)

    response = admin_client.post(f"/api/v1/contacts/{stranger.pk}/erase")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert Contact.objects.get(pk=stranger.pk).phone


def test_other_contacts_are_untouched(admin_client, organization):
    kept = MessageFactory(conversation=ConversationFactory(organization=organization), text="Keep")
    gone = MessageFactory(conversation=ConversationFactory(organization=organization), text="Go")

    admin_client.post(f"/api/v1/contacts/{gone.conversation.contact_id}/erase")

    kept.refresh_from_db()
    kept.conversation.contact.refresh_from_db()
    assert kept.text == "Keep"
    assert kept.conversation.contact.phone
    assert IdempotencyKey.objects.count() == 0


def test_the_command_erases_by_phone_in_an_organization(customer, capsys):
    call_command(
        "erase_contact",
        phone="+1 (650) 555-1234",
        organization=customer.organization.slug,
        no_input=True,
    )

    assert f"Contact #{customer.pk} erased" in capsys.readouterr().out
    assert ContactErasure.objects.get().source == "command"
    assert _tables_mentioning(DIGITS, "sheena") == {}


def test_the_command_erases_by_id(organization, capsys):
    contact = MessageFactory(
        conversation=ConversationFactory(organization=organization)
    ).conversation.contact

    call_command("erase_contact", str(contact.pk), no_input=True)

    contact.refresh_from_db()
    assert contact.phone == ""
    assert not Message.objects.filter(conversation__contact=contact, text__gt="")
