"""The backfill rebuilds from history exactly what the outbox reader kept, and a day of
a DST change is counted by the local calendar."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from reports import inbox
from reports.inbox_backfill import inbox_backfill
from reports.inbox_models import ConversationFact, InboxDay
from reports.inbox_rollup import inbox_rollups_update
from reports.ranges import DateRange, organization_tz
from tests.factories import ChannelFactory, OrganizationFactory
from tests.reports import inbox_scenario
from tests.reports.inbox_scenario import END, inbound, outbound

pytestmark = pytest.mark.django_db


def _everything(organization) -> dict:
    span = DateRange(date(2026, 11, 9), date(2026, 11, 12), organization_tz(organization))
    with time_machine.travel(END, tick=False):
        return {
            "days": inbox.inbox_days(organization=organization, span=span),
            "summary": inbox.inbox_summary(organization=organization, span=span),
            "agents": inbox.inbox_by_agent(organization=organization, span=span),
            "channels": inbox.inbox_by_channel(organization=organization, span=span),
        }


def _rows(organization) -> set[tuple]:
    fields = ["conversation_id", "channel_id", "agent_id", "day", *inbox.FIGURES[:4]]
    return set(InboxDay.objects.filter(organization=organization).values_list(*fields))


def _facts(organization) -> list[tuple]:
    fields = ["conversation_id", "agent_id", "opened_at", "first_customer_at"]
    fields += ["first_response_at", "closed_at"]
    return list(
        ConversationFact.objects.filter(organization=organization)
        .order_by("conversation_id", "opened_at")
        .values_list(*fields)
    )


def test_the_backfill_agrees_with_the_reader_on_every_figure():
    world = inbox_scenario.build()
    inbox_rollups_update()
    kept, rows, facts = (
        _everything(world.organization),
        _rows(world.organization),
        _facts(world.organization),
    )
    assert rows
    assert facts

    # A fresh table: the counts gone, every episode's measured moments forgotten (only
    # its opening and close are kept: no other table has them).
    InboxDay.objects.all().delete()
    ConversationFact.objects.update(first_customer_at=None, first_response_at=None)
    with time_machine.travel(END, tick=False):
        done = inbox_backfill(organization=world.organization)

    assert done["conversations"] == 3
    assert done["episodes"] == 4
    assert _rows(world.organization) == rows
    assert _facts(world.organization) == facts
    assert _everything(world.organization) == kept


def test_a_conversation_from_before_the_reports_gets_one_episode():
    organization = OrganizationFactory(timezone="Europe/Berlin")
    channel = ChannelFactory(organization=organization)
    conversation = inbound(channel, "16505550009", "old", datetime(2026, 11, 10, 9, tzinfo=UTC))
    outbound(conversation, "out-old", datetime(2026, 11, 10, 9, 20, tzinfo=UTC))
    inbox_rollups_update()
    ConversationFact.objects.all().delete()
    InboxDay.objects.all().delete()

    with time_machine.travel(END, tick=False):
        call_command("reports_backfill", "--organization", organization.slug)

    (fact,) = ConversationFact.objects.all()
    assert (fact.first_response_at - fact.first_customer_at).total_seconds() == 1200
    row = InboxDay.objects.get()
    assert (row.day, row.conversations_opened, row.messages_in, row.messages_out) == (
        date(2026, 11, 10),
        1,
        1,
        1,
    )


def test_a_range_backfill_leaves_other_days_alone():
    world = inbox_scenario.build()
    inbox_rollups_update()
    before = _rows(world.organization)
    InboxDay.objects.filter(day=date(2026, 11, 11)).update(messages_in=99)

    with time_machine.travel(END, tick=False):
        call_command("reports_backfill", "--from", "2026-11-11", "--to", "2026-11-11")

    assert _rows(world.organization) == before


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--organization", "nobody"], "No organization"),
        (["--from", "2026-11-12", "--to", "2026-11-11"], "after"),
    ],
)
def test_the_command_refuses_bad_input(args, error):
    with pytest.raises(CommandError, match=error):
        call_command("reports_backfill", *args)


def test_a_dst_day_counts_by_the_local_calendar():
    # Berlin left summer time on 2026-10-25: that day lasted 25 hours.
    organization = OrganizationFactory(timezone="Europe/Berlin")
    channel = ChannelFactory(organization=organization)
    early = inbound(channel, "16505550011", "early", datetime(2026, 10, 24, 22, 30, tzinfo=UTC))
    outbound(early, "out-early", datetime(2026, 10, 24, 22, 40, tzinfo=UTC))  # 00:40 CEST
    inbound(channel, "16505550012", "late", datetime(2026, 10, 25, 22, 30, tzinfo=UTC))  # 23:30 CET
    inbound(channel, "16505550013", "next", datetime(2026, 10, 25, 23, 30, tzinfo=UTC))  # 00:30
    inbox_rollups_update()
    span = DateRange(date(2026, 10, 24), date(2026, 10, 26), organization_tz(organization))

    days = inbox.inbox_days(organization=organization, span=span)

    assert [(d["day"], d["messages_in"], d["messages_out"]) for d in days] == [
        (date(2026, 10, 24), 0, 0),
        (date(2026, 10, 25), 2, 1),
        (date(2026, 10, 26), 1, 0),
    ]
    assert days[1]["first_response_median_s"] == 600.0
