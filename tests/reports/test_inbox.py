"""Each inbox figure against the hand-worked scenario (tests/reports/inbox_scenario)."""

from datetime import date

import pytest
import time_machine

from reconciliation.schedules import PERIODIC_TASKS
from reports import inbox
from reports.inbox_models import InboxDay
from reports.inbox_rollup import inbox_rollups_update
from reports.ranges import DateRange, organization_tz
from reports.tasks import inbox_rollups_update_task
from tests.reports import inbox_scenario
from tests.reports.inbox_scenario import END

pytestmark = pytest.mark.django_db

D1, D2 = date(2026, 11, 10), date(2026, 11, 11)


@pytest.fixture
def world():
    world = inbox_scenario.build()
    inbox_rollups_update()
    world.span = DateRange(D1, D2, organization_tz(world.organization))
    with time_machine.travel(END, tick=False):
        yield world


def _zeros(**figures) -> dict:
    found = {name: None if name.endswith(("_s", "_pct")) else 0 for name in inbox.FIGURES}
    return {**found, **figures}


def test_days_count_by_the_organizations_calendar(world):
    days = inbox.inbox_days(organization=world.organization, span=world.span)

    assert days == [
        {
            "day": D1,
            **_zeros(
                conversations_opened=2,  # A1, B1 (23:30 local)
                conversations_closed=1,
                messages_in=2,
                messages_out=2,  # A's answer and B's auto-reply
                first_response_median_s=2700.0,  # 1800 and 3600
                first_response_p90_s=3420.0,
                resolution_median_s=3600.0,
                resolution_p90_s=3600.0,
                answered_within_sla_pct=100.0,
            ),
        },
        {
            "day": D2,
            **_zeros(
                conversations_opened=2,  # C1 (00:30 local), A2 (reopened)
                conversations_closed=1,
                messages_in=2,
                messages_out=2,  # B's answer (00:30 local) and A's
                first_response_median_s=7200.0,
                first_response_p90_s=7200.0,
                resolution_median_s=10800.0,
                resolution_p90_s=10800.0,
                # A2 late; C1 unanswered for 12.5 hours: both decided, neither in time.
                answered_within_sla_pct=0.0,
            ),
        },
    ]


def test_summary_takes_percentiles_over_the_whole_span(world):
    summary = inbox.inbox_summary(organization=world.organization, span=world.span)

    assert summary == {
        **_zeros(
            conversations_opened=4,
            conversations_closed=2,
            messages_in=4,
            messages_out=4,
            first_response_median_s=3600.0,  # 1800, 3600, 7200
            first_response_p90_s=6480.0,
            resolution_median_s=7200.0,  # 3600, 10800
            resolution_p90_s=10080.0,
            answered_within_sla_pct=50.0,  # A1 and B1 of the four decided
        ),
        "unread_backlog": 1,  # C
        "unread_oldest_age_s": 12.5 * 3600,
        "sla_seconds": 3600,
    }


def test_by_agent_follows_the_assignee_now(world):
    rows = inbox.inbox_by_agent(organization=world.organization, span=world.span)

    assert [(row["agent_id"], row["agent"]) for row in rows] == [
        (world.alice.pk, "alice"),
        (world.bob.pk, "bob"),
        (None, "Unassigned"),
    ]
    alice, bob, nobody = rows
    assert (alice["conversations_opened"], alice["messages_in"], alice["messages_out"]) == (2, 2, 2)
    assert (alice["first_response_median_s"], alice["first_response_p90_s"]) == (4500.0, 6660.0)
    assert (alice["resolution_median_s"], alice["answered_within_sla_pct"]) == (7200.0, 50.0)
    # C was alice's until 11:30 on D2; now bob's, with its whole history.
    assert (bob["conversations_opened"], bob["messages_in"], bob["messages_out"]) == (1, 1, 0)
    assert (bob["first_response_median_s"], bob["answered_within_sla_pct"]) == (None, 0.0)
    assert (bob["unread_backlog"], bob["unread_oldest_age_s"]) == (1, 45000.0)
    assert (nobody["messages_out"], nobody["first_response_median_s"]) == (2, 3600.0)
    assert nobody["answered_within_sla_pct"] == 100.0


def test_by_channel_lists_every_channel(world):
    rows = inbox.inbox_by_channel(organization=world.organization, span=world.span)

    assert [(row["channel"], row["messages_in"], row["conversations_opened"]) for row in rows] == [
        ("Alpha", 3, 3),
        ("Beta", 1, 1),
    ]
    assert rows[1]["unread_backlog"] == 1


def test_filters_narrow_every_figure(world):
    only_bob = inbox.inbox_summary(
        organization=world.organization, span=world.span, agent_id=world.bob.pk
    )
    unassigned = inbox.inbox_days(organization=world.organization, span=world.span, agent_id=0)
    beta = inbox.inbox_days(
        organization=world.organization, span=world.span, channel_id=world.two.pk
    )

    assert (only_bob["messages_in"], only_bob["unread_backlog"]) == (1, 1)
    assert [day["messages_out"] for day in unassigned] == [1, 1]  # B: auto-reply; answer
    assert [day["messages_in"] for day in beta] == [0, 1]


def test_a_day_without_anything_is_zero_filled(world):
    span = DateRange(date(2026, 11, 12), date(2026, 11, 13), world.span.tz)

    days = inbox.inbox_days(organization=world.organization, span=span)

    assert days == [
        {"day": date(2026, 11, 12), **_zeros()},
        {"day": date(2026, 11, 13), **_zeros()},
    ]


def test_the_reader_counts_each_event_once(world):
    before = inbox.inbox_summary(organization=world.organization, span=world.span)

    assert inbox_rollups_update() == 0
    assert inbox.inbox_summary(organization=world.organization, span=world.span) == before


def test_the_periodic_task_reads_what_is_new():
    world = inbox_scenario.build(update_between=False)

    first = inbox_rollups_update_task.delay().get()
    again = inbox_rollups_update_task.delay().get()

    assert first["events"] > 0
    assert again == {"events": 0}
    assert InboxDay.objects.filter(organization=world.organization).exists()
    assert "reports.tasks.inbox_rollups_update_task" in {t.task for t in PERIODIC_TASKS}
