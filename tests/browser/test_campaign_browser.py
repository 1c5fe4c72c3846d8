"""An operator runs a campaign from the admin in a real browser: uploads a CSV of
leads (a line in error shown, then skipped), starts the campaign, watches the first
sends reach a local fake of Meta's Graph API over real HTTP, and sees a lead's reply
(a signed webhook through the real endpoint) stop that lead."""

import json
import time
from datetime import UTC, datetime
from datetime import time as wall_time

import httpx
import pytest
from selenium.webdriver.common.by import By

from campaigns.models import Campaign, Enrollment, EnrollmentState, Step, StepKind
from campaigns.scheduler import scheduler_tick
from providers import Provider
from templates.models import MessageTemplate
from tenants.models import Role
from tests.browser.fake_graph import PHONE_NUMBER_ID, WABA_ID, fake_graph
from tests.browser.test_admin_browser import wait_for
from tests.browser.test_conversation_browser import shot, sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.signers import whatsapp_cloud
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import SECRETS

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = (
    "Phone,First Name,Company,Plan\n"
    "+1 650 555 1234,Kim,Acme,gold\n"
    "(650) 555-9876,Lou,Globex,silver\n"
    "12345,Typo,Nowhere,\n"
    "6505551234,Kimberly,,\n"
)


def _midday_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now: inside the campaign's sending
    hours whatever the hour the test runs at (Etc/GMT-N is UTC+N)."""
    offset = 12 - now.astimezone(UTC).hour  # -11 .. +12
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT-{offset}" if offset > 0 else f"Etc/GMT+{-offset}"


@pytest.fixture
def world(settings, live_server, tmp_path):
    organization = OrganizationFactory(name="Acme")
    channel = make_channel(organization, Provider.WHATSAPP_CLOUD)
    operator = UserFactory(username="operator", is_staff=True)
    MembershipFactory(user=operator, organization=organization, role=Role.ADMIN)
    MessageTemplate.objects.create(
        organization=organization,
        channel=channel,
        provider_template_id="1387372356726669",
        name="spring_intro",
        language="en_US",
        category="MARKETING",
        parameter_format="NAMED",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hello {{first_name}}, news for {{company}}."}],
    )
    campaign = Campaign.objects.create(
        organization=organization,
        channel=channel,
        owner=operator,
        name="Spring intro",
        timezone=_midday_zone(datetime.now(UTC)),
        send_start=wall_time(6, 0),
        send_end=wall_time(18, 0),
        send_days=[0, 1, 2, 3, 4, 5, 6],
    )
    Step.objects.create(
        campaign=campaign,
        position=1,
        kind=StepKind.WHATSAPP_TEMPLATE,
        template_name="spring_intro",
        template_language="en_US",
        template_parameters={
            "body": {"first_name": "{{first_name|there}}", "company": "{{company|your team}}"}
        },
    )
    Step.objects.create(
        campaign=campaign, position=2, kind=StepKind.TEXT, delay_amount=2, text="Any news?"
    )
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS)
    with fake_graph(
        webhook_url=f"{live_server.url}/webhooks/whatsapp/",
        app_secret=SECRETS[Provider.WHATSAPP_CLOUD],
    ) as graph:
        settings.WHATSAPP_GRAPH_URL = graph.url
        yield {"campaign": campaign, "graph": graph, "leads": leads}


def _reply(live_server, wa_id: str, text: str) -> None:
    """The lead writes back: Meta's message webhook, signed as Meta signs it."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Kim"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.reply.{wa_id}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    headers = {
        **whatsapp_cloud.sign(body, SECRETS[Provider.WHATSAPP_CLOUD]),
        "Content-Type": "application/json",
    }
    httpx.post(f"{live_server.url}/webhooks/whatsapp/", content=body, headers=headers, timeout=10)


def test_an_operator_uploads_leads_starts_and_a_reply_stops_that_lead(
    open_browser, live_server, world
):
    browser = open_browser()
    browser.set_window_size(1366, 900)
    campaign, graph = world["campaign"], world["graph"]
    page = f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/"

    # given the operator on the campaign's page
    sign_in(browser, live_server, "operator")
    browser.get(page)
    wait_for(browser, "#campaign-panel")
    shot(browser, "campaign-draft")

    # when they upload the CSV and ask for a preview
    browser.find_element(By.ID, "upload-audience").click()
    browser.find_element(By.NAME, "file").send_keys(str(world["leads"]))
    browser.find_element(By.NAME, "default_region").send_keys("US")
    browser.find_element(By.ID, "preview-button").click()

    # then the bad line is named, Kim's two lines are one lead, and nothing can be imported yet
    assert "12345" in wait_for(browser, "#line-errors", "not a valid phone number").text
    assert wait_for(browser, "#r-enrolled").text == "2"
    assert not browser.find_elements(By.ID, "confirm-import")
    shot(browser, "campaign-audience-errors")

    # when they choose to skip the line in error, preview again and confirm
    browser.find_element(By.NAME, "file").send_keys(str(world["leads"]))
    browser.find_element(By.NAME, "skip_invalid").click()
    browser.find_element(By.ID, "preview-button").click()
    wait_for(browser, "#confirm-import").click()

    # then two leads are enrolled, and the preview shows each one's own first message
    wait_for(browser, ".messagelist .success", "Enrolled 2 lead(s)")
    assert wait_for(browser, "#p-enrolled").text == "2"
    preview = wait_for(browser, "#preview").text
    assert "Hello Kim, news for Acme." in preview
    assert "Hello Lou, news for Globex." in preview

    # when they start the campaign, and the scheduler runs
    browser.find_element(By.ID, "do-start").click()
    wait_for(browser, ".messagelist .success", "Started.")
    scheduler_tick()

    # then the first sends reached the provider, personalized per lead
    sent = {message["to"]: message for message in graph.sent}
    assert set(sent) == {"16505551234", "16505559876"} or set(sent) == {
        "+16505551234",
        "+16505559876",
    }
    bodies = [
        [p["text"] for c in message["template"]["components"] for p in c["parameters"]]
        for message in graph.sent
    ]
    assert sorted(bodies) == [["Kim", "Acme"], ["Lou", "Globex"]]
    browser.refresh()
    assert wait_for(browser, "#step-progress .p-sent").text == "2"
    shot(browser, "campaign-running")

    # when Kim replies (a signed webhook), and the scheduler runs again
    _reply(live_server, "16505551234", "Interested, call me")
    scheduler_tick()

    # then Kim is stopped as replied; Lou still runs, and nothing more went out
    states = dict(Enrollment.objects.values_list("fields__first_name", "state"))
    assert states == {"Kim": EnrollmentState.REPLIED, "Lou": EnrollmentState.ACTIVE}
    assert len(graph.sent) == 2
    browser.refresh()
    assert wait_for(browser, "#p-replied").text == "1"
    browser.find_element(By.ID, "enrollments-link").click()
    assert "Replied" in wait_for(browser, "#result_list", "Replied").text
    shot(browser, "campaign-replied")
