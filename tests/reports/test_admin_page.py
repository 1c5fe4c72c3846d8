"""The admin's Reports page: who sees which organization, what its sections show for
given figures (the selectors patched to fixed rows), its date range and its CSVs."""

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
import time_machine

from tenants.models import Role
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory, UserFactory
from tests.reports.fixed_rows import patch_selectors

pytestmark = pytest.mark.django_db
URL = "/admin/reports/"
NS = {"svg": "http://www.w3.org/2000/svg"}


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def fixed_rows(monkeypatch):
    return patch_selectors(monkeypatch)


def member(organization, role=Role.VIEWER, **user):
    membership = MembershipFactory(
        organization=organization, role=role, user=UserFactory(is_staff=True, **user)
    )
    return membership.user


def svgs(content: str) -> list[ET.Element]:
    """The page's charts (not the admin's theme icons), parsed."""
    found = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="sb-chart".*?</svg>',
                       content, re.S)  # fmt: skip
    return [ET.fromstring(markup) for markup in found]  # noqa: S314 - our own page


def test_a_member_sees_their_organizations_reports(client, clock, fixed_rows):
    # given a viewer of Acme
    acme = OrganizationFactory(name="Acme", timezone="Europe/Berlin")
    client.force_login(member(acme))

    # when they open the Reports page for three days
    response = client.get(URL, {"organization": acme.pk, "from": "2026-11-02", "to": "2026-11-04"})

    # then the page shows the inbox tiles, the tables and the charts of those days
    assert response.status_code == 200
    page = response.content.decode()
    assert "Reports: Acme" in page
    assert "87.5%" in page
    assert "10 min" in page
    assert "1 h 30 min" in page
    assert "Spring &lt;intro&gt;" in page
    assert "<intro>" not in page
    charts = {svg.get("id"): svg for svg in svgs(page)}
    messages = charts["chart-messages"]
    points = [
        (c.get("data-series"), c.get("data-label"), c.get("data-value"))
        for c in messages.iterfind(".//svg:circle", NS)
    ]
    assert points == [
        *[("In", day, value) for day, value in [("Nov 2", "3"), ("Nov 3", "5"), ("Nov 4", "0")]],
        *[("Out", day, value) for day, value in [("Nov 2", "1"), ("Nov 3", "4"), ("Nov 4", "2")]],
    ]
    refusals = charts["chart-refusals"]
    assert [b.get("data-value") for b in refusals.iterfind(".//svg:rect", NS)] == [
        "2", "0", "0", "1", "0"]  # fmt: skip
    funnel = charts["chart-funnel-5"]
    assert [g.get("data-value") for g in funnel.iterfind(".//svg:g", NS)] == [
        "40", "30", "28", "20", "0", "6"]  # fmt: skip
    usage = charts["chart-usage-7-invitation"]
    assert usage.find(".//svg:g[@class='limit']", NS).get("data-value") == "20"
    # first response per day in minutes, a gap where there was none
    response_time = charts["chart-first-response"]
    assert [c.get("data-value") for c in response_time.iterfind(".//svg:circle", NS)] == [
        "10", "10"]  # fmt: skip
    # and it is linked from the sidebar and the index
    assert f'href="{URL}"' in client.get("/admin/").content.decode()


def test_another_organizations_staff_get_a_404(client, clock, fixed_rows):
    acme, other = OrganizationFactory(name="Acme"), OrganizationFactory(name="Other")
    client.force_login(member(other, Role.ADMIN))
    assert client.get(URL, {"organization": acme.pk}).status_code == 404
    assert client.get(URL, {"organization": "x"}).status_code == 404
    # nor another organization's channel as a filter
    foreign = ChannelFactory(organization=acme)
    assert client.get(URL, {"organization": other.pk, "channel": foreign.pk}).status_code == 404


def test_staff_of_no_organization_see_nothing(client, clock, fixed_rows):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(URL).status_code == 404
    assert 'href="/admin/reports/"' not in client.get("/admin/").content.decode()


def test_a_member_of_several_picks_the_organization(client, clock, fixed_rows):
    acme, beta = OrganizationFactory(name="Acme"), OrganizationFactory(name="Beta")
    user = member(acme)
    MembershipFactory(organization=beta, user=user, role=Role.VIEWER)
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert "Reports: Acme" in page  # the first by name
    assert f'<option value="{beta.pk}">Beta</option>' in page
    assert "Reports: Beta" in client.get(URL, {"organization": beta.pk}).content.decode()


def test_the_range_defaults_to_30_days_and_a_bad_one_says_so(client, clock, fixed_rows):
    acme = OrganizationFactory(name="Acme", timezone="Pacific/Auckland")
    client.force_login(member(acme))
    client.get(URL)
    span = fixed_rows[-1][1]
    # 12:00 UTC on Nov 20 is Nov 21 in Auckland
    assert (span.start, span.end) == (date(2026, 10, 23), date(2026, 11, 21))
    response = client.get(URL, {"from": "2026-11-30", "to": "2026-11-01"})
    assert response.status_code == 200
    assert "`from` is after `to`." in response.content.decode()
    quick = re.findall(r'href="(\?[^"]*)" class="quick-range"', response.content.decode())
    assert "from=2026-11-15&amp;to=2026-11-21" in quick[0]


def test_each_table_downloads_as_csv(client, clock, fixed_rows):
    acme = OrganizationFactory(name="Acme", slug="acme")
    channel = ChannelFactory(organization=acme)
    client.force_login(member(acme))
    params = {"from": "2026-11-02", "to": "2026-11-04", "channel": channel.pk}

    response = client.get(URL, {**params, "csv": "inbox_agents"})

    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="acme_inbox_agents_2026-11-02_2026-11-04.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["agent"], r["messages_out"]) for r in rows] == [("kim", "5"), ("Unassigned", "2")]
    # the channel filter reached the selector
    client.get(URL, {**params, "csv": "inbox_days"})
    assert fixed_rows[-1][2] == channel.pk
    # a spreadsheet formula in a name is defused
    channels = client.get(URL, {**params, "csv": "inbox_channels"}).content.decode()
    assert "'=Support line" in channels
    assert client.get(URL, {**params, "csv": "nope"}).status_code == 404
    # the page links every table's CSV with its filters
    page = client.get(URL, params).content.decode()
    for table in ["inbox_days", "inbox_agents", "inbox_channels", "refusals", "campaigns",
                  "campaign_days", "usage", "campaign_steps"]:  # fmt: skip
        assert f'data-table="{table}"' in page
