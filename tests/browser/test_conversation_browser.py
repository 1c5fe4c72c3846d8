"""An agent answers a customer from the conversation page, in a real browser, through
a local fake of Meta's Graph API (real HTTP both ways: the send, and the status
webhook back); a staff member of another organization cannot open the page."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conversations.models import ContactIdentity, Conversation, IdentityKind, Message
from providers import Provider
from templates.models import MessageTemplate
from tenants.models import Role
from tests.browser.fake_graph import fake_graph
from tests.browser.test_admin_browser import PASSWORD, wait_for
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import SECRETS

pytestmark = pytest.mark.django_db(transaction=True)
# Screenshots of the page at 1,366 px, to look at after a change (CI may keep them).
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", tempfile.gettempdir())) / "switchboard"


def sign_in(browser, live_server, username: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait_for(browser, "#user-tools")


def shot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _conversation(channel, name: str, phone: str, wrote_ago: timedelta) -> Conversation:
    contact = ContactFactory(organization=channel.organization, name=name, phone=phone)
    ContactIdentity.objects.create(
        contact=contact, channel=channel, kind=IdentityKind.WA_ID, value=phone.lstrip("+")
    )
    wrote = timezone.now() - wrote_ago
    conversation = ConversationFactory(
        organization=channel.organization,
        channel=channel,
        contact=contact,
        last_user_message_at=wrote,
        window_expires_at=wrote + timedelta(hours=24),
        is_window_open=wrote_ago < timedelta(hours=24),
        unread_count=1,
    )
    MessageFactory(
        conversation=conversation, text="Hi! Where is my order #1042?", occurred_at=wrote
    )
    return conversation


def _earlier_exchange(conversation: Conversation) -> None:
    """Yesterday's messages: a read reply with a reaction, a photo, a failed send."""
    yesterday = timezone.now() - timedelta(days=1)
    MessageFactory(conversation=conversation, text="Do you ship to Lyon?", occurred_at=yesterday)
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        text="Yes, in 2 to 3 days.",
        status="read",
        sent_at=yesterday,
        read_at=yesterday + timedelta(minutes=2),
        provider_message_id="wamid.yes",
        occurred_at=yesterday + timedelta(minutes=1),
    )
    MessageFactory(
        conversation=conversation,
        type="image",
        text="This one",
        media={"mime_type": "image/jpeg", "id": "1029384756"},
        occurred_at=yesterday + timedelta(minutes=3),
    )
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        text="Ordered: one blue lamp.",
        status="failed",
        error_code="131026",
        error_title="Message undeliverable",
        occurred_at=yesterday + timedelta(minutes=4),
        provider_message_id="",
    )


@pytest.fixture
def world(settings, live_server):
    organization = OrganizationFactory(name="Acme")
    channel = make_channel(organization, Provider.WHATSAPP_CLOUD)
    channel.name = "Acme WhatsApp"
    channel.save(update_fields=["name"])
    agent = UserFactory(username="agent", is_staff=True)
    MembershipFactory(user=agent, organization=organization, role=Role.AGENT)
    outsider = UserFactory(username="outsider", is_staff=True)
    MembershipFactory(user=outsider, organization=OrganizationFactory(), role=Role.ADMIN)
    MessageTemplate.objects.create(
        organization=organization,
        channel=channel,
        provider_template_id="1387372356726668",
        name="order_update",
        language="en_US",
        category="UTILITY",
        parameter_format="NAMED",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Your order {{order}} ships on {{day}}."}],
    )
    with fake_graph(
        webhook_url=f"{live_server.url}/webhooks/whatsapp/",
        app_secret=SECRETS[Provider.WHATSAPP_CLOUD],
    ) as graph:
        settings.WHATSAPP_GRAPH_URL = graph.url
        olga = _conversation(channel, "Olga Open", "+16505551234", timedelta(minutes=10))
        _earlier_exchange(olga)
        yield {
            "graph": graph,
            "open": olga,
            "closed": _conversation(channel, "Carl Closed", "+16505559876", timedelta(hours=30)),
        }


def test_an_agent_answers_assigns_and_snoozes_and_an_outsider_gets_404(
    open_browser, live_server, world
):
    browser = open_browser()
    browser.set_window_size(1366, 900)
    page = f"{live_server.url}/admin/conversations/conversation/{{}}/change/"
    conversation, graph = world["open"], world["graph"]

    # given an agent signed in, on a conversation whose window is open
    sign_in(browser, live_server, "agent")
    browser.get(page.format(conversation.pk))
    wait_for(browser, "#thread", "Where is my order")
    assert "left, closes" in wait_for(browser, ".sb-window").text
    shot(browser, "conversation-open")

    # when they reply with free text
    browser.find_element(By.ID, "reply-text").send_keys("It ships today, Olga.")
    browser.find_element(By.CSS_SELECTOR, "#reply-form button[type=submit]").click()

    # then it is in the thread, queued, and the provider was asked to send it
    wait_for(browser, ".messagelist .success", "Queued for sending")
    mine = browser.find_elements(By.CSS_SELECTOR, ".sb-entry.sb-out")[-1]
    assert "It ships today, Olga." in mine.text
    assert "queued" in mine.text
    assert graph.sent[0]["text"]["body"] == "It ships today, Olga."

    # when Meta reports it sent (the status webhook), the page shows it sent
    graph.report_sent()
    browser.refresh()
    mine = browser.find_elements(By.CSS_SELECTOR, ".sb-entry.sb-out")[-1]
    assert "✓ sent" in mine.text
    shot(browser, "conversation-replied")

    # when they write an internal note
    browser.find_element(By.ID, "note-text").send_keys("Customer is a reseller: priority.")
    browser.find_element(By.CSS_SELECTOR, ".sb-note-form button[type=submit]").click()

    # then it is in the thread, marked as a note, and nothing more went to Meta
    wait_for(browser, ".messagelist .success", "Note added")
    assert "Customer is a reseller" in wait_for(browser, ".sb-entry.sb-note").text
    assert len(graph.sent) == 1
    shot(browser, "conversation-note")

    # when they assign it to themselves
    browser.find_element(By.ID, "assign-me").click()
    wait_for(browser, ".messagelist .success", "Assigned to agent.")
    assert wait_for(browser, "#current-assignee").text == "agent"

    # and snooze it for three days
    until = timezone.now() + timedelta(days=3)
    Select(browser.find_element(By.ID, "id_status")).select_by_value("snoozed")
    field = browser.find_element(By.ID, "id_until")
    browser.execute_script("arguments[0].value = arguments[1]", field, f"{until:%Y-%m-%dT%H:%M}")
    browser.find_element(By.CSS_SELECTOR, "#status-form button[type=submit]").click()
    wait_for(browser, ".messagelist .success", "Snoozed until")
    assert f"{until:%d %b %Y, %H:%M}" in wait_for(browser, "#current-status").text
    conversation.refresh_from_db()
    assert (conversation.assignee.username, conversation.status) == ("agent", "snoozed")

    # given a conversation whose window closed six hours ago
    closed = world["closed"]
    browser.get(page.format(closed.pk))

    # then the composer says so, and offers the approved template with its fields
    assert "The 24-hour window closed" in wait_for(browser, "#window-closed").text
    assert not browser.find_elements(By.ID, "reply-form")
    shot(browser, "conversation-closed")
    browser.find_element(By.NAME, "p:body:order").send_keys("#1042")
    browser.find_element(By.NAME, "p:body:day").send_keys("Friday")
    browser.find_element(By.CSS_SELECTOR, ".sb-template-form button[type=submit]").click()

    # then the template is sent
    wait_for(browser, ".messagelist .success", "Queued for sending")
    assert "Your order #1042 ships on Friday." in wait_for(browser, "#thread").text
    assert graph.sent[-1]["template"]["name"] == "order_update"
    assert Message.objects.filter(conversation=closed, direction="outbound").count() == 1

    # when a staff member of another organization signs in
    sign_in(browser, live_server, "outsider")
    browser.get(page.format(conversation.pk))

    # then the conversation's page is not found, and no list names it
    WebDriverWait(browser, 10).until(lambda b: "Not Found" in b.page_source)
    for listing in ("conversation", "message", "contact", "conversationnote"):
        browser.get(f"{live_server.url}/admin/conversations/{listing}/")
        wait_for(browser, "#changelist")  # the list itself, not a refusal
        for theirs in ("Olga Open", "Carl Closed", "It ships today", "reseller"):
            assert theirs not in browser.page_source, (listing, theirs)
