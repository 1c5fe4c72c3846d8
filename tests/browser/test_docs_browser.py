"""Swagger UI in a real browser that cannot reach any other host: the docs page must
render from our own static files (it loaded swagger-ui-dist from a CDN, and was blank
offline)."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Every host name but the live server's resolves to nothing: no CDN, no font service.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"


def test_swagger_ui_renders_the_api_without_the_internet(open_browser, live_server):
    UserFactory(username="developer", is_staff=True)
    browser = open_browser(OFFLINE)

    # The docs are for signed-in people: the browser is sent to sign in, then back.
    browser.get(f"{live_server.url}/api/v1/docs/")
    browser.find_element(By.NAME, "username").send_keys("developer")
    browser.find_element(By.NAME, "password").send_keys("correct horse battery staple")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    wait = WebDriverWait(browser, 20)
    wait.until(
        shown.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".swagger-ui .info .title"), "Switchboard API"
        )
    )
    paths = {
        element.get_attribute("data-path")
        for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert "/api/v1/channels/" in paths
