"""Every send path refuses a contact on the organization's do-not-contact list, before
anything is queued or reaches the provider; health checks are not held back by it."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Contact, ContactIdentity, IdentityKind, Message
from messaging import services
from messaging.do_not_contact import do_not_contact_matches
from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource
from providers import Provider
from providers.events import MessageStatus
from reconciliation.health import health_check_run
from reconciliation.models import HealthCheckResult, HealthCheckSetting
from tenants.errors import ApplicationError
from tests.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.messaging.conftest import SEND_URL, accepted
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db


def _list(organization, value: str, kind=DoNotContactKind.PHONE, *, days_ago: int = 3):
    entry = DoNotContact.objects.create(
        organization=organization, kind=kind, value=value, source=DoNotContactSource.ADMIN
    )
    since = timezone.now().replace(microsecond=0) - timedelta(days=days_ago)
    DoNotContact.objects.filter(pk=entry.pk).update(created_at=since)
    return since


def _z(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _expected(value: str, since, kind: str = "phone") -> dict:
    return {
        "code": "CONTACT_DO_NOT_CONTACT",
        "message": f"{value} is on the organization's do-not-contact list: nothing is sent to it.",
        "details": {"kind": kind, "value": value, "since": _z(since)},
    }


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_a_listed_number_refuses_text_through_the_api_with_the_exact_body(
    agent_client, conversation, graph
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    since = _list(conversation.organization, "+16505551234")

    response = _post(
        agent_client, f"/api/v1/conversations/{conversation.pk}/messages", {"text": "Hi"}
    )

    assert response.status_code == 422
    assert response.json() == _expected("+16505551234", since)
    assert not Message.objects.filter(direction="outbound").exists()
    assert route.call_count == 0


def test_a_listed_number_refuses_a_template(agent_client, closed_conversation, template):
    since = _list(closed_conversation.organization, "+16505551234")
    body = {"template": {"name": "order_update", "language": "en_US", "parameters": {}}}

    response = _post(agent_client, f"/api/v1/conversations/{closed_conversation.pk}/messages", body)

    assert response.status_code == 422
    assert response.json() == _expected("+16505551234", since)


def test_the_service_refuses_a_template_before_looking_at_it(closed_conversation, template):
    _list(closed_conversation.organization, "+16505551234")

    with pytest.raises(ApplicationError) as refused:
        services.message_send_template(
            conversation=closed_conversation, name="nope", language="en_US", parameters={}
        )

    assert refused.value.code == "CONTACT_DO_NOT_CONTACT"


def test_a_send_to_a_listed_number_is_refused_and_creates_no_contact(
    agent_client, organization, graph
):
    sms = make_channel(organization, Provider.OPENPHONE, access_token="k", phone_number_id="PN1")
    since = _list(organization, "+16505550142")

    response = _post(
        agent_client, "/api/v1/messages", {"channel": sms.pk, "to": "+1 650 555 0142", "text": "x"}
    )

    assert response.status_code == 422
    assert response.json() == _expected("+16505550142", since)
    assert not Contact.objects.filter(phone="+16505550142").exists()


def test_a_resend_is_refused_once_the_number_is_listed(conversation):
    failed = MessageFactory(
        conversation=conversation, direction="outbound", status=MessageStatus.FAILED, text="Hi"
    )
    since = _list(conversation.organization, "+16505551234")

    with pytest.raises(ApplicationError) as refused:
        services.message_resend(message=failed)

    assert refused.value.as_dict() == _expected("+16505551234", since)


def test_the_whatsapp_id_of_a_contact_without_a_phone_matches(conversation):
    Contact.objects.filter(pk=conversation.contact_id).update(phone="")
    conversation.contact.refresh_from_db()
    since = _list(conversation.organization, "+16505551234")

    with pytest.raises(ApplicationError) as refused:
        services.message_send_text(conversation=conversation, text="Hi")

    assert refused.value.details == {"kind": "phone", "value": "+16505551234", "since": _z(since)}


def test_a_listed_linkedin_id_refuses_the_send_into_its_chat(organization):
    linkedin = make_channel(organization, Provider.UNIPILE, access_token="k")
    contact = ContactFactory(organization=organization, phone="")
    ContactIdentity.objects.create(
        contact=contact, channel=linkedin, kind=IdentityKind.PROVIDER_ID, value="ACoAAB1x2y3"
    )
    chat = ConversationFactory(
        organization=organization, channel=linkedin, contact=contact, provider_conversation_ref="c1"
    )
    since = _list(organization, "ACoAAB1x2y3", DoNotContactKind.LINKEDIN)

    with pytest.raises(ApplicationError) as refused:
        services.message_send_text(conversation=chat, text="Hello")

    assert refused.value.as_dict() == _expected("ACoAAB1x2y3", since, kind="linkedin")


def test_another_organizations_list_does_not_apply(conversation, other_organization, graph):
    graph.post(SEND_URL).mock(return_value=accepted())
    _list(other_organization, "+16505551234")

    message = services.message_send_text(conversation=conversation, text="Hi")

    assert message.status == "queued"


def test_the_admin_composer_shows_the_refusal(client, organization, conversation):
    from tenants.models import Role
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.AGENT)
    client.force_login(user)
    _list(organization, "+16505551234")
    url = f"/admin/conversations/conversation/{conversation.pk}/"

    page = client.post(f"{url}reply/", {"text": "Hi", "idempotency_key": "k-1"}, follow=True)

    assert "CONTACT_DO_NOT_CONTACT" in page.content.decode()
    assert not Message.objects.filter(direction="outbound").exists()


def test_one_query_per_send_check(conversation, django_assert_num_queries):
    from messaging.checks import Recipient, standing

    _list(conversation.organization, conversation.contact.phone)

    with django_assert_num_queries(1):
        facts = standing(Recipient.of(conversation))

    assert facts.listed.value == conversation.contact.phone


def test_the_batch_check_is_one_query_for_many_contacts(organization, whatsapp):
    linkedin = make_channel(organization, Provider.UNIPILE, access_token="k")
    contacts = [ContactFactory(organization=organization) for _ in range(30)]
    by_phone, by_wa_id, by_linkedin = contacts[3], contacts[7], contacts[11]
    Contact.objects.filter(pk=by_wa_id.pk).update(phone="")
    ContactIdentity.objects.create(
        contact=by_wa_id, channel=whatsapp, kind=IdentityKind.WA_ID, value="447911123456"
    )
    ContactIdentity.objects.create(
        contact=by_linkedin, channel=linkedin, kind=IdentityKind.PROVIDER_ID, value="ACoAAZ"
    )
    _list(organization, by_phone.phone)
    _list(organization, "+447911123456")
    _list(organization, "ACoAAZ", DoNotContactKind.LINKEDIN)
    ids = [contact.pk for contact in contacts]
    # SQLite's connection asks once whether it has JSON functions (not per call).
    do_not_contact_matches(organization_id=organization.pk, contact_ids=ids[:1])

    with CaptureQueriesContext(connection) as queries:
        found = do_not_contact_matches(organization_id=organization.pk, contact_ids=ids)

    assert len(queries.captured_queries) == 1
    assert {contact_id: listed.value for contact_id, listed in found.items()} == {
        by_phone.pk: by_phone.phone,
        by_wa_id.pk: "+447911123456",
        by_linkedin.pk: "ACoAAZ",
    }


def test_a_linkedin_entry_does_not_match_a_provider_id_on_another_provider(organization):
    sms = make_channel(organization, Provider.OPENPHONE, access_token="k", phone_number_id="PN1")
    contact = ContactFactory(organization=organization)
    ContactIdentity.objects.create(
        contact=contact, channel=sms, kind=IdentityKind.PROVIDER_ID, value="SHORTCODE"
    )
    _list(organization, "SHORTCODE", DoNotContactKind.LINKEDIN)

    assert do_not_contact_matches(organization_id=organization.pk, contact_ids=[contact.pk]) == {}


def test_a_health_check_to_a_listed_number_still_goes_out(organization, whatsapp, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    whatsapp.window_policy = "always_open"
    whatsapp.save()
    HealthCheckSetting.objects.create(
        channel=whatsapp,
        enabled=True,
        test_recipient="+15555550100",  # Meta's test number
    )
    _list(organization, "+15555550100")

    check = health_check_run(channel=whatsapp)

    assert check.result == HealthCheckResult.PENDING
    assert check.message is not None
    assert route.call_count == 0  # queued; the task runs when the test commits
