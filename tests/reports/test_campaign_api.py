"""GET /api/v1/reports/campaigns, campaigns/{id}/steps, campaigns/days and usage: the
rollups' figures as JSON and CSV, scoped to the caller's organization."""

import csv
import io
from datetime import date

import pytest
import time_machine

from campaigns.models import Campaign, CampaignDailyCount
from messaging.models import DailyInvitationCount, DailySendCount, SendLimit
from providers import Provider
from reports.campaign_rollups import campaign_rollups_update
from tests.factories import ChannelFactory
from tests.reports.campaign_scenario import at, build

pytestmark = pytest.mark.django_db

RANGE = {"from": "2026-03-02", "to": "2026-03-04"}


@pytest.fixture
def story(organization):
    return build(organization, campaign_rollups_update)


def rows_of_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_campaigns_funnel_as_json(viewer_client, story):
    response = viewer_client.get("/api/v1/reports/campaigns", RANGE)

    assert response.status_code == 200
    body = response.json()
    assert body["range"] == {
        "from": "2026-03-02",
        "to": "2026-03-04",
        "timezone": "America/New_York",
    }
    a = body["rows"][0]
    assert (a["campaign"], a["enrolled"], a["sent"], a["replied"]) == ("A", 5, 5, 2)
    assert a["reply_rate_pct"] == 50.0
    assert a["first_reply_median_s"] == 91800.0


def test_filters_by_campaign_and_channel(viewer_client, story):
    by_campaign = viewer_client.get(
        "/api/v1/reports/campaigns", {**RANGE, "campaign": story["b"].pk}
    )
    by_channel = viewer_client.get(
        "/api/v1/reports/campaigns", {**RANGE, "channel": story["a"].channel_id}
    )

    assert [row["campaign"] for row in by_campaign.json()["rows"]] == ["B"]
    assert [row["campaign"] for row in by_channel.json()["rows"]] == ["A"]


def test_steps_of_one_campaign(viewer_client, story):
    response = viewer_client.get(f"/api/v1/reports/campaigns/{story['a'].pk}/steps", RANGE)

    assert response.status_code == 200
    assert [(r["position"], r["sent"], r["replied"]) for r in response.json()["rows"]] == [
        (1, 4, 1),
        (2, 1, 1),
    ]


def test_days_as_csv(viewer_client, story):
    response = viewer_client.get(
        "/api/v1/reports/campaigns/days", {**RANGE, "campaign": story["a"].pk, "format": "csv"}
    )
    by_accept = viewer_client.get(
        "/api/v1/reports/campaigns/days",
        {**RANGE, "campaign": story["a"].pk},
        HTTP_ACCEPT="text/csv",
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="campaign_days_2026-03-02_2026-03-04.csv"'
    )
    assert by_accept.content == response.content
    header = response.content.decode().splitlines()[0]
    assert header == "day,enrolled,sent,delivered,read,accepted,replied,opted_out,failed"
    assert rows_of_csv(response) == [
        {
            "day": "2026-03-02",
            "enrolled": "4",
            "sent": "0",
            "delivered": "0",
            "read": "0",
            "accepted": "0",
            "replied": "0",
            "opted_out": "0",
            "failed": "0",
        },
        {
            "day": "2026-03-03",
            "enrolled": "1",
            "sent": "4",
            "delivered": "2",
            "read": "1",
            "accepted": "0",
            "replied": "1",
            "opted_out": "1",
            "failed": "1",
        },
        {
            "day": "2026-03-04",
            "enrolled": "0",
            "sent": "1",
            "delivered": "1",
            "read": "0",
            "accepted": "0",
            "replied": "1",
            "opted_out": "1",
            "failed": "1",
        },
    ]


def test_funnel_csv_has_a_row_per_campaign(viewer_client, story):
    response = viewer_client.get("/api/v1/reports/campaigns", {**RANGE, "format": "csv"})

    rows = rows_of_csv(response)
    assert [(r["campaign"], r["sent"], r["reply_rate_pct"]) for r in rows] == [
        ("A", "5", "50.0"),
        ("B", "1", "0.0"),
    ]


def test_usage_against_the_channels_caps(organization, viewer_client):
    linkedin = ChannelFactory(organization=organization, provider=Provider.UNIPILE, name="Li")
    sms = ChannelFactory(organization=organization, provider=Provider.TWILIO, name="Sms")
    ChannelFactory(organization=organization, provider=Provider.WHATSAPP_CLOUD, name="Wa")
    SendLimit.objects.create(channel=sms, daily_cap=500)
    DailySendCount.objects.create(channel=linkedin, day=date(2026, 3, 3), count=40)
    DailyInvitationCount.objects.create(channel=linkedin, day=date(2026, 3, 3), count=25)
    DailySendCount.objects.create(channel=sms, day=date(2026, 3, 4), count=120)
    capped = Campaign.objects.create(
        organization=organization, channel=sms, name="Capped", daily_message_cap=30
    )
    Campaign.objects.create(organization=organization, channel=sms, name="Uncapped")
    CampaignDailyCount.objects.create(
        campaign=capped, day=date(2026, 3, 4), kind="message", count=30
    )

    with time_machine.travel(at(4, 12), tick=False):
        response = viewer_client.get(
            "/api/v1/reports/usage", {"from": "2026-03-03", "to": "2026-03-04"}
        )

    body = response.json()
    shown = [(r["day"], r["channel"], r["action"], r["used"], r["cap"]) for r in body["rows"]]
    assert shown == [
        # LinkedIn through Unipile: 25 invitations and 100 messages a day by default.
        ("2026-03-03", "Li", "invitation", 25, 25),
        ("2026-03-03", "Li", "message", 40, 100),
        ("2026-03-03", "Sms", "message", 0, 500),
        ("2026-03-04", "Li", "invitation", 0, 25),
        ("2026-03-04", "Li", "message", 0, 100),
        ("2026-03-04", "Sms", "message", 120, 500),
    ]
    assert [(r["channel"], r["action"], r["used"]) for r in body["today"]] == [
        ("Li", "invitation", 0),
        ("Li", "message", 0),
        ("Sms", "message", 120),
    ]
    assert [
        (r["day"], r["campaign"], r["action"], r["used"], r["cap"]) for r in body["campaign_caps"]
    ] == [
        ("2026-03-03", "Capped", "message", 0, 30),
        ("2026-03-04", "Capped", "message", 30, 30),
    ]
    only_sms = viewer_client.get(
        "/api/v1/reports/usage", {"from": "2026-03-04", "to": "2026-03-04", "channel": sms.pk}
    )
    assert [r["channel"] for r in only_sms.json()["rows"]] == ["Sms"]


def test_another_organizations_campaign_is_not_found(viewer_client, story, other_organization):
    theirs = Campaign.objects.create(
        organization=other_organization,
        channel=ChannelFactory(organization=other_organization),
        name="Theirs",
    )
    other_channel = theirs.channel_id

    steps = viewer_client.get(f"/api/v1/reports/campaigns/{theirs.pk}/steps", RANGE)
    filtered = viewer_client.get("/api/v1/reports/campaigns", {"campaign": theirs.pk})
    by_channel = viewer_client.get("/api/v1/reports/usage", {"channel": other_channel})
    listed = viewer_client.get("/api/v1/reports/campaigns", RANGE)

    for response in (steps, filtered, by_channel):
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    assert "Theirs" not in {row["campaign"] for row in listed.json()["rows"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "to"),
        ({"campaign": "abc"}, "campaign"),
        ({"campaign": "99999999999999999999999"}, "campaign"),
        ({"channel": "-1"}, "channel"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(viewer_client, params, field):
    response = viewer_client.get("/api/v1/reports/campaigns", {**params, "format": "csv"})

    assert response.status_code == 400
    body = response.json()  # errors stay JSON, even when CSV was asked for
    assert body["code"] == "VALIDATION_ERROR"
    assert set(body["details"]) == {field}


def test_anonymous_callers_are_refused(anonymous_client):
    response = anonymous_client.get("/api/v1/reports/campaigns")

    assert response.status_code == 401
