"""Every send path refuses a contact who opted out of that channel kind and scope,
before anything reaches the provider (CONTACT_OPTED_OUT)."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.consent import (
    consent_changes_apply,
    consent_set,
    contacts_opted_out,
)
from conversations.consent_models import ConsentSource
from conversations.models import Message
from messaging import services
from providers import Provider
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Role
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    UserFactory,
)
from tests.markers import postgresql_only
from tests.messaging.conftest import SEND_URL, accepted
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

SINCE = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)


def _opt_out(contact, kind: str, scope: str, source=ConsentSource.KEYWORD) -> None:
    from conversations.consent import ConsentUpdate
    from conversations.consent_models import ConsentState

    update = ConsentUpdate(
        organization_id=contact.organization_id,
        contact_id=contact.pk,
        kind=kind,
        scopes=(scope,),
        state=ConsentState.OPTED_OUT,
        source=source,
        at=SINCE,
    )
    consent_changes_apply(updates=[update])


def _refused(send, kind="whatsapp", scope="service", source="keyword") -> None:
    with pytest.raises(ApplicationError) as refused:
        send()
    assert refused.value.code == ErrorCode.CONTACT_OPTED_OUT
    assert refused.value.status == 422
    assert refused.value.details == {
        "kind": kind,
        "scope": scope,
        "since": "2026-10-01T09:30:00Z",
        "source": source,
    }


@pytest.fixture
def marketing_template(template):
    template.pk = None
    template.name, template.category = "spring_sale", "MARKETING"
    template.provider_template_id = "99"
    template.save()
    return template


def test_a_text_to_an_opted_out_contact_is_refused_before_the_provider(conversation, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    _opt_out(conversation.contact, "whatsapp", "service")

    _refused(lambda: services.message_send_text(conversation=conversation, text="Hi"))

    assert not Message.objects.filter(direction="outbound").exists()
    assert not route.called


def test_the_api_answers_422_with_the_exact_body(agent_client, conversation):
    _opt_out(conversation.contact, "whatsapp", "service", ConsentSource.PROVIDER_ERROR)

    response = agent_client.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        json.dumps({"text": "Hi"}),
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json() == {
        "code": "CONTACT_OPTED_OUT",
        "message": "The contact opted out of service messages on whatsapp.",
        "details": {
            "kind": "whatsapp",
            "scope": "service",
            "since": "2026-10-01T09:30:00Z",
            "source": "provider_error",
        },
    }


def test_a_send_to_a_phone_is_refused_through_the_api(agent_client, organization):
    sms = make_channel(organization, Provider.OPENPHONE, access_token="k", phone_number_id="PN1")
    contact = ContactFactory(organization=organization, phone="+16505550111")
    _opt_out(contact, "sms", "service")

    response = agent_client.post(
        "/api/v1/messages",
        json.dumps({"channel": sms.pk, "to": "+16505550111", "text": "Sale!"}),
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["code"] == "CONTACT_OPTED_OUT"
    assert response.json()["details"]["kind"] == "sms"
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_service_template_is_refused_after_a_service_opt_out(conversation, template):
    _opt_out(conversation.contact, "whatsapp", "service")

    _refused(
        lambda: services.message_send_template(
            conversation=conversation,
            name="order_update",
            language="en_US",
            parameters={"body": {"order": "A1", "day": "Friday"}},
        )
    )


def test_a_whatsapp_marketing_opt_out_blocks_marketing_templates_only(
    conversation, template, marketing_template
):
    _opt_out(conversation.contact, "whatsapp", "marketing", ConsentSource.PROVIDER_ERROR)

    _refused(
        lambda: services.message_send_template(
            conversation=conversation,
            name="spring_sale",
            language="en_US",
            parameters={"body": {"order": "A1", "day": "Friday"}},
        ),
        scope="marketing",
        source="provider_error",
    )
    utility = services.message_send_template(
        conversation=conversation,
        name="order_update",
        language="en_US",
        parameters={"body": {"order": "A1", "day": "Friday"}},
    )
    text = services.message_send_text(conversation=conversation, text="Your order shipped")
    assert utility.status == text.status == "queued"


def test_a_service_opt_out_blocks_marketing_templates_too(conversation, marketing_template):
    _opt_out(conversation.contact, "whatsapp", "service")

    _refused(
        lambda: services.message_send_template(
            conversation=conversation,
            name="spring_sale",
            language="en_US",
            parameters={"body": {"order": "A1", "day": "Friday"}},
        )
    )


def test_an_opt_out_on_sms_does_not_stop_whatsapp(conversation):
    _opt_out(conversation.contact, "sms", "service")

    assert services.message_send_text(conversation=conversation, text="Hi").pk


def test_a_resend_of_a_failed_message_is_refused(conversation):
    failed = MessageFactory(
        conversation=conversation, direction="outbound", status="failed", text="Hi"
    )
    _opt_out(conversation.contact, "whatsapp", "service")

    _refused(lambda: services.message_resend(message=failed))


def test_opting_in_again_lets_sends_through(conversation, admin_client):
    _opt_out(conversation.contact, "whatsapp", "service")
    consent_set(
        contact=conversation.contact,
        kind="whatsapp",
        scope="service",
        state="subscribed",
        source=ConsentSource.API,
    )

    assert services.message_send_text(conversation=conversation, text="Welcome back").pk


def test_health_checks_are_not_checked(conversation):
    _opt_out(conversation.contact, "whatsapp", "service")

    message = services.message_send_text(
        conversation=conversation, text="health check", health_check=True
    )

    assert message.pk


@postgresql_only("the plan read is PostgreSQL's")
def test_the_check_costs_one_query_on_the_indexes(conversation):
    from messaging.checks import Recipient, standing

    _opt_out(conversation.contact, "whatsapp", "service")
    _statistics_of_a_used_list(conversation)

    with CaptureQueriesContext(connection) as queries:
        facts = standing(Recipient.of(conversation))

    assert set(facts.opt_outs) == {"service"}
    assert len(queries) == 1
    plan = _plan(queries[0]["sql"])
    assert "consent_unique_contact_kind_scope" in plan
    assert "do_not_contact_unique" in plan


def test_the_set_based_check_costs_one_query_for_many_contacts(organization):
    contacts = [ContactFactory(organization=organization) for _ in range(30)]
    for contact in contacts[::3]:
        _opt_out(contact, "sms", "service")
    _opt_out(contacts[1], "sms", "marketing")

    with CaptureQueriesContext(connection) as queries:
        service = contacts_opted_out(
            contact_ids=[c.pk for c in contacts], kind="sms", scope="service"
        )
    marketing = contacts_opted_out(
        contact_ids=[c.pk for c in contacts], kind="sms", scope="marketing"
    )

    assert len(queries) == 1
    assert service == {c.pk for c in contacts[::3]}
    assert marketing == service | {contacts[1].pk}


def test_the_send_adds_one_query_for_consent(conversation, django_assert_num_queries):
    # Another contact's opt-out: the check runs and finds nothing for this one.
    other = ConversationFactory(organization=conversation.organization).contact
    _opt_out(other, "whatsapp", "service")
    services.message_send_text(conversation=conversation, text="warm-up")

    with CaptureQueriesContext(connection) as queries:
        services.message_send_text(conversation=conversation, text="Hi")

    consent_queries = [q for q in queries if "conversations_consent" in q["sql"]]
    assert len(consent_queries) == 1


def test_the_list_and_consent_are_read_in_one_query_per_send(conversation):
    services.message_send_text(conversation=conversation, text="warm-up")

    with CaptureQueriesContext(connection) as queries:
        services.message_send_text(conversation=conversation, text="Hi")

    tables = ("conversations_consent", "messaging_donotcontact")
    checks = [q["sql"] for q in queries if any(table in q["sql"] for table in tables)]
    assert len(checks) == 1
    assert all(table in checks[0] for table in tables)


def _statistics_of_a_used_list(conversation) -> None:
    """A list and consents of some size, analyzed: on near-empty tables every index
    costs the same to the planner, which then picked one by chance (and a full run's
    earlier tests moved the chance)."""
    from conversations.consent_models import Consent
    from conversations.models import Contact
    from messaging.models import DoNotContact

    organization_id = conversation.organization_id
    DoNotContact.objects.bulk_create(
        DoNotContact(organization_id=organization_id, kind="phone", value=f"+1555010{n:04}")
        for n in range(300)
    )
    others = Contact.objects.bulk_create(
        Contact(organization_id=organization_id, name=f"Other {n}", phone=f"+1555020{n:04}")
        for n in range(300)
    )
    Consent.objects.bulk_create(
        Consent(
            organization_id=organization_id,
            contact=contact,
            kind="whatsapp",
            scope="marketing",
            state="opted_out",
            source="keyword",
        )
        for contact in others
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DoNotContact._meta.db_table}, {Consent._meta.db_table}")


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return " ".join(row[0] for row in cursor.fetchall())


def test_the_admin_composer_is_refused_as_the_api_is(
    client, organization, conversation, graph, django_capture_on_commit_callbacks
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.AGENT)
    client.force_login(user)
    _opt_out(conversation.contact, "whatsapp", "service")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/conversations/conversation/{conversation.pk}/reply/",
            {"text": "Hi", "idempotency_key": "k1"},
            follow=True,
        )

    assert (
        "Not sent. CONTACT_OPTED_OUT: The contact opted out of service messages on whatsapp."
        in response.content.decode()
    )
    assert not Message.objects.filter(direction="outbound").exists()
    assert not route.called


# --- the check made again at delivery ---------------------------------------------------


def test_a_stop_filed_after_the_send_withholds_the_queued_message(conversation, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Hi")
    _opt_out(conversation.contact, "whatsapp", "service")

    delivery = services.message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert delivery.outcome == "failed"
    assert not route.called
    assert (message.status, message.error_code) == ("failed", "CONTACT_OPTED_OUT")


def test_a_number_listed_after_the_send_withholds_the_queued_message(conversation, graph):
    from messaging.do_not_contact import do_not_contact_add

    route = graph.post(SEND_URL).mock(return_value=accepted())
    conversation.contact.phone = "+16505550123"
    conversation.contact.save()
    message = services.message_send_text(conversation=conversation, text="Hi")
    do_not_contact_add(
        organization=conversation.organization, kind="phone", value="+16505550123", source="api"
    )

    services.message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert not route.called
    assert message.error_code == "CONTACT_DO_NOT_CONTACT"


def test_a_marketing_opt_out_after_the_send_withholds_only_the_marketing_template(
    conversation, template, marketing_template, graph, settings
):
    # One message a task, each its own outcome; the same inside one task's batch:
    # tests/messaging/test_delivery_batch.py.
    settings.SEND_BATCH_SIZE = 1
    graph.post(SEND_URL).mock(return_value=accepted())
    params = {"body": {"order": "A1", "day": "Friday"}}
    sale = services.message_send_template(
        conversation=conversation, name="spring_sale", language="en_US", parameters=params
    )
    update = services.message_send_template(
        conversation=conversation, name="order_update", language="en_US", parameters=params
    )
    _opt_out(conversation.contact, "whatsapp", "marketing", ConsentSource.PROVIDER_ERROR)

    assert services.message_deliver(message_id=sale.pk).outcome == "failed"
    assert services.message_deliver(message_id=update.pk).outcome == "accepted"


def test_a_health_check_is_delivered_whatever_its_test_number_said(conversation, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Hi", health_check=True)
    _opt_out(conversation.contact, "whatsapp", "service")

    assert services.message_deliver(message_id=message.pk).outcome == "accepted"
    assert route.called
