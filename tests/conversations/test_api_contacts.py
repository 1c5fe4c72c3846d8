"""Contacts: search, cursor pages, and one contact with its identities and conversations."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ContactIdentityFactory,
    ConversationFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def test_list_shows_only_the_organizations_contacts_newest_first(viewer_client, organization):
    older = ContactFactory(organization=organization)
    newer = ContactFactory(organization=organization)
    ContactFactory(organization=OrganizationFactory())

    response = viewer_client.get(URL)

    assert _ids(response) == [newer.id, older.id]
    assert response.json()["results"][0] == {
        "id": newer.id,
        "name": newer.name,
        "phone": newer.phone,
        "consent": [
            {"kind": kind, "scope": scope, "state": "unknown", "source": None, "since": None}
            for kind in ("sms", "whatsapp", "linkedin")
            for scope in ("service", "marketing")
        ],
        "created_at": response.json()["results"][0]["created_at"],
        "updated_at": response.json()["results"][0]["updated_at"],
    }


def test_contacts_come_in_cursor_pages(viewer_client, organization):
    contacts = [ContactFactory(organization=organization) for _ in range(3)]

    first = viewer_client.get(URL, {"page_size": 2})
    second = viewer_client.get(first.json()["next"])

    assert _ids(first) + _ids(second) == [c.id for c in reversed(contacts)]
    assert second.json()["next"] is None


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("KIM", "name, any case"),
        ("(650) 555-1234", "phone as typed"),
        ("us.1349", "a provider id"),
    ],
)
def test_search_by_name_phone_or_provider_id(viewer_client, organization, query, why):
    kim = ContactFactory(organization=organization, name="Kim Lee", phone="+16505551234")
    ContactIdentityFactory(contact=kim, kind="user_id", value="US.1349")
    ContactIdentityFactory(contact=kim, kind="wa_id", value="16505551234")
    other = ContactFactory(organization=organization, name="Alex", phone="+14155550000")
    ContactIdentityFactory(contact=other, kind="user_id", value="US.9999")

    assert _ids(viewer_client.get(URL, {"q": query})) == [kim.id], why


def test_search_never_finds_another_organizations_contact(viewer_client):
    ContactFactory(organization=OrganizationFactory(), name="Kim Lee")

    assert _ids(viewer_client.get(URL, {"q": "kim"})) == []


def test_detail_has_identities_and_conversations_with_their_window(viewer_client, organization):
    contact = ContactFactory(organization=organization, name="Kim Lee")
    whatsapp = ChannelFactory(organization=organization, name="WhatsApp")
    identity = ContactIdentityFactory(contact=contact, channel=whatsapp, value="16505551234")
    active = ConversationFactory(
        organization=organization,
        contact=contact,
        channel=whatsapp,
        window_expires_at=T0 + timedelta(hours=1),
        last_activity_at=T0,
    )
    older = ConversationFactory(
        organization=organization,
        contact=contact,
        status="closed",
        last_activity_at=T0 - timedelta(days=3),
    )

    with time_machine.travel(T0, tick=False):
        response = viewer_client.get(f"{URL}{contact.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["identities"] == [
        {"id": identity.id, "channel": whatsapp.id, "kind": "wa_id", "value": "16505551234"}
    ]
    assert [c["id"] for c in body["conversations"]] == [active.id, older.id]
    first, second = body["conversations"]
    assert first["channel"] == {"id": whatsapp.id, "name": "WhatsApp", "provider": "whatsapp_cloud"}
    assert (first["status"], first["window"]["state"]) == ("open", "ACTIVE")
    assert first["window"]["seconds_remaining"] == 3600
    assert (second["status"], second["window"]["state"]) == ("closed", "NONE")


def test_another_organizations_contact_is_not_found(viewer_client):
    theirs = ContactFactory(organization=OrganizationFactory())

    response = viewer_client.get(f"{URL}{theirs.id}/")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_contacts_are_read_only_even_for_admins(admin_client):
    response = admin_client.post(URL, {"name": "New"})

    assert response.status_code == 405


@pytest.mark.parametrize("path", ["", "1"])
def test_anonymous_is_401(anonymous_client, path):
    response = anonymous_client.get(f"{URL}{path}")

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
