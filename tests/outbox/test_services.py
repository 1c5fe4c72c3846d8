"""The outbox itself: recorded in the caller's transaction, many in one INSERT, kept
for the organization's retention, and documented in the schema."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from outbox.models import OutboxEvent
from outbox.services import EventDraft, event_record, events_record_many, outbox_purge
from outbox.types import EVENT_TYPES, ConsentBody
from reconciliation.schedules import PERIODIC_TASKS
from tests.factories import OrganizationFactory
from tests.worker import ROOT

pytestmark = pytest.mark.django_db


def _fails_after(record) -> None:
    with transaction.atomic():
        record()
        raise RuntimeError("the change failed")


T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _body(contact_id: int = 1) -> ConsentBody:
    return ConsentBody(
        contact_id=contact_id,
        kind="sms",
        scope="marketing",
        state="opted_out",
        previous_state="unknown",
        source="keyword",
        message_id=None,
        changed_at=T0,
    )


def test_an_event_is_stored_with_its_version_and_a_json_body(organization):
    event = event_record(type="contact.opted_out", organization_id=organization.pk, body=_body())

    stored = OutboxEvent.objects.get()
    assert stored == event
    assert (stored.type, stored.version) == ("contact.opted_out", 1)
    assert stored.body["changed_at"] == "2026-11-20T12:00:00+00:00"
    assert stored.body["contact_id"] == 1


def test_a_rolled_back_transaction_leaves_no_event(organization):
    with pytest.raises(RuntimeError, match="the change failed"):
        _fails_after(
            lambda: event_record(
                type="contact.opted_out", organization_id=organization.pk, body=_body()
            )
        )

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused():
    organization = OrganizationFactory()

    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_record(type="contact.opted_out", organization_id=organization.pk, body=_body())


def test_a_body_of_another_type_is_refused(organization):
    with pytest.raises(TypeError):
        event_record(type="message.received", organization_id=organization.pk, body=_body())


def test_many_events_are_one_insert_and_keep_their_order(organization):
    drafts = [EventDraft("contact.opted_out", organization.pk, _body(n)) for n in range(50)]

    with CaptureQueriesContext(connection) as queries:
        events_record_many(events=drafts)

    assert len(queries) == 1
    ordered = OutboxEvent.objects.order_by("id").values_list("body__contact_id", flat=True)
    assert list(ordered) == list(range(50))


def test_the_purge_keeps_each_organization_s_retention(organization):
    keeps_longer = OrganizationFactory(outbox_retention_days=30)
    for org in (organization, keeps_longer):
        for age in (1, 8, 31):
            event = event_record(type="contact.opted_out", organization_id=org.pk, body=_body(age))
            OutboxEvent.objects.filter(pk=event.pk).update(created_at=T0 - timedelta(days=age))

    deleted = outbox_purge(now=T0, batch_size=1)

    assert deleted == 3  # the default 7 days: 8 and 31; 30 days: 31
    left = OutboxEvent.objects.values_list("organization_id", "body__contact_id")
    assert sorted(left) == sorted(
        [(organization.pk, 1), (keeps_longer.pk, 1), (keeps_longer.pk, 8)]
    )


def test_the_purge_runs_daily():
    (spec,) = [s for s in PERIODIC_TASKS if s.task == "outbox.tasks.outbox_purge_task"]
    assert spec.cron.endswith("* * *")


def test_a_new_organization_keeps_events_seven_days():
    assert OrganizationFactory().outbox_retention_days == 7


def test_the_schema_documents_every_body_and_the_envelope(viewer_client):
    schemas = viewer_client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]

    received = schemas["MessageReceivedV1"]
    assert {"message_id", "conversation_id", "text", "occurred_at"} <= set(received["required"])
    assert received["properties"]["occurred_at"] == {"type": "string", "format": "date-time"}
    assert schemas["ConversationAssignedV1"]["properties"]["assignee_id"]["nullable"] is True
    envelope = schemas["OutboxEvent"]
    assert set(envelope["properties"]["type"]["enum"]) == set(EVENT_TYPES)
    assert {"$ref": "#/components/schemas/TemplateStatusChangedV1"} in envelope["properties"][
        "body"
    ]["oneOf"]
    assert {t.component for t in EVENT_TYPES.values()} <= set(schemas)


def test_the_schema_documents_the_reaction_window_campaign_webhook_and_health_bodies(
    viewer_client,
):
    schemas = viewer_client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    one_of = schemas["OutboxEvent"]["properties"]["body"]["oneOf"]

    expected = {
        "MessageReactionV1": {"message_id", "provider_message_id", "emoji", "reactor"},
        "WindowExpiringV1": {"conversation_id", "contact_id", "window_expires_at"},
        "CampaignEnrollmentRepliedV1": {"enrollment_id", "campaign_id", "replied_at"},
        "CampaignEnrollmentCompletedV1": {"enrollment_id", "campaign_id", "finished_at"},
        "WebhookDeadV1": {"webhook_event_id", "provider", "attempts", "dead_at"},
        "HealthCheckFailedV1": {"health_check_id", "result", "previous_result"},
        "HealthCheckRecoveredV1": {"health_check_id", "result", "latency_ms"},
        "ConversationHandedOffV1": {"conversation_id", "channel_id", "by_user_id"},
    }
    for component, fields in expected.items():
        assert fields <= set(schemas[component]["required"]), component
        assert {"$ref": f"#/components/schemas/{component}"} in one_of
    reaction = schemas["MessageReactionV1"]["properties"]
    assert reaction["message_id"] == {"type": "integer", "nullable": True}
    assert "`message.reaction` version 1" in schemas["MessageReactionV1"]["description"]
    assert schemas["WindowExpiringV1"]["properties"]["window_expires_at"] == {
        "type": "string",
        "format": "date-time",
    }


def test_a_shorter_message_retention_purges_the_bodies_sooner():
    organization = OrganizationFactory(message_retention_days=2)
    for age in (1, 3):
        event = event_record(
            type="contact.opted_out", organization_id=organization.pk, body=_body(age)
        )
        OutboxEvent.objects.filter(pk=event.pk).update(created_at=T0 - timedelta(days=age))

    assert outbox_purge(now=T0) == 1
    assert list(OutboxEvent.objects.values_list("body__contact_id", flat=True)) == [1]


def test_the_readme_catalogue_lists_every_type_with_its_version():
    readme = (ROOT / "README.md").read_text()
    catalogue = readme.split("### Events (the outbox)")[1].split("\n### ")[0]
    rows = [line for line in catalogue.splitlines() if line.startswith("| `")]

    listed = {
        (name, int(row.split("|")[2]))
        for row in rows
        for name in re.findall(r"`([a-z_.]+)`", row.split("|")[1])
    }
    assert listed == {(t.name, t.version) for t in EVENT_TYPES.values()}
