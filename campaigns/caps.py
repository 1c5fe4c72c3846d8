"""Daily caps and what a send check's refusal means for a campaign.

A campaign's own caps (messages, invitations per day, on top of the channel's) are
counted in PostgreSQL per campaign, kind and day in the campaign's time zone, with
one INSERT ... ON CONFLICT DO UPDATE that counts only while under the cap. Reaching a
cap (the campaign's, or the channel's: messaging's RATE_LIMITED with a long
retry_after) stops the whole campaign's claims until the next sending day's start,
shown on the campaign as `capped_until`.
"""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F

from campaigns import calendar
from campaigns.calendar import SendingCalendar
from campaigns.models import Campaign, CampaignDailyCount, EnrollmentState, Step, StepKind
from tenants.errors import ApplicationError, ErrorCode

MESSAGE = "message"
INVITATION = "invitation"
# A RATE_LIMITED answer asking to wait longer than this is a daily cap, not throughput.
CAP_RETRY_AFTER_SECONDS = 60.0
# When a step refused "not now" for another reason (the channel switched off) is
# tried again.
RETRY = timedelta(hours=1)
# How long a WhatsApp text step waits for the 24-hour window before giving up.
WINDOW_WAIT_WORKING_DAYS = 3

# Verdicts on a refused send.
NOT_NOW = "not_now"
THROTTLED = "throttled"
CHANNEL_CAPPED = "channel_capped"
WAIT_FOR_WINDOW = "wait_for_window"
NEVER = "never"

# "Never" refusals and the state they leave the enrollment in (others: failed).
STOP_STATE = {
    ErrorCode.CONTACT_OPTED_OUT: EnrollmentState.OPTED_OUT,
    ErrorCode.CONTACT_DO_NOT_CONTACT: EnrollmentState.STOPPED,
}


class CampaignCapped(Exception):  # noqa: N818 - a condition, not a failure
    pass


def verdict_for(error: ApplicationError) -> str:
    if error.code == ErrorCode.RATE_LIMITED:
        retry_after = float(error.details.get("retry_after") or 0)
        return CHANNEL_CAPPED if retry_after > CAP_RETRY_AFTER_SECONDS else THROTTLED
    if error.code == ErrorCode.WINDOW_EXPIRED:
        return WAIT_FOR_WINDOW
    if error.code == ErrorCode.VALIDATION_ERROR and _channel_switched_off(error):
        return NOT_NOW  # an operator switched the channel off for now
    return NEVER


def _channel_switched_off(error: ApplicationError) -> bool:
    return any(item.get("code") == "inactive" for item in error.details.get("channel", []))


def cap_kind(step: Step) -> str:
    return INVITATION if step.kind == StepKind.LINKEDIN_INVITATION else MESSAGE


def campaign_cap_take(
    *, campaign: Campaign, step: Step, now: datetime, cal: SendingCalendar
) -> None:
    """Count one action against the campaign's cap of its kind, or raise
    CampaignCapped. Without a cap nothing is counted."""
    kind = cap_kind(step)
    cap = campaign.daily_invitation_cap if kind == INVITATION else campaign.daily_message_cap
    if cap is None:
        return
    table = CampaignDailyCount._meta.db_table
    sql = (
        f"INSERT INTO {table} (campaign_id, day, kind, count) VALUES (%s, %s, %s, 1) "  # noqa: S608 - names from the model
        f"ON CONFLICT (campaign_id, day, kind) DO UPDATE SET count = {table}.count + 1 "
        f"WHERE {table}.count < %s RETURNING count"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, calendar.local_day(now, cal), kind, cap])
        if cursor.fetchone() is None:
            raise CampaignCapped(f"The campaign's daily cap of {cap} {kind}s is reached.")


def campaign_cap_give_back(
    *, campaign: Campaign, step: Step, now: datetime, cal: SendingCalendar
) -> None:
    """Undo campaign_cap_take for a step the send refused: a refused send (an opt-out,
    a closed window retried hourly) must not use up the day's allowance of the leads
    who can be reached."""
    kind = cap_kind(step)
    cap = campaign.daily_invitation_cap if kind == INVITATION else campaign.daily_message_cap
    if cap is None:
        return
    CampaignDailyCount.objects.filter(
        campaign_id=campaign.pk, day=calendar.local_day(now, cal), kind=kind, count__gt=0
    ).update(count=F("count") - 1)


def campaign_cap_until(
    *, now: datetime, cal: SendingCalendar, retry_after: float | None = None
) -> datetime:
    """The next sending day's start in the campaign's zone, and not before the
    channel's own cap resets (its UTC day) when that is what was reached."""
    until = calendar.next_day_start(now, cal)
    if retry_after:
        until = max(until, calendar.next_sending_moment(now + timedelta(seconds=retry_after), cal))
    return until


def campaign_mark_capped(*, campaign: Campaign, until: datetime, reason: str) -> None:
    Campaign.objects.filter(pk=campaign.pk).exclude(capped_until__gte=until).update(
        capped_until=until, capped_reason=reason[:200]
    )
    campaign.capped_until, campaign.capped_reason = until, reason[:200]
