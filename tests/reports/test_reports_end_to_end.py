"""The Reports page and the weekly digest on real data: the hand-worked inbox and
campaign stories of the selectors' own tests (tests/reports/*_scenario.py), through the
rollups, to the charts, the CSVs and the email."""

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail

from reports.campaign_rollups import campaign_rollups_update
from reports.digest_send import digests_send_due
from reports.inbox_rollup import inbox_rollups_update
from tenants.models import Organization, Role
from tests.factories import MembershipFactory, UserFactory
from tests.reports import campaign_scenario, inbox_scenario

pytestmark = pytest.mark.django_db
URL = "/admin/reports/"
NS = {"svg": "http://www.w3.org/2000/svg"}


def charts(page: str) -> dict[str, ET.Element]:
    found = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="sb-chart".*?</svg>',
                       page, re.S)  # fmt: skip
    parsed = [ET.fromstring(markup) for markup in found]  # noqa: S314 - our own page
    return {svg.get("id"): svg for svg in parsed}


def values(svg: ET.Element, series: str) -> list[tuple[str, str]]:
    return [
        (c.get("data-label"), c.get("data-value"))
        for c in svg.iterfind(f".//svg:circle[@data-series='{series}']", NS)
    ]


def sign_in(client, organization) -> None:
    user = UserFactory(is_staff=True)
    MembershipFactory(organization=organization, user=user, role=Role.VIEWER)
    client.force_login(user)


def test_the_inbox_story_on_the_reports_page(client):
    # given the inbox story (Berlin, 10 and 11 November) counted into the rollups
    world = inbox_scenario.build()
    inbox_rollups_update()
    sign_in(client, world.organization)
    params = {"from": "2026-11-10", "to": "2026-11-11"}

    with time_machine.travel(inbox_scenario.END, tick=False):
        page = client.get(URL, params).content.decode()
        agents = client.get(URL, {**params, "csv": "inbox_agents"}).content.decode()

    # then the charts hold the hand-worked days
    drawn = charts(page)
    assert values(drawn["chart-messages"], "In") == [("Nov 10", "2"), ("Nov 11", "2")]
    assert values(drawn["chart-messages"], "Out") == [("Nov 10", "2"), ("Nov 11", "2")]
    assert values(drawn["chart-conversations"], "Opened") == [("Nov 10", "2"), ("Nov 11", "2")]
    # first responses: median 2700 s (45 min) on the 10th, 7200 s (120 min) on the 11th
    assert values(drawn["chart-first-response"], "Median") == [("Nov 10", "45"),
                                                               ("Nov 11", "120")]  # fmt: skip
    # the tiles: the span's median 3600 s, half answered within the SLA, C still unread
    tiles = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "First response 1 h median; p90 1 h 48 min" in tiles
    assert "Answered within SLA 50.0% SLA 1 h" in tiles
    assert "Unread backlog 1 oldest 12 h 30 min" in tiles
    # and the agents' CSV has alice and bob as the selectors count them
    rows = {row["agent"]: row for row in csv.DictReader(io.StringIO(agents))}
    assert {"alice", "bob"} <= set(rows)


def test_the_campaign_story_on_the_reports_page(client, organization):
    story = campaign_scenario.build(organization, campaign_rollups_update)
    with time_machine.travel(campaign_scenario.at(5, 4), tick=False):
        campaign_rollups_update()
    sign_in(client, organization)
    params = {"from": "2026-03-02", "to": "2026-03-04"}

    page = client.get(URL, params).content.decode()
    steps = client.get(URL, {**params, "campaign": story["a"].pk, "csv": "campaign_steps"})

    funnel = charts(page)[f"chart-funnel-{story['a'].pk}"]
    # enrolled, sent, delivered, read, accepted, replied (test_campaign_rollups' figures)
    assert [g.get("data-value") for g in funnel.iterfind(".//svg:g", NS)] == [
        "5", "5", "3", "1", "0", "2"]  # fmt: skip
    assert "Reply rate: <strong>50.0%</strong>" in page
    positions = [row["position"] for row in csv.DictReader(io.StringIO(steps.content.decode()))]
    assert positions == ["1", "2"]


def test_the_inbox_story_in_the_weekly_digest(settings):
    # given the inbox story's organization (Berlin), which existed before that week
    settings.PUBLIC_BASE_URL = "https://switchboard.example"
    world = inbox_scenario.build()
    inbox_rollups_update()
    Organization.objects.filter(pk=world.organization.pk).update(
        created_at=datetime(2026, 10, 1, tzinfo=UTC)
    )
    admin = UserFactory(email="boss@acme.example", is_staff=True)
    MembershipFactory(organization=world.organization, user=admin, role=Role.ADMIN)

    # when the hourly run passes 08:00 on Monday 16 November in Berlin (07:00 UTC)
    with time_machine.travel(datetime(2026, 11, 16, 7, 2, tzinfo=UTC), tick=False):
        digests_send_due()

    # then the week of 9-15 November is compared with an empty week before
    (message,) = mail.outbox
    assert "the week of Mon 9 Nov to Sun 15 Nov 2026" in message.body
    assert "Conversations opened: 4 (week before: 0) \u25b2 new" in message.body
    assert "Messages received: 4 (week before: 0) \u25b2 new" in message.body
    assert "First response (median): 1 h (week before: \u2014)" in message.body
    assert "Answered within SLA: 50.0% (week before: \u2014)" in message.body
    assert f"from={date(2026, 11, 9)}&to={date(2026, 11, 15)}" in message.body
