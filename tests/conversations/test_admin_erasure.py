"""Erasing contacts from the admin: admins only, after a confirmation page."""

import pytest

from conversations.models import Contact, ContactErasure
from tenants.models import Role
from tests.factories import (
    ContactFactory,
    ContactIdentityFactory,
    MembershipFactory,
    MessageFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
CONTACTS = "/admin/conversations/contact/"


def _member(client, organization, role: Role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    return user


def _erase(client, contacts, **extra):
    data = {"action": "erase_contacts", "_selected_action": [c.pk for c in contacts], **extra}
    return client.post(CONTACTS, data)


@pytest.fixture
def contact(organization):
    message = MessageFactory(
        conversation__organization=organization, conversation__contact__name="Kim Lee"
    )
    ContactIdentityFactory(contact=message.conversation.contact, channel=message.channel)
    return message.conversation.contact


def test_an_admin_confirms_then_the_contact_is_erased(client, organization, contact):
    user = _member(client, organization, Role.ADMIN)

    asked = _erase(client, [contact])

    assert asked.status_code == 200
    assert b"Yes, erase them" in asked.content
    assert b"Kim Lee" in asked.content
    assert Contact.objects.get(pk=contact.pk).name == "Kim Lee"  # nothing yet

    done = _erase(client, [contact], confirmed="yes")

    assert done.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.phone, contact.identities.count()) == ("", "", 0)
    erasure = ContactErasure.objects.get()
    assert (erasure.source, erasure.requested_by, erasure.counts["messages"]) == ("admin", user, 1)
    page = client.get(f"/admin/conversations/contacterasure/{erasure.pk}/change/")
    assert page.status_code == 200
    assert b"pending_identifiers" not in page.content


def test_agents_are_not_offered_the_action_and_cannot_post_it(client, organization, contact):
    _member(client, organization, Role.AGENT)

    listing = client.get(CONTACTS)
    _erase(client, [contact], confirmed="yes")

    assert listing.status_code == 200
    assert b"erase_contacts" not in listing.content
    assert Contact.objects.get(pk=contact.pk).name == "Kim Lee"
    assert not ContactErasure.objects.exists()


def test_an_admin_cannot_erase_another_organizations_contact(client, contact):
    _member(client, OrganizationFactory(), Role.ADMIN)
    stranger = ContactFactory(organization=contact.organization, name="Not yours")

    _erase(client, [contact, stranger], confirmed="yes")

    assert set(Contact.objects.values_list("name", flat=True)) == {"Kim Lee", "Not yours"}
    assert not ContactErasure.objects.exists()
