"""POST and GET /api/v1/reconciliation-runs."""

import pytest
import respx
import time_machine

from providers import Provider
from reconciliation.models import ReconciliationRun
from tests.reconciliation.test_runs import LIST_URL, SID, UNTIL, _message, _pages
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

URL = "/api/v1/reconciliation-runs"


@pytest.fixture
def twilio(organization):
    return make_channel(
        organization, Provider.TWILIO, account_id=SID, display_phone_number="+14155550100"
    )


@respx.mock
@time_machine.travel(UNTIL, tick=False)  # the run reads back from now; the data is dated
def test_an_admin_starts_a_run_that_a_worker_carries_out(
    admin_client, twilio, django_capture_on_commit_callbacks
):
    respx.get(url__startswith=LIST_URL).mock(side_effect=_pages([_message(1)]))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(URL, {"channel": twilio.pk}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    run = ReconciliationRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.created, run.trigger) == ("succeeded", 1, "api")


def test_agents_may_not_start_runs(agent_client, twilio):
    assert agent_client.post(URL, {"channel": twilio.pk}, format="json").status_code == 403


def test_another_organizations_channel_is_a_field_error(admin_client, other_organization):
    theirs = make_channel(other_organization, Provider.TWILIO, account_id=SID)

    response = admin_client.post(URL, {"channel": theirs.pk}, format="json")

    assert response.status_code == 400
    assert "channel" in response.json()["details"]


def test_everyone_reads_their_organizations_runs_only(viewer_client, twilio, other_organization):
    mine = ReconciliationRun.objects.create(
        organization=twilio.organization,
        channel=twilio,
        window_start="2026-11-18T00:00:00Z",
        window_end="2026-11-20T00:00:00Z",
        trigger="schedule",
    )
    theirs_channel = make_channel(other_organization, Provider.TWILIO, account_id=SID)
    theirs = ReconciliationRun.objects.create(
        organization=other_organization,
        channel=theirs_channel,
        window_start="2026-11-18T00:00:00Z",
        window_end="2026-11-20T00:00:00Z",
        trigger="schedule",
    )

    listed = viewer_client.get(URL).json()["results"]

    assert [run["id"] for run in listed] == [mine.pk]
    assert viewer_client.get(f"{URL}/{theirs.pk}").status_code == 404
    assert viewer_client.get(f"{URL}/{mine.pk}").json()["channel"]["id"] == twilio.pk


def test_a_bad_window_is_refused(admin_client, twilio):
    response = admin_client.post(
        URL,
        {"channel": twilio.pk, "since": "2026-11-20T00:00:00Z", "until": "2026-11-19T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert "since" in response.json()["details"]
