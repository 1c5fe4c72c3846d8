"""The template sync: Meta's list read to its last page, applied, and respected when
Meta says "not now"."""

from datetime import timedelta
from io import StringIO

import pytest
from celery.exceptions import Retry
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app
from providers import Provider
from providers.http import ProviderError
from reconciliation.schedules import PERIODIC_TASKS, periodic_tasks_install
from templates import services
from templates.models import EventKind, MessageTemplate
from templates.tasks import (
    TRANSIENT_RETRY_SECONDS,
    templates_sync_all_task,
    templates_sync_task,
)
from tests.factories import ChannelFactory, MessageTemplateFactory
from tests.templates.meta import RATE_LIMITED, list_pages, meta_error, meta_template

pytestmark = pytest.mark.django_db


def _history(template: MessageTemplate) -> list[tuple]:
    return list(
        template.events.order_by("id").values_list("kind", "source", "old_value", "new_value")
    )


def test_sync_reads_every_page_and_creates_the_templates(
    graph, channel, mailoutbox, django_capture_on_commit_callbacks
):
    route = list_pages(
        graph,
        [meta_template("order_update", "101"), meta_template("welcome", "102", quality=None)],
        [
            meta_template("spring_sale", "103", category="MARKETING", status="REJECTED"),
            meta_template("login_code", "104", category="AUTHENTICATION", status="PENDING"),
        ],
        [meta_template("order_update", "105", language="pt_BR", quality="RED")],
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = services.templates_sync(channel=channel)

    assert (report.created, report.updated, report.unchanged, report.removed) == (5, 0, 0, 0)
    assert report.complete
    assert route.call_count == 3
    assert [call.request.url.params.get("after") for call in route.calls] == [
        None,
        "cursor-1",
        "cursor-2",
    ]
    assert route.calls[0].request.headers["Authorization"] == "Bearer test-access-token"
    templates = {(t.name, t.language): t for t in MessageTemplate.objects.all()}
    assert set(templates) == {
        ("order_update", "en_US"),
        ("welcome", "en_US"),
        ("spring_sale", "en_US"),
        ("login_code", "en_US"),
        ("order_update", "pt_BR"),
    }
    sale = templates["spring_sale", "en_US"]
    assert (sale.provider_template_id, sale.status, sale.category, sale.quality_score) == (
        "103",
        "REJECTED",
        "MARKETING",
        "GREEN",
    )
    assert sale.components[0]["text"] == "Your order {{1}} is on its way."
    assert sale.organization == channel.organization
    assert sale.last_synced_at is not None
    assert templates["welcome", "en_US"].quality_score == "UNKNOWN"
    assert _history(sale) == [("created", "sync", "", "REJECTED")]
    assert mailoutbox == []  # what a first sync finds is not news


def test_sync_updates_what_changed_and_alerts_when_sends_stop(
    graph, channel, mailoutbox, django_capture_on_commit_callbacks
):
    approved = MessageTemplateFactory(channel=channel, provider_template_id="201", status="PENDING")
    paused = MessageTemplateFactory(channel=channel, provider_template_id="202")
    recategorised = MessageTemplateFactory(channel=channel, provider_template_id="203")
    same = MessageTemplateFactory(
        channel=channel,
        provider_template_id="204",
        quality_score="GREEN",
        components=meta_template("x", "204")["components"],
    )
    list_pages(
        graph,
        [
            meta_template(approved.name, "201", status="APPROVED"),
            meta_template(paused.name, "202", status="PAUSED", quality="RED"),
            meta_template(recategorised.name, "203", category="MARKETING"),
            meta_template(same.name, "204"),
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = services.templates_sync(channel=channel)

    assert (report.created, report.updated, report.unchanged, report.removed) == (0, 3, 1, 0)
    approved.refresh_from_db()
    assert approved.status == "APPROVED"
    assert ("status", "sync", "PENDING", "APPROVED") in _history(approved)
    paused.refresh_from_db()
    assert (paused.status, paused.quality_score) == ("PAUSED", "RED")
    assert {("status", "sync", "APPROVED", "PAUSED"), ("quality", "sync", "UNKNOWN", "RED")} <= set(
        _history(paused)
    )
    recategorised.refresh_from_db()
    assert recategorised.category == "MARKETING"
    same.refresh_from_db()
    assert not same.events.exists()
    assert same.last_synced_at is not None
    subjects = sorted(mail.subject for mail in mailoutbox)
    assert len(subjects) == 3
    assert any(f"{paused.name} (en_US) is paused" in s for s in subjects)
    assert any(f"{paused.name} (en_US) has a red quality score" in s for s in subjects)
    assert any("from UTILITY to MARKETING" in s for s in subjects)


def test_a_second_sync_with_nothing_new_changes_nothing(
    graph, channel, mailoutbox, django_capture_on_commit_callbacks
):
    list_pages(graph, [meta_template("order_update", "101", status="PAUSED")])
    services.templates_sync(channel=channel)

    with django_capture_on_commit_callbacks(execute=True):
        report = services.templates_sync(channel=channel)

    assert (report.created, report.updated, report.unchanged, report.removed) == (0, 0, 1, 0)
    assert MessageTemplate.objects.get().events.count() == 1  # created, nothing since
    assert mailoutbox == []


def test_a_template_deleted_on_meta_is_marked_removed_and_keeps_its_history(graph, channel):
    kept = MessageTemplateFactory(channel=channel, provider_template_id="301")
    gone = MessageTemplateFactory(channel=channel, provider_template_id="302")
    gone.events.create(
        kind="status", source="webhook", new_value="APPROVED", occurred_at=gone.created_at
    )
    list_pages(graph, [meta_template(kept.name, "301")])

    report = services.templates_sync(channel=channel)

    assert report.removed == 1
    gone.refresh_from_db()
    assert gone.is_deleted
    assert gone.removed_at is not None
    assert [kind for kind, *_ in _history(gone)] == ["status", "removed"]
    assert gone.events.get(kind=EventKind.REMOVED).source == "sync"
    kept.refresh_from_db()
    assert not kept.is_deleted
    assert services.templates_sync(channel=channel).removed == 0  # not removed twice


def test_a_removed_template_listed_again_comes_back(graph, channel):
    template = MessageTemplateFactory(channel=channel, provider_template_id="401", is_deleted=True)
    list_pages(graph, [meta_template(template.name, "401")])

    report = services.templates_sync(channel=channel)

    assert report.updated == 1
    template.refresh_from_db()
    assert (template.is_deleted, template.removed_at) == (False, None)


def test_meta_s_rate_limit_stops_the_sync_and_nothing_is_removed(graph, channel):
    unseen = MessageTemplateFactory(channel=channel, provider_template_id="999")
    route = list_pages(graph, [meta_template("order_update", "101")], RATE_LIMITED)

    report = services.templates_sync(channel=channel)

    assert report.rate_limited
    assert not report.complete
    assert (report.created, report.removed) == (1, 0)
    assert "80007" in report.error
    assert "stopped by Meta's rate limit" in report.summary()
    assert route.call_count == 2  # no retry against the limit
    unseen.refresh_from_db()
    assert not unseen.is_deleted  # the list was not read to its end


def test_after_the_rate_limit_nothing_asks_meta_again_for_a_while(graph, channel):
    route = list_pages(graph, RATE_LIMITED)
    services.templates_sync(channel=channel)

    again = services.templates_sync(channel=channel)

    assert again.rate_limited
    assert again.retry_after > 0
    assert route.call_count == 1


def test_another_meta_error_fails_the_sync(graph, channel):
    list_pages(graph, meta_error(190, "Error validating access token", status=401))

    with pytest.raises(ProviderError) as raised:
        services.templates_sync(channel=channel)

    assert raised.value.code == "190"


# --- The schedule, the tasks and the command -------------------------------------------


def test_the_scheduled_task_syncs_every_active_whatsapp_channel_with_a_waba(graph, organization):
    synced = ChannelFactory(organization=organization)
    ChannelFactory(organization=organization, is_active=False)
    ChannelFactory(organization=organization, waba_id="")
    ChannelFactory(organization=organization, provider=Provider.TWILIO, waba_id="")
    route = list_pages(graph, [meta_template("order_update", "101")])

    result = templates_sync_all_task.delay().get()  # eager: each channel's task runs here

    assert result == {"queued": [synced.pk]}
    assert route.call_count == 1
    assert MessageTemplate.objects.get().channel == synced


def test_the_task_asks_to_retry_when_meta_is_down_but_not_when_it_refuses(graph, channel):
    list_pages(graph, meta_error(2, "Service temporarily unavailable", status=503))

    with pytest.raises(Retry) as retry:
        templates_sync_task.delay(channel.pk)

    assert retry.value.when == TRANSIENT_RETRY_SECONDS  # soon, not a long countdown
    graph.routes.clear()
    list_pages(graph, meta_error(190, "Error validating access token", status=401))

    with pytest.raises(ProviderError) as refused:
        templates_sync_task.delay(channel.pk)

    assert refused.value.code == "190"


def test_the_sync_is_scheduled_every_six_hours_on_the_maintenance_queue(db):
    spec = next(spec for spec in PERIODIC_TASKS if spec.name == "Sync WhatsApp templates")

    periodic_tasks_install(specs=[spec])

    task = PeriodicTask.objects.get(name="Sync WhatsApp templates")
    assert (task.task, task.queue) == ("templates.tasks.templates_sync_all_task", "maintenance")
    assert task.crontab.hour == "*/6"
    assert spec.task in celery_app.tasks
    route = celery_app.amqp.router.route({}, "templates.tasks.templates_sync_task")
    assert route["queue"].name == "maintenance"


def test_the_command_prints_a_summary_per_channel(graph, channel):
    list_pages(graph, [meta_template("order_update", "101"), meta_template("welcome", "102")])
    out = StringIO()

    call_command("sync_templates", "--channel", str(channel.pk), stdout=out)

    output = out.getvalue()
    assert f"#{channel.pk} {channel.name}" in output
    assert "2 created, 0 updated, 0 unchanged, 0 removed" in output
    assert "Synced 1 channel(s)." in output


def test_the_command_refuses_an_unknown_channel(db):
    with pytest.raises(CommandError, match="No active WhatsApp channel"):
        call_command("sync_templates", "--channel", "424242", stdout=StringIO())


def test_the_sync_follows_a_new_id_whatever_times_the_old_one_holds(graph, channel):
    # given a template whose last webhook was stamped ahead of our clock
    template = MessageTemplateFactory(
        channel=channel,
        provider_template_id="501",
        status_updated_at=timezone.now() + timedelta(minutes=5),
    )
    # when Meta lists it (deleted and made again) under a new id
    list_pages(graph, [meta_template(template.name, "502", status="PENDING")])

    services.templates_sync(channel=channel)

    # then the row follows the template Meta has now
    template.refresh_from_db()
    assert (template.provider_template_id, template.status) == ("502", "PENDING")
