"""The Reports page in a real browser, on a 1,366 x 900 laptop screen: the charts are
drawn with their data, a quick range changes the days shown, a table's CSV downloads,
and nothing scrolls sideways. The selectors give fixed rows (tests.reports.fixed_rows):
this is about the page, not the figures."""

import time

import pytest
from selenium.webdriver.common.by import By

from tenants.models import Role
from tests.browser.test_admin_browser import wait_for
from tests.browser.test_conversation_browser import shot, sign_in
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory, UserFactory
from tests.reports.fixed_rows import patch_selectors

pytestmark = pytest.mark.django_db(transaction=True)
WIDTH, HEIGHT = 1366, 900


@pytest.fixture
def acme(monkeypatch):
    patch_selectors(monkeypatch)
    organization = OrganizationFactory(name="Acme", slug="acme", timezone="Europe/Berlin")
    ChannelFactory(organization=organization, name="Customer Care EMEA (+44 main line)")
    operator = UserFactory(username="operator", is_staff=True)
    MembershipFactory(user=operator, organization=organization, role=Role.ADMIN)
    return organization


def points(browser, chart_id: str) -> list[tuple[str, str]]:
    circles = browser.find_elements(By.CSS_SELECTOR, f"#{chart_id} circle.point")
    return [(c.get_attribute("data-series"), c.get_attribute("data-value")) for c in circles]


def test_the_reports_page_draws_its_charts_and_downloads_csv(
    open_browser, live_server, acme, tmp_path
):
    browser = open_browser()
    browser.set_window_size(WIDTH, HEIGHT)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    sign_in(browser, live_server, "operator")

    # the index links to the page; it opens on the last 30 days
    browser.find_element(By.CSS_SELECTOR, "a[href='/admin/reports/']").click()
    wait_for(browser, "#inbox-title", "Inbox")
    assert len(points(browser, "chart-messages")) == 60  # 30 days, in and out
    assert points(browser, "chart-messages")[:3] == [("In", "3"), ("In", "5"), ("In", "0")]
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('svg.sb-chart')].map("
        "s => [s.id, s.getBoundingClientRect().width, s.querySelectorAll('[data-value]').length])"
    )
    assert {chart_id for chart_id, *_ in drawn} >= {
        "chart-messages", "chart-conversations", "chart-first-response", "chart-refusals",
        "chart-campaign-days", "chart-funnel-5", "chart-usage-7-invitation",
    }  # fmt: skip
    assert all(width > 300 and values > 0 for _, width, values in drawn), drawn
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    ), "the page scrolls sideways at 1,366 px"
    shot(browser, "reports-page")
    # and the whole page at that width, for a look at every section
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, height + 140)
    shot(browser, "reports-page-full")
    browser.set_window_size(WIDTH, HEIGHT)

    # when they pick the last 7 days
    browser.find_element(By.LINK_TEXT, "Last 7 days").click()
    wait_for(browser, "#inbox-title", "Inbox")
    assert len(points(browser, "chart-messages")) == 14
    start = browser.find_element(By.ID, "id_from").get_attribute("value")
    assert f"from={start}" in browser.current_url

    # and type a range of their own
    browser.execute_script(
        "document.getElementById('id_from').value = arguments[0];"
        "document.getElementById('id_to').value = arguments[1];",
        "2026-11-02",
        "2026-11-04",
    )
    browser.find_element(By.ID, "apply-filters").click()
    wait_for(browser, ".sb-quick .sb-note", "Mon 2 Nov 2026 to Wed 4 Nov 2026")
    assert [label for _, label in _labels(browser)] == ["Nov 2", "Nov 3", "Nov 4"]

    # then a table's CSV downloads with those days
    browser.find_element(By.CSS_SELECTOR, "a.csv[data-table='inbox_agents']").click()
    downloaded = tmp_path / "acme_inbox_agents_2026-11-02_2026-11-04.csv"
    for _ in range(50):
        if downloaded.exists():
            break
        time.sleep(0.1)
    assert downloaded.read_text().splitlines()[1].startswith("1,kim,")


def _labels(browser) -> list[tuple[str, str]]:
    circles = browser.find_elements(By.CSS_SELECTOR, "#chart-messages circle.point")
    return [(c.get_attribute("data-series"), c.get_attribute("data-label")) for c in circles][:3]
