"""The campaign rollups fed by the real campaign engine (scheduler, send services, the
inbound pipeline), end to end against a faked OpenPhone; and the rebuild agreeing."""

from datetime import date, timedelta

import pytest

from campaigns import services
from conversations.models import Message
from conversations.services import message_status_apply
from providers import Provider
from providers.events import MessageStatus, MessageStatusUpdate
from reports.campaign_backfill import campaign_rollups_rebuild
from reports.campaign_reports import campaign_funnel, campaign_steps
from reports.campaign_rollups import campaign_rollups_update
from reports.ranges import DateRange, organization_tz
from tests.campaigns.conftest import (  # noqa: F401 - fixtures
    clock,
    enroll,
    make_campaign,
    openphone,
    sms,
    tick,
)
from tests.campaigns.test_scheduler import TWO_STEPS, reply
from tests.reports.test_campaign_rollups import rollup_table

pytestmark = pytest.mark.django_db


def delivered(channel, message: Message, at) -> None:
    message_status_apply(
        channel=channel,
        update=MessageStatusUpdate(
            provider=Provider.OPENPHONE,
            event_id=f"status:{message.pk}",
            occurred_at=at,
            raw={},
            message_id=message.provider_message_id,
            status=MessageStatus.DELIVERED,
        ),
    )


def test_a_campaign_run_by_the_engine(sms, openphone, clock, tick):  # noqa: F811
    campaign = make_campaign(sms, TWO_STEPS)
    ada, bob, _cid = enroll(campaign, {"first_name": "Ada"}, {"first_name": "Bob"}, {})
    services.campaign_start(campaign=campaign)
    tick()  # step 1 to all three (Wednesday 4 March, 10:00 London)
    first = {m.conversation.contact_id: m for m in Message.objects.filter(direction="outbound")}
    for lead in (ada, bob):
        delivered(sms, first[lead.contact_id], first[lead.contact_id].occurred_at)
    clock.shift(timedelta(hours=2))
    reply(sms, ada, first[ada.contact_id].occurred_at + timedelta(hours=2))
    tick()  # Ada's reply stops her
    clock.shift(timedelta(days=1))
    tick()  # step 2 to Bob and Cid on Thursday
    clock.shift(timedelta(minutes=20))  # past the pass's rescan margin

    campaign_rollups_update()

    span = DateRange(date(2026, 3, 4), date(2026, 3, 5), organization_tz(sms.organization))
    (row,) = campaign_funnel(organization=sms.organization, span=span)
    assert (row["enrolled"], row["sent"], row["delivered"], row["replied"]) == (3, 5, 2, 1)
    assert row["reply_rate_pct"] == pytest.approx(100 / 3, abs=0.1)
    assert row["first_reply_median_s"] == 2 * 3600.0
    steps = campaign_steps(organization=sms.organization, span=span, campaign_id=campaign.pk)
    assert [(s["position"], s["sent"], s["replied"]) for s in steps] == [(1, 3, 1), (2, 2, 0)]
    incremental = rollup_table()
    campaign_rollups_rebuild()
    assert rollup_table() == incremental
