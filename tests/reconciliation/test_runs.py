"""Reconciliation runs against faked provider APIs: paging, rate limits, resume,
idempotent reruns, gaps filled exactly."""

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from django.core.management import call_command
from django.core.management.base import CommandError

from conversations.models import Conversation, Message
from providers import Provider
from reconciliation import paging, services
from reconciliation.models import ReconciliationRun, RunStatus, RunTrigger
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

SID = "AC" + "1" * 32
LIST_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
UNTIL = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=48)


@pytest.fixture
def twilio(organization):
    return make_channel(
        organization,
        Provider.TWILIO,
        account_id=SID,
        display_phone_number="+14155550100",
        window_policy="always_open",
    )


def _message(n: int, *, inbound: bool = True, status: str = "received", at=None) -> dict:
    at = at or UNTIL - timedelta(hours=1, minutes=n)
    customer = f"+1650555{n % 7:04d}"
    return {
        "sid": f"SM{n:032d}",
        "direction": "inbound" if inbound else "outbound-api",
        "from": customer if inbound else "+14155550100",
        "to": "+14155550100" if inbound else customer,
        "body": f"Message {n}",
        "status": status,
        "num_media": "0",
        "error_code": 30003 if status == "undelivered" else None,
        "error_message": "Unreachable" if status == "undelivered" else None,
        "date_created": format_datetime(at),
        "date_sent": format_datetime(at),
    }


def _page(messages: list[dict], next_uri: str | None) -> httpx.Response:
    return httpx.Response(200, json={"messages": messages, "next_page_uri": next_uri})


def _next_uri(n: int) -> str:
    return f"/2010-04-01/Accounts/{SID}/Messages.json?PageSize=2&Page={n}&PageToken=PA{n}"


def _pages(*pages: list[dict]) -> list[httpx.Response]:
    return [
        _page(page, _next_uri(i + 1) if i + 1 < len(pages) else None)
        for i, page in enumerate(pages)
    ]


def _run(channel):
    run = services.run_create(channel=channel, trigger=RunTrigger.COMMAND, since=SINCE, until=UNTIL)
    return services.run_execute(run_id=run.pk)


@respx.mock
def test_every_page_is_read_and_the_missing_messages_filed(twilio):
    route = respx.get(url__startswith=LIST_URL).mock(
        side_effect=_pages(
            [_message(1), _message(2)], [_message(3, inbound=False, status="delivered")]
        )
    )

    run = _run(twilio)

    assert run.status == RunStatus.SUCCEEDED
    assert route.call_count == 2
    assert "PageToken=PA1" in str(route.calls[1].request.url)
    assert (run.fetched, run.created, run.updated) == (3, 3, 1)
    assert Message.objects.filter(channel=twilio).count() == 3
    sent = Message.objects.get(provider_message_id=f"SM{3:032d}")
    assert (sent.direction, sent.status) == ("outbound", "delivered")
    assert Conversation.objects.filter(channel=twilio).count() == 3


@respx.mock
def test_a_second_run_changes_nothing(twilio):
    respx.get(url__startswith=LIST_URL).mock(
        side_effect=[*_pages([_message(1), _message(2)]), *_pages([_message(1), _message(2)])]
    )
    _run(twilio)

    again = _run(twilio)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Message.objects.filter(channel=twilio).count() == 2


@respx.mock
def test_only_the_gap_is_filled(twilio):
    known = _message(1)
    _run_with(twilio, [[known]])

    run = _run_with(twilio, [[known, _message(2)]])

    assert (run.created, run.unchanged) == (1, 1)
    assert sorted(Message.objects.values_list("text", flat=True)) == ["Message 1", "Message 2"]


def _run_with(channel, pages):
    respx.get(url__startswith=LIST_URL).mock(side_effect=_pages(*pages))
    return _run(channel)


@respx.mock
def test_a_short_rate_limit_is_waited_out(twilio, monkeypatch):
    waits = []
    monkeypatch.setattr(paging.time, "sleep", waits.append)
    respx.get(url__startswith=LIST_URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), *_pages([_message(1)])]
    )

    run = _run(twilio)

    assert waits == [3.0]
    assert (run.status, run.created) == (RunStatus.SUCCEEDED, 1)


@respx.mock
def test_a_failed_run_resumes_from_its_cursor(twilio):
    route = respx.get(url__startswith=LIST_URL).mock(
        side_effect=[
            _page([_message(1)], _next_uri(1)),
            httpx.Response(429, headers={"Retry-After": "3600"}),
        ]
    )
    failed = _run(twilio)
    assert (failed.status, failed.created) == (RunStatus.FAILED, 1)
    route.side_effect = [_page([_message(2)], None)]

    resumed = services.run_execute(run_id=failed.pk)

    assert resumed.status == RunStatus.SUCCEEDED
    assert "PageToken=PA1" in str(route.calls.last.request.url)  # not the first page again
    assert (resumed.fetched, resumed.created) == (2, 2)


@respx.mock
def test_a_status_the_webhook_missed_is_corrected(twilio):
    respx.get(url__startswith=LIST_URL).mock(
        side_effect=[
            *_pages([_message(5, inbound=False, status="sent")]),
            *_pages([_message(5, inbound=False, status="undelivered")]),
        ]
    )
    _run(twilio)

    corrected = _run(twilio)

    message = Message.objects.get(provider_message_id=f"SM{5:032d}")
    assert (message.status, message.error_code) == ("failed", "30003")
    assert corrected.updated == 1


def test_whatsapp_reconciles_templates_not_messages(organization):
    whatsapp = make_channel(organization, Provider.WHATSAPP_CLOUD)

    run = services.run_create(channel=whatsapp, trigger=RunTrigger.ADMIN)

    assert run.kind == "templates"


@respx.mock
def test_the_command_prints_progress_and_a_summary(twilio, capsys):
    respx.get(url__startswith=LIST_URL).mock(side_effect=_pages([_message(1)], [_message(2)]))

    call_command(
        "reconcile",
        "--channel",
        str(twilio.pk),
        "--since",
        SINCE.isoformat(),
        "--until",
        UNTIL.isoformat(),
    )

    out = capsys.readouterr().out
    assert "2 pages" in out
    assert "created    2" in out


@respx.mock
def test_the_command_fails_loudly_and_says_how_to_resume(twilio):
    respx.get(url__startswith=LIST_URL).mock(return_value=httpx.Response(401, json={"code": 20003}))

    with pytest.raises(CommandError, match="--resume"):
        # "=": a key may begin with "-", which would read as an option of its own.
        call_command("reconcile", f"--channel={twilio.key}")


@respx.mock
def test_reconcile_now_from_the_channel_admin_runs_and_lists_the_run(
    client, twilio, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    respx.get(url__startswith=LIST_URL).mock(side_effect=_pages([_message(1)]))

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/admin/tenants/channel/",
            {"action": "reconcile_now", "_selected_action": [twilio.pk]},
            follow=True,
        )

    assert f"Messages run {ReconciliationRun.objects.get().pk} queued" in page.content.decode()
    runs = client.get("/admin/reconciliation/reconciliationrun/").content.decode()
    assert "Succeeded" in runs


@respx.mock
def test_the_next_page_is_read_while_one_is_applied(twilio, monkeypatch):
    route = respx.get(url__startswith=LIST_URL).mock(
        side_effect=_pages([_message(1)], [_message(2)], [_message(3)])
    )
    requested_by_apply: list[int] = []
    apply = services._apply

    def apply_once_the_next_page_is_asked_for(run, batch):
        expected = min(len(requested_by_apply) + 2, 3)  # this page's, and the next
        deadline = time.monotonic() + 5
        while route.call_count < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        requested_by_apply.append(route.call_count)
        apply(run, batch)

    monkeypatch.setattr(services, "_apply", apply_once_the_next_page_is_asked_for)
    run = _run(twilio)

    assert requested_by_apply == [2, 3, 3]
    assert (run.status, run.fetched, Message.objects.count()) == ("succeeded", 3, 3)
