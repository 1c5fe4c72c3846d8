"""The admin in a real browser: sign in, read the dashboard, replay a failed webhook."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import Select, WebDriverWait

from providers import Provider
from tests.factories import UserFactory
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint
from webhooks import processing
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


@pytest.fixture
def failed_event(client, organization, monkeypatch) -> WebhookEvent:
    """A signed WhatsApp text message, received and stored, whose processing failed
    once (the failure is patched in, and out again: a replay succeeds)."""

    def explode(*, inbound, statuses, **_):
        raise RuntimeError("boom")

    provider = Provider.WHATSAPP_CLOUD
    whatsapp = Endpoint(provider, make_channel(organization, provider))
    monkeypatch.setattr(processing, "apply_conversation_events", explode)
    assert whatsapp.deliver(client, "text").status_code == 200
    monkeypatch.undo()
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.FAILED
    return event


def wait_for(browser, css: str, text: str = ""):
    located = (By.CSS_SELECTOR, css)
    condition = shown.text_to_be_present_in_element(located, text) if text else None
    WebDriverWait(browser, 10).until(condition or shown.visibility_of_element_located(located))
    return browser.find_element(*located)


def test_an_operator_replays_a_failed_webhook_from_the_dashboard(
    open_browser, live_server, failed_event
):
    # given a browser, a superuser, and a webhook whose processing failed
    browser = open_browser()
    UserFactory(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    channel = failed_event.channel_id

    # when they sign in through the login form
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()

    # then the index shows the dashboard, with the failed webhook in its channel's row
    wait_for(browser, "#operations h2", "Operations dashboard")
    failed = browser.find_element(
        By.CSS_SELECTOR,
        f'#operations td a[href*="status__exact=failed"][href$="channel__id__exact={channel}"]',
    )
    assert failed.text == "1"

    # when they open the failed-webhook queue from that figure
    failed.click()

    # then the event is listed as failed
    checkbox = wait_for(browser, f'input[name="_selected_action"][value="{failed_event.pk}"]')
    row = checkbox.find_element(By.XPATH, "./ancestor::tr")
    assert "Failed\nwill retry" in row.text  # the status, and under it what happens next
    assert "RuntimeError: boom" in row.text

    # when they select it and run "Replay now"
    checkbox.click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("replay_now")
    browser.find_element(By.CSS_SELECTOR, '#changelist-form button[name="index"]').click()

    # then the admin reports the replay, and the event's page says it was processed
    wait_for(browser, ".messagelist .success", "Replaying 1 event(s).")
    browser.get(f"{live_server.url}/admin/webhooks/webhookevent/{failed_event.pk}/change/")
    assert wait_for(browser, ".field-status_badge .readonly").text == "Processed"
    # and the dashboard no longer counts it
    browser.get(f"{live_server.url}/admin/")
    failed = wait_for(
        browser,
        f'#operations td a[href*="status__exact=failed"][href$="channel__id__exact={channel}"]',
    )
    assert failed.text == "0"
