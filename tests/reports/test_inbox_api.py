"""GET /api/v1/reports/inbox/...: JSON and CSV, filters, scoping, bad input."""

import csv
import io

import pytest
import time_machine
from rest_framework.test import APIClient

from reports.inbox_rollup import inbox_rollups_update
from tenants.models import Role
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory
from tests.reports import inbox_scenario
from tests.reports.inbox_scenario import END

pytestmark = pytest.mark.django_db

RANGE = {"from": "2026-11-10", "to": "2026-11-11"}


@pytest.fixture
def world():
    world = inbox_scenario.build()
    inbox_rollups_update()
    with time_machine.travel(END, tick=False):
        yield world


def _client(organization, role=Role.VIEWER) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=MembershipFactory(organization=organization, role=role).user)
    return client


def test_a_viewer_reads_the_days_as_json(world):
    response = _client(world.organization).get("/api/v1/reports/inbox/days", RANGE)

    assert response.status_code == 200
    body = response.json()
    assert body["range"] == {"from": "2026-11-10", "to": "2026-11-11", "timezone": "Europe/Berlin"}
    assert [(r["day"], r["messages_in"], r["first_response_median_s"]) for r in body["rows"]] == [
        ("2026-11-10", 2, 2700.0),
        ("2026-11-11", 2, 7200.0),
    ]


def test_the_summary_agents_and_channels_answer(world):
    client = _client(world.organization)

    summary = client.get("/api/v1/reports/inbox/summary", RANGE).json()["rows"]
    agents = client.get("/api/v1/reports/inbox/agents/", RANGE).json()["rows"]
    channels = client.get("/api/v1/reports/inbox/channels", RANGE).json()["rows"]

    assert (summary[0]["messages_out"], summary[0]["sla_seconds"]) == (4, 3600)
    assert [row["agent"] for row in agents] == ["alice", "bob", "Unassigned"]
    assert [row["channel"] for row in channels] == ["Alpha", "Beta"]


def test_csv_by_accept_header_or_format(world):
    client = _client(world.organization)

    by_header = client.get("/api/v1/reports/inbox/days", RANGE, HTTP_ACCEPT="text/csv")
    by_format = client.get("/api/v1/reports/inbox/agents", {**RANGE, "format": "csv"})

    assert by_header["Content-Type"].startswith("text/csv")
    assert 'filename="inbox_days_2026-11-10_2026-11-11.csv"' in by_header["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(by_header.content.decode())))
    assert [(r["day"], r["messages_in"], r["resolution_p90_s"]) for r in rows] == [
        ("2026-11-10", "2", "3600.0"),
        ("2026-11-11", "2", "10800.0"),
    ]
    agents = list(csv.DictReader(io.StringIO(by_format.content.decode())))
    assert agents[-1]["agent"] == "Unassigned"
    assert agents[-1]["agent_id"] == ""
    assert agents[1]["first_response_median_s"] == ""  # bob: nothing answered


def test_filters_by_channel_and_agent(world):
    client = _client(world.organization)

    beta = client.get("/api/v1/reports/inbox/summary", {**RANGE, "channel": world.two.pk})
    nobody = client.get("/api/v1/reports/inbox/summary", {**RANGE, "agent": "unassigned"})
    bob = client.get("/api/v1/reports/inbox/days", {**RANGE, "agent": world.bob.pk})

    assert beta.json()["rows"][0]["messages_in"] == 1
    assert nobody.json()["rows"][0]["messages_out"] == 2
    assert [row["messages_in"] for row in bob.json()["rows"]] == [0, 1]


def test_another_organizations_channel_or_agent_is_not_found(world):
    other = OrganizationFactory()
    theirs = ChannelFactory(organization=other)
    stranger = MembershipFactory(organization=other).user
    client = _client(world.organization)

    channel = client.get("/api/v1/reports/inbox/days", {"channel": theirs.pk})
    agent = client.get("/api/v1/reports/inbox/days", {"agent": stranger.pk})

    assert (channel.status_code, channel.json()["code"]) == (404, "NOT_FOUND")
    assert (agent.status_code, agent.json()["code"]) == (404, "NOT_FOUND")


def test_another_organization_sees_none_of_it(world):
    other = OrganizationFactory()

    rows = _client(other).get("/api/v1/reports/inbox/summary", RANGE).json()["rows"]

    assert (rows[0]["messages_in"], rows[0]["conversations_opened"]) == (0, 0)


def test_a_stranger_is_not_let_in(world):
    assert APIClient().get("/api/v1/reports/inbox/days").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"from": "2026-11-12", "to": "2026-11-11"}, "from"),
        ({"channel": "abc"}, "channel"),
        ({"channel": "99999999999999999999999"}, "channel"),
        ({"agent": "someone"}, "agent"),
        ({"agent": "-1"}, "agent"),
    ],
)
def test_a_bad_filter_is_a_400_in_the_house_format(world, params, field):
    response = _client(world.organization).get(
        "/api/v1/reports/inbox/days", {**params, "format": "csv"}
    )

    assert response.status_code == 400
    body = response.json()  # errors stay JSON, even when CSV was asked for
    assert body["code"] == "VALIDATION_ERROR"
    assert field in body["details"]
