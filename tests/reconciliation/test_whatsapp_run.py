"""WhatsApp's reconciliation: the template sync and the number's status."""

import httpx
import pytest
import respx

from providers import Provider
from reconciliation import services
from reconciliation.models import RunStatus, RunTrigger
from tenants.models import ChannelEvent
from tests.templates.meta import list_pages, meta_template
from tests.webhooks.conftest import WHATSAPP_PHONE_NUMBER_ID, make_channel

pytestmark = pytest.mark.django_db

NUMBER_PATH = f"/v23.0/{WHATSAPP_PHONE_NUMBER_ID}"
GREEN = {"status": "CONNECTED", "quality_rating": "GREEN", "display_phone_number": "15550783881"}


@pytest.fixture
def whatsapp(db):
    from tests.factories import OrganizationFactory

    organization = OrganizationFactory(alert_emails="oncall@example.com")
    return make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")


def _run(channel):
    run = services.run_create(channel=channel, trigger=RunTrigger.SCHEDULE)
    return services.run_execute(run_id=run.pk)


@respx.mock
def test_the_run_syncs_templates_and_records_the_numbers_state_once(
    whatsapp, django_capture_on_commit_callbacks, mailoutbox
):
    respx.get(host="graph.facebook.com", path=NUMBER_PATH).mock(
        return_value=httpx.Response(200, json=GREEN)
    )
    list_pages(respx.mock, [meta_template("welcome", "1387372356726668")])

    with django_capture_on_commit_callbacks(execute=True):
        first = _run(whatsapp)
        again = _run(whatsapp)

    assert (first.status, first.created) == (RunStatus.SUCCEEDED, 1)
    assert first.findings["number"]["quality_rating"] == "GREEN"
    assert (again.created, again.unchanged) == (0, 1)
    assert ChannelEvent.objects.filter(channel=whatsapp, kind="phone_number_status").count() == 1
    assert mailoutbox == []  # a healthy number alerts nobody


@respx.mock
def test_a_number_turned_red_is_recorded_and_alerted(
    whatsapp, django_capture_on_commit_callbacks, mailoutbox
):
    respx.get(host="graph.facebook.com", path=NUMBER_PATH).mock(
        side_effect=[
            httpx.Response(200, json=GREEN),
            httpx.Response(200, json={**GREEN, "quality_rating": "RED"}),
        ]
    )
    list_pages(respx.mock, [], [])

    with django_capture_on_commit_callbacks(execute=True):
        _run(whatsapp)
        _run(whatsapp)

    assert ChannelEvent.objects.filter(channel=whatsapp, kind="phone_number_status").count() == 2
    assert len(mailoutbox) == 1
    assert "quality rating is red" in mailoutbox[0].subject
