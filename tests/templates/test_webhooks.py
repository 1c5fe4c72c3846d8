"""Meta's template webhooks (contract A3) applied to templates: each event type, once,
in order, with an alert when sends stop."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from outbox.models import OutboxEvent
from providers import Provider, whatsapp_cloud
from providers.base import SignedRequest
from providers.events import TemplateStatusChanged
from templates import services
from templates.models import EventKind, EventSource, MessageTemplate, TemplateEvent
from tests.factories import MessageTemplateFactory
from tests.webhooks.delivery import fixture_text
from webhooks import processing
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

ABANDONED_CART = "1689556908129835"  # template_status_*.json
WELCOME = "806312974732579"  # template_quality*.json
WELCOME_CATEGORY = "278077987957091"  # template_category_*.json


def _event(name: str):
    """The normalized event of a fixture, as the webhook worker gets it."""
    body = fixture_text(Provider.WHATSAPP_CLOUD, name).encode()
    (event,) = whatsapp_cloud.parse(SignedRequest(body=body))
    return event


def _template(channel, template_id: str, **fields) -> MessageTemplate:
    return MessageTemplateFactory(channel=channel, provider_template_id=template_id, **fields)


def _history(template: MessageTemplate) -> list[tuple]:
    return list(
        template.events.order_by("id").values_list("kind", "source", "old_value", "new_value")
    )


# --- Each event type ---------------------------------------------------------------------


def test_a_rejection_of_an_unknown_template_creates_it_through_the_webhook_endpoint(
    client, meta_webhooks, mailoutbox
):
    response = meta_webhooks.deliver(client, "template_status_rejected")

    assert response.status_code == 200
    webhook = WebhookEvent.objects.get()
    assert (webhook.status, webhook.result) == (EventStatus.PROCESSED, {"applied": 1})
    template = MessageTemplate.objects.get()
    assert template.channel == meta_webhooks.channel
    assert template.organization == meta_webhooks.channel.organization
    assert (template.provider_template_id, template.name, template.language) == (
        ABANDONED_CART,
        "abandoned_cart",
        "en",
    )
    assert (template.status, template.rejection_reason, template.category) == (
        "REJECTED",
        "INVALID_FORMAT",
        "MARKETING",
    )
    assert _history(template) == [
        ("created", "webhook", "", ""),
        ("status", "webhook", "", "REJECTED"),
    ]
    status_event = template.events.get(kind=EventKind.STATUS)
    assert status_event.details["rejection_info"]["recommendation"].startswith("Move")
    assert status_event.event_id.startswith(f"whatsapp:template_status:{ABANDONED_CART}:")
    assert len(mailoutbox) == 1


def test_an_approval_moves_a_pending_template_and_tells_nobody(client, meta_webhooks, mailoutbox):
    template = _template(meta_webhooks.channel, ABANDONED_CART, status="PENDING")

    meta_webhooks.deliver(client, "template_status_approved")

    template.refresh_from_db()
    assert template.status == "APPROVED"
    assert template.can_send
    assert template.status_updated_at == datetime.fromtimestamp(1751251182, tz=UTC)
    event = template.events.get()
    assert (event.kind, event.source, event.old_value, event.new_value) == (
        "status",
        "webhook",
        "PENDING",
        "APPROVED",
    )
    assert event.occurred_at == datetime.fromtimestamp(1751251182, tz=UTC)
    assert mailoutbox == []


def test_a_quality_change_sets_the_score(client, meta_webhooks, mailoutbox):
    template = _template(meta_webhooks.channel, WELCOME, quality_score="GREEN")

    meta_webhooks.deliver(client, "template_quality")

    template.refresh_from_db()
    assert template.quality_score == "YELLOW"
    assert _history(template) == [("quality", "webhook", "GREEN", "YELLOW")]
    assert mailoutbox == []  # yellow is a warning from Meta, sends still work


def test_a_completed_category_change_moves_the_category_and_alerts(
    client, meta_webhooks, mailoutbox
):
    template = _template(
        meta_webhooks.channel, WELCOME_CATEGORY, name="welcome_template", category="UTILITY"
    )

    meta_webhooks.deliver(client, "template_category_change")

    template.refresh_from_db()
    assert template.category == "MARKETING"
    assert _history(template) == [("category", "webhook", "UTILITY", "MARKETING")]
    assert len(mailoutbox) == 1
    assert "from UTILITY to MARKETING" in mailoutbox[0].subject


def test_an_advance_notice_is_recorded_but_the_category_stays(client, meta_webhooks, mailoutbox):
    template = _template(
        meta_webhooks.channel, WELCOME_CATEGORY, name="welcome_template", category="UTILITY"
    )

    meta_webhooks.deliver(client, "template_category_notice")

    template.refresh_from_db()
    assert template.category == "UTILITY"
    notice = template.events.get()
    assert (notice.kind, notice.old_value, notice.new_value) == (
        EventKind.CATEGORY_NOTICE,
        "UTILITY",
        "MARKETING",
    )
    assert notice.details == {"effective_at": "2025-10-17T14:30:33+00:00"}
    assert WebhookEvent.objects.get().result == {"notice": 1}
    assert mailoutbox == []


def test_the_category_change_that_follows_its_notice_is_applied(client, meta_webhooks, mailoutbox):
    template = _template(
        meta_webhooks.channel, WELCOME_CATEGORY, name="welcome_template", category="UTILITY"
    )

    meta_webhooks.deliver(client, "template_category_notice")
    meta_webhooks.deliver(client, "template_category_change")

    template.refresh_from_db()
    assert template.category == "MARKETING"
    assert [kind for kind, *_ in _history(template)] == ["category_notice", "category"]
    assert len(mailoutbox) == 1


def test_meta_s_hyphenated_language_finds_the_template_by_name(meta_webhooks):
    # Deleted and made again on Meta: same name and language, a new id.
    template = _template(
        meta_webhooks.channel,
        "111",
        name="welcome_template",
        language="en_US",
        category="UTILITY",
        is_deleted=True,
    )

    outcome = services.template_category_apply(
        channel=meta_webhooks.channel, event=_event("template_category_change")
    )

    assert outcome == "applied"
    template.refresh_from_db()
    assert template.provider_template_id == WELCOME_CATEGORY
    assert template.is_deleted is False
    assert template.category == "MARKETING"
    assert MessageTemplate.objects.count() == 1


# --- Once, and in order --------------------------------------------------------------


def test_a_webhook_delivered_twice_is_recorded_and_alerted_once(client, meta_webhooks, mailoutbox):
    text = fixture_text(Provider.WHATSAPP_CLOUD, "template_status_paused")
    _template(meta_webhooks.channel, ABANDONED_CART)

    meta_webhooks.deliver_text(client, text)
    meta_webhooks.deliver_text(client, text.replace("\n", "\r\n"))  # other bytes, same event

    assert list(WebhookEvent.objects.order_by("id").values_list("result", flat=True)) == [
        {"applied": 1},
        {"duplicate": 1},
    ]
    assert TemplateEvent.objects.count() == 1
    assert len(mailoutbox) == 1


def test_a_replayed_webhook_changes_nothing_and_alerts_nobody_again(
    client, meta_webhooks, mailoutbox, django_capture_on_commit_callbacks
):
    _template(meta_webhooks.channel, WELCOME, quality_score="YELLOW")
    meta_webhooks.deliver(client, "template_quality_red")
    WebhookEvent.objects.update(status=EventStatus.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        processing.webhook_event_process(event_id=WebhookEvent.objects.get().id)

    assert WebhookEvent.objects.get().result == {"duplicate": 1}
    assert TemplateEvent.objects.filter(kind=EventKind.QUALITY).count() == 1
    assert len(mailoutbox) == 1
    assert "red quality score" in mailoutbox[0].subject


def test_a_status_older_than_the_one_held_is_not_applied(meta_webhooks):
    channel = meta_webhooks.channel
    paused = _event("template_status_paused")
    template = _template(channel, ABANDONED_CART, status="PENDING")
    services.template_status_apply(channel=channel, event=paused)
    older = replace(
        paused,
        status="APPROVED",
        event_id="late",
        occurred_at=paused.occurred_at - timedelta(minutes=5),
    )

    outcome = services.template_status_apply(channel=channel, event=older)

    assert outcome == "stale"
    template.refresh_from_db()
    assert template.status == "PAUSED"
    assert not TemplateEvent.objects.filter(event_id="late").exists()


def test_the_same_status_again_is_unchanged_and_records_nothing(meta_webhooks):
    template = _template(meta_webhooks.channel, ABANDONED_CART, status="APPROVED")

    outcome = services.template_status_apply(
        channel=meta_webhooks.channel, event=_event("template_status_approved")
    )

    assert outcome == "unchanged"
    assert not template.events.exists()


# --- Alerts: exactly when sends stop ---------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "before", "subject"),
    [
        ("template_status_paused", {"status": "APPROVED"}, "is paused"),
        ("template_status_disabled", {"status": "PAUSED"}, "is disabled"),
        ("template_status_rejected", {"status": "PENDING"}, "was rejected"),
    ],
)
def test_a_status_that_stops_sends_emails_the_organization_once(
    client, meta_webhooks, mailoutbox, fixture, before, subject
):
    template = _template(meta_webhooks.channel, ABANDONED_CART, name="abandoned_cart", **before)

    meta_webhooks.deliver(client, fixture)
    meta_webhooks.deliver(client, fixture)  # byte-identical redelivery

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ops@example.com"]
    assert subject in mail.subject
    assert "abandoned_cart (en_US)" in mail.subject
    assert f"/admin/templates/messagetemplate/{template.pk}/change/" in mail.body


@pytest.mark.parametrize(
    ("fixture", "template_id", "before"),
    [
        ("template_status_approved", ABANDONED_CART, {"status": "PAUSED"}),
        ("template_status_pending_deletion", "927451023846192", {"status": "APPROVED"}),
        ("template_quality", WELCOME, {"quality_score": "GREEN"}),
        ("template_category_notice", WELCOME_CATEGORY, {"category": "UTILITY"}),
    ],
)
def test_a_harmless_change_emails_nobody(
    client, meta_webhooks, mailoutbox, fixture, template_id, before
):
    template = _template(meta_webhooks.channel, template_id, **before)

    meta_webhooks.deliver(client, fixture)

    assert template.events.count() == 1  # it was applied
    assert mailoutbox == []


# --- Events stored before templates were handled -----------------------------------


def test_a_stored_unhandled_template_event_is_applied_by_replay(client, meta_webhooks, monkeypatch):
    # Given a status webhook processed while templates were not handled yet
    monkeypatch.setitem(processing.HANDLERS, TemplateStatusChanged, lambda *args: "not_handled")
    meta_webhooks.deliver(client, "template_status_approved")
    monkeypatch.undo()
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.result) == (EventStatus.PROCESSED, {"not_handled": 1})
    assert not MessageTemplate.objects.exists()

    # When an operator replays it
    out = StringIO()
    call_command("replay_webhooks", "--status", "processed", "--sync", stdout=out)

    # Then the template is there, approved, and the webhook says so
    assert "Replayed 1 of 1 event(s) here: 1 processed." in out.getvalue()
    template = MessageTemplate.objects.get()
    assert (template.name, template.status) == ("abandoned_cart", "APPROVED")
    assert template.events.get(kind=EventKind.STATUS).source == EventSource.WEBHOOK
    assert WebhookEvent.objects.get().result == {"applied": 1}


# --- A template deleted and made again (same name and language, a new id) -----------


@pytest.mark.parametrize(
    ("fixture", "name", "language"),
    [
        ("template_status_paused", "abandoned_cart", "en"),
        ("template_quality_red", "welcome_template", "en_US"),
    ],
)
def test_a_late_event_about_the_replaced_template_leaves_the_new_one_alone(
    client, meta_webhooks, mailoutbox, fixture, name, language
):
    # given the template made again under a new id, approved after the event happened
    event_time = _event(fixture).occurred_at
    newer = event_time + timedelta(days=1)
    template = _template(
        meta_webhooks.channel,
        "999000111",
        name=name,
        language=language,
        status="APPROVED",
        status_updated_at=newer,
        quality_score="GREEN",
    )

    # when a retry of an event about the old id arrives late
    meta_webhooks.deliver(client, fixture)

    # then it is stale: the new template keeps its id, status, quality and times
    assert WebhookEvent.objects.get().result == {"stale": 1}
    template.refresh_from_db()
    assert template.provider_template_id == "999000111"
    assert (template.status, template.quality_score) == ("APPROVED", "GREEN")
    assert template.status_updated_at == newer
    assert TemplateEvent.objects.count() == 0
    assert mailoutbox == []


def test_a_newer_event_under_another_id_starts_the_new_template_s_life(meta_webhooks):
    # given a template known under an old id, last changed before the event
    event = _event("template_status_paused")
    template = _template(
        meta_webhooks.channel,
        "999000111",
        name="abandoned_cart",
        language="en",
        status="APPROVED",
        status_updated_at=event.occurred_at - timedelta(days=40),
    )

    # when Meta reports on the template made again under a new id
    outcome = services.template_status_apply(channel=meta_webhooks.channel, event=event)

    # then the row follows the new id and its status
    assert outcome == "applied"
    template.refresh_from_db()
    assert (template.provider_template_id, template.status) == (ABANDONED_CART, "PAUSED")
    assert template.status_updated_at == event.occurred_at


def test_a_status_change_is_recorded_in_the_outbox_once(meta_webhooks):
    channel = meta_webhooks.channel
    template = _template(channel, ABANDONED_CART, status="APPROVED")
    paused = _event("template_status_paused")

    services.template_status_apply(channel=channel, event=paused)
    services.template_status_apply(channel=channel, event=paused)

    (event,) = OutboxEvent.objects.all()
    assert event.type == "template.status_changed"
    assert (event.organization_id, event.channel_id) == (channel.organization_id, channel.pk)
    assert event.body["template_id"] == template.pk
    assert (event.body["previous_status"], event.body["status"]) == ("APPROVED", "PAUSED")
    assert event.body["source"] == "webhook"
