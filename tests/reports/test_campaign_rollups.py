"""The campaign rollups: each figure against the hand-counted scenario
(tests/reports/campaign_scenario.py), kept incrementally and rebuilt from history."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from campaigns.models import StepKind
from providers import Provider
from reports.campaign_backfill import campaign_rollups_rebuild
from reports.campaign_models import FIGURES, CampaignDayRollup
from reports.campaign_reports import campaign_days, campaign_funnel, campaign_steps
from reports.campaign_rollups import campaign_rollups_update
from reports.ranges import DateRange, organization_tz
from tests.factories import ConversationFactory, MessageFactory
from tests.reports.campaign_scenario import at, build, enroll, make_campaign, opt_out, status

pytestmark = pytest.mark.django_db

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


@pytest.fixture
def story(organization):
    return build(organization, campaign_rollups_update)


def span(organization, start=D1, end=D3) -> DateRange:
    return DateRange(start, end, organization_tz(organization))


def rollup_table() -> dict:
    return {
        (row["campaign_id"], row["day"], row["position"]): tuple(row[f] for f in FIGURES)
        for row in CampaignDayRollup.objects.values("campaign_id", "day", "position", *FIGURES)
        if any(row[f] for f in FIGURES)
    }


def test_funnel_counts_each_figure(organization, story):
    rows = campaign_funnel(organization=organization, span=span(organization))

    a, b = rows
    assert a == {
        "campaign_id": story["a"].pk,
        "campaign": "A",
        "status": "running",
        "enrolled": 5,
        "sent": 5,
        "delivered": 3,  # L1 (read), L2's two
        "read": 1,
        "accepted": 0,
        "replied": 2,
        "opted_out": 2,  # L5 refused as opted out, L3 opted out while live
        "failed": 2,  # L3's message, L4's impossible step 2
        "reply_rate_pct": 50.0,  # 2 replies of 4 leads contacted
        "first_reply_median_s": 91800.0,  # (14 h + 37 h) / 2
    }
    assert (b["enrolled"], b["sent"], b["accepted"], b["delivered"], b["replied"]) == (
        1,
        1,
        1,
        0,
        0,
    )
    assert b["reply_rate_pct"] == 0.0
    assert b["first_reply_median_s"] is None


def test_steps_count_replies_for_the_step_they_answered(organization, story):
    rows = campaign_steps(
        organization=organization, span=span(organization), campaign_id=story["a"].pk
    )

    assert rows == [
        {
            "position": 1,
            "kind": "text",
            "sent": 4,
            "delivered": 2,
            "read": 1,
            "accepted": 0,
            "replied": 1,
            "failed": 1,
            "reply_rate_pct": 25.0,
        },
        {
            "position": 2,
            "kind": "text",
            "sent": 1,
            "delivered": 1,
            "read": 0,
            "accepted": 0,
            "replied": 1,
            "failed": 1,
            "reply_rate_pct": 100.0,
        },
    ]
    linkedin = campaign_steps(
        organization=organization, span=span(organization), campaign_id=story["b"].pk
    )
    assert [(r["kind"], r["sent"], r["accepted"]) for r in linkedin] == [
        ("linkedin_invitation", 1, 0),
        ("wait_for_acceptance", 0, 1),
        ("text", 0, 0),
    ]


def test_days_fall_on_the_organizations_calendar(organization, story):
    rows = campaign_days(
        organization=organization,
        span=span(organization, D1, date(2026, 3, 5)),
        campaign_id=story["a"].pk,
    )

    figures = [{k: v for k, v in row.items() if v} for row in rows]
    assert figures == [
        # L4 enrolled at 04:30 UTC on 3 March: 23:30 on the 2nd in New York.
        {"day": D1, "enrolled": 4},
        # L5 at 05:30 UTC: the 3rd. L1's reply at 04:00 UTC on the 4th: still the 3rd.
        {
            "day": D2,
            "enrolled": 1,
            "sent": 4,
            "delivered": 2,
            "read": 1,
            "replied": 1,
            "opted_out": 1,
            "failed": 1,
        },
        {"day": D3, "sent": 1, "delivered": 1, "replied": 1, "opted_out": 1, "failed": 1},
        {"day": date(2026, 3, 5)},  # zero-filled
    ]


def test_a_shorter_span_counts_only_its_days(organization, story):
    (a, _b) = campaign_funnel(organization=organization, span=span(organization, D2, D2))

    assert (a["enrolled"], a["sent"], a["replied"], a["opted_out"]) == (1, 4, 1, 1)
    assert a["reply_rate_pct"] == 25.0  # one reply of the 4 leads first contacted that day
    assert a["first_reply_median_s"] == 14 * 3600.0


def test_rebuild_agrees_with_the_incremental_rollups(organization, story):
    with time_machine.travel(at(5, 4), tick=False):
        campaign_rollups_update()  # the last events and rows
    incremental = rollup_table()
    assert incremental  # the scenario counted something

    campaign_rollups_rebuild()

    assert rollup_table() == incremental
    with time_machine.travel(at(5, 4, 30), tick=False):
        campaign_rollups_update()  # nothing it reads again counts twice
    assert rollup_table() == incremental


def test_a_repeated_pass_counts_nothing_twice(organization, story):
    before = rollup_table()

    with time_machine.travel(at(5, 3, 2), tick=False):  # rows still inside RESCAN
        campaign_rollups_update()
        campaign_rollups_update()

    assert rollup_table() == before


def test_rebuild_of_one_span_replaces_only_its_days(organization, story):
    incremental = rollup_table()
    CampaignDayRollup.objects.filter(day=D2).update(sent=99)
    CampaignDayRollup.objects.filter(day=D3).update(sent=77)

    campaign_rollups_rebuild(organization=organization, span=span(organization, D2, D2))

    table = rollup_table()
    assert {k: v for k, v in table.items() if k[1] == D2} == {
        k: v for k, v in incremental.items() if k[1] == D2
    }
    assert all(v[FIGURES.index("sent")] == 77 for k, v in table.items() if k[1] == D3)


def test_rebuild_from_history_alone(organization):
    """Rollups never kept (the reports shipped after the campaigns): the rebuild counts
    the same as the pass would have."""
    story = build(organization, lambda: None)

    campaign_rollups_rebuild(organization=organization)

    (a, _b) = campaign_funnel(organization=organization, span=span(organization))
    assert (a["enrolled"], a["sent"], a["delivered"], a["read"]) == (5, 5, 3, 1)
    assert (a["replied"], a["opted_out"], a["failed"]) == (2, 2, 2)
    assert a["first_reply_median_s"] == 91800.0
    assert story["a"].pk == a["campaign_id"]


def test_small_pages_count_the_same(organization, monkeypatch):
    """Pages of two rows: the watermark moves page by page, nothing skipped or
    counted twice."""
    monkeypatch.setattr("reports.campaign_rollups.SCAN_LIMIT", 2)
    build(organization, campaign_rollups_update)
    with time_machine.travel(at(5, 4), tick=False):
        campaign_rollups_update()
    paged = rollup_table()

    campaign_rollups_rebuild()

    assert rollup_table() == paged
    (a, b) = campaign_funnel(organization=organization, span=span(organization))
    assert (a["enrolled"], a["sent"], a["failed"], b["enrolled"], b["accepted"]) == (5, 5, 2, 1, 1)


def test_opt_outs_count_for_live_leads_on_that_kind_of_channel(organization, story):
    leads, l6 = story["leads"], story["l6"]
    stranger = MessageFactory(
        conversation=ConversationFactory(organization=organization),
        direction="outbound",
        status="sent",
    )
    with time_machine.travel(at(5, 10), tick=False):
        opt_out(leads[0])  # L1 finished (replied) before: not the campaign's opt-out
        opt_out(l6)  # SMS: B is a LinkedIn campaign
        opt_out(leads[3])  # L4 is still live in A
        status(stranger, "delivered", at(5, 10))  # not a campaign's message
        campaign_rollups_update()

    a, b = campaign_funnel(organization=organization, span=span(organization, D1, date(2026, 3, 5)))
    assert a["opted_out"] == 3  # L5, L3, L4
    assert b["opted_out"] == 0
    (fifth,) = campaign_days(
        organization=organization, span=span(organization, date(2026, 3, 5), date(2026, 3, 5))
    )
    assert fifth["opted_out"] == 1
    assert fifth["delivered"] == 0


def test_days_across_a_dst_change(organization):
    """Berlin moves to summer time on 29 March 2026: that day is 23 hours long."""
    organization.timezone = "Europe/Berlin"
    organization.save()
    campaign = make_campaign(organization, Provider.TWILIO, "DST", [StepKind.TEXT])
    with time_machine.travel(datetime(2026, 3, 31, 12, tzinfo=UTC), tick=False):
        enroll(campaign, datetime(2026, 3, 28, 22, 59, tzinfo=UTC))  # 23:59 CET, the 28th
        enroll(campaign, datetime(2026, 3, 28, 23, 30, tzinfo=UTC))  # 00:30 CET, the 29th
        enroll(campaign, datetime(2026, 3, 29, 21, 59, tzinfo=UTC))  # 23:59 CEST, the 29th
        enroll(campaign, datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # 00:30 CEST, the 30th
        campaign_rollups_update()

    rows = campaign_days(
        organization=organization, span=span(organization, date(2026, 3, 28), date(2026, 3, 30))
    )
    assert [row["enrolled"] for row in rows] == [1, 2, 1]
