"""The reply pass reads only the inbound messages filed since its cursor, never moves
the cursor past messages that a transaction still open could file below it, and two
schedulers never run it at once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from campaigns import services
from campaigns.models import Enrollment, EnrollmentState, ReplyCursor
from campaigns.replies import REPLY_RESCAN, replies_detect
from conversations.models import Direction, Message
from tests.campaigns.conftest import enroll, make_campaign
from tests.campaigns.test_scheduler import TWO_STEPS, reply
from tests.markers import postgresql_only

pytestmark = pytest.mark.django_db(transaction=True)


def _cursor() -> int:
    return ReplyCursor.objects.get().message_id


def test_the_cursor_stays_behind_recent_messages_and_passes_old_ones(sms, openphone, clock, tick):
    campaign = make_campaign(sms, TWO_STEPS)
    first, second = enroll(campaign, {"first_name": "Ada"}, {"first_name": "Bob"})
    services.campaign_start(campaign=campaign)
    tick()
    clock.move_to(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
    reply(sms, first, at=datetime(2026, 3, 4, 10, 59, tzinfo=UTC))
    filed = Message.objects.get(direction=Direction.INBOUND).pk

    assert len(replies_detect()) == 1
    assert _cursor() < filed  # filed just now: read again by the next passes
    assert replies_detect() == []  # read again, harmlessly: the lead is stopped

    clock.move_to(datetime(2026, 3, 4, 11, 0, tzinfo=UTC) + REPLY_RESCAN + timedelta(seconds=1))
    replies_detect()
    assert _cursor() >= filed

    reply(sms, second, at=datetime(2026, 3, 4, 11, 2, tzinfo=UTC), message_id="in-2")
    assert len(replies_detect()) == 1
    assert set(Enrollment.objects.values_list("state", flat=True)) == {EnrollmentState.REPLIED}


@postgresql_only("two transactions open at once on two connections")
def test_a_reply_that_commits_after_a_later_message_is_still_seen(sms, openphone, clock, tick):
    """Message ids are taken at insert and seen at commit: a reply holding id n may
    commit after a message holding n + 1 was read by a pass."""
    campaign = make_campaign(sms, TWO_STEPS)
    slow, fast = enroll(campaign, {"first_name": "Ada"}, {"first_name": "Bob"})
    services.campaign_start(campaign=campaign)
    tick()
    clock.move_to(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
    inserted, go_on = threading.Event(), threading.Event()

    def slow_reply():
        try:
            with transaction.atomic():
                reply(sms, slow, at=datetime(2026, 3, 4, 10, 59, tzinfo=UTC), message_id="slow")
                inserted.set()
                go_on.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_reply)
    thread.start()
    assert inserted.wait(20)
    reply(sms, fast, at=datetime(2026, 3, 4, 10, 59, tzinfo=UTC), message_id="fast")
    assert len(replies_detect()) == 1  # the fast one; the slow one is not committed
    go_on.set()
    thread.join(20)

    assert len(replies_detect()) == 1  # the slow one, below what the last pass read
    slow.refresh_from_db()
    assert slow.state == EnrollmentState.REPLIED


def test_a_second_scheduler_skips_the_pass_while_one_runs_it(sms, clock):
    replies_detect()  # the cursor's row exists
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                ReplyCursor.objects.select_for_update().get()
                holding.set()
                release.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(20)
    try:
        assert replies_detect() == []  # does not wait for the other pass
    finally:
        release.set()
        thread.join(20)


def test_a_reply_stamped_in_the_start_s_own_second_stops_the_lead(sms, openphone, clock):
    """Providers stamp messages to the second: a reply written in the very second the
    campaign started (stamped at its start, or before it by the fraction) counts."""
    clock.move_to(datetime(2026, 3, 4, 10, 0, 0, 700_000, tzinfo=UTC))
    campaign = make_campaign(sms, TWO_STEPS)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)

    reply(sms, lead, at=datetime(2026, 3, 4, 10, 0, 0, tzinfo=UTC))
    replies_detect()

    lead.refresh_from_db()
    assert lead.state == EnrollmentState.REPLIED
