"""The campaign rollups: each figure against the hand-counted scenario
(tests/reports/campaign_scenario.py), kept incrementally and rebuilt from history."""

from datetime import date

import pytest
import time_machine

from reports.campaign_backfill import campaign_rollups_rebuild
from reports.campaign_models import FIGURES, CampaignDayRollup
from reports.campaign_reports import campaign_days, campaign_funnel, campaign_steps
from reports.campaign_rollups import campaign_rollups_update
from reports.ranges import DateRange, organization_tz
from tests.reports.campaign_scenario import at, build

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
