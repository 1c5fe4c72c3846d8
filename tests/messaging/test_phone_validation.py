"""Numbers that phonenumbers calls impossible or invalid for their region are refused
where we create a contact or a send ourselves, and still filed when a customer's
message comes from one."""

import json

import pytest

from conversations.models import Contact
from providers import Provider
from providers.phones import InvalidPhoneNumberError, contact_for_address, valid_e164
from tenants.models import Role
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

CONTACTS = "/admin/conversations/contact/"
INLINES = {
    f"{prefix}-{field}": 0
    for prefix in ("consents", "consent_changes", "identities", "conversations")
    for field in ("TOTAL_FORMS", "INITIAL_FORMS")
}


@pytest.fixture
def agent(client, organization):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.AGENT)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("+15555550100", "not a valid phone number in US"),  # 555-01xx: fiction's numbers
        ("+49 151", "not a valid phone number in DE"),
        ("+1650555", "not a possible phone number"),
        ("call me", "not a phone number"),
    ],
)
def test_valid_e164_refuses_impossible_and_unassigned_numbers(number, problem):
    with pytest.raises(InvalidPhoneNumberError, match=problem):
        valid_e164(number)


def test_a_provider_address_that_is_not_a_valid_number_is_still_filed_as_a_phone():
    assert contact_for_address("+15555550100").phone == "+15555550100"


def test_a_send_to_an_invalid_number_is_a_field_error_on_to(agent_client, organization):
    sms = make_channel(organization, Provider.OPENPHONE, access_token="k", phone_number_id="PN1")

    response = agent_client.post(
        "/api/v1/messages",
        json.dumps({"channel": sms.pk, "to": "+15555550100", "text": "Hi"}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "VALIDATION_ERROR",
        "message": "to: '+15555550100' is not a valid phone number in US.",
        "details": {
            "to": [
                {
                    "message": "'+15555550100' is not a valid phone number in US.",
                    "code": "invalid_phone",
                }
            ]
        },
    }
    assert not Contact.objects.exists()


def test_a_contact_added_in_the_admin_needs_a_valid_number(client, organization):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))  # adding: superusers
    refused = client.post(
        f"{CONTACTS}add/",
        {"organization": organization.pk, "name": "Kim", "phone": "+15555550100", **INLINES},
    )
    saved = client.post(
        f"{CONTACTS}add/",
        {"organization": organization.pk, "name": "Kim", "phone": "+1 650 555 0142", **INLINES},
    )

    assert refused.status_code == 200  # the form again, with the error
    assert "is not a valid phone number in US" in refused.content.decode()
    assert saved.status_code == 302
    assert Contact.objects.get().phone == "+16505550142"


def test_changing_a_contacts_number_to_an_invalid_one_is_refused(agent, organization):
    contact = ContactFactory(organization=organization, phone="+16505550142")

    response = agent.post(
        f"{CONTACTS}{contact.pk}/change/", {"name": "Kim", "phone": "+15555550100", **INLINES}
    )

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.phone == "+16505550142"


def test_a_number_filed_from_a_provider_does_not_stop_a_rename(agent, organization):
    contact = ContactFactory(organization=organization, phone="+15555550100")

    response = agent.post(
        f"{CONTACTS}{contact.pk}/change/", {"name": "Renamed", "phone": "+15555550100", **INLINES}
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.phone) == ("Renamed", "+15555550100")
