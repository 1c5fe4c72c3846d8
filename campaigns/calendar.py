"""A campaign's calendar: when it may send, and what "N working days later" means.

Pure functions over aware datetimes; no database. All arithmetic on instants is done
in UTC and every sending-hours boundary is built as a local wall-clock time in the
campaign's zone (zoneinfo), so DST changes are right by construction: 09:00 on the
Monday after the clocks change is 09:00 local, whatever its UTC offset.

The rules (where the issue is silent, decided here):
- A sending moment is a local time on a sending day with start <= time < end.
- `working_days`: the same local time of day N sending days later. A delay that starts
  outside sending hours starts from the next sending moment (Saturday noon + 1 working
  day = Tuesday 09:00, not Monday noon). If that time of day does not exist on the
  target day (a DST gap) the clock's forward reading is taken (zoneinfo fold=0).
- `hours` / `minutes`: only sending time counts. A 2-hour delay at 16:30 with a 17:00
  end uses the half hour left today and lands at 10:30 on the next sending day. A delay
  that ends exactly at the end of the day lands at the next day's start (the end
  itself is not a sending moment).
- Zero delay: the next sending moment (now, if inside sending hours).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WORKING_DAYS = "working_days"
HOURS = "hours"
MINUTES = "minutes"


@dataclass(frozen=True)
class SendingCalendar:
    zone: ZoneInfo
    start: time
    end: time
    days: frozenset[int]  # Python weekdays: 0 = Monday

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("Sending hours must start before they end (same day).")
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("Sending days must be weekday numbers 0..6, at least one.")


def calendar_of(
    *, zone: str, start: time, end: time, days: list[int] | frozenset[int]
) -> SendingCalendar:
    return SendingCalendar(ZoneInfo(zone), start, end, frozenset(days))


def local_day(at: datetime, cal: SendingCalendar) -> date:
    """The day `at` falls on in the campaign's zone (daily caps count by it)."""
    return at.astimezone(cal.zone).date()


def is_sending_moment(at: datetime, cal: SendingCalendar) -> bool:
    local = at.astimezone(cal.zone)
    return local.weekday() in cal.days and cal.start <= local.time() < cal.end


def next_sending_moment(at: datetime, cal: SendingCalendar) -> datetime:
    """`at` itself if one may send then, else the next sending day's start (UTC)."""
    if is_sending_moment(at, cal):
        return at.astimezone(UTC)
    day = local_day(at, cal)
    if day.weekday() in cal.days and _boundary(day, cal.start, cal) > at:
        return _boundary(day, cal.start, cal)
    return _boundary(_next_sending_day(day, cal), cal.start, cal)


def next_day_start(at: datetime, cal: SendingCalendar) -> datetime:
    """The start of the first sending day after `at`'s local day: where a campaign
    that used up today's cap resumes."""
    return _boundary(_next_sending_day(local_day(at, cal), cal), cal.start, cal)


def add_delay(at: datetime, *, amount: int, unit: str, cal: SendingCalendar) -> datetime:
    """When a step `amount` `unit`s after `at` is due, in the campaign's calendar (UTC)."""
    if amount < 0:
        raise ValueError("A delay cannot be negative.")
    begin = next_sending_moment(at, cal)
    if amount == 0:
        return begin
    if unit == WORKING_DAYS:
        return _add_working_days(begin, amount, cal)
    if unit == HOURS:
        return _add_sending_time(begin, timedelta(hours=amount), cal)
    if unit == MINUTES:
        return _add_sending_time(begin, timedelta(minutes=amount), cal)
    raise ValueError(f"Unknown delay unit {unit!r}.")


def _add_working_days(begin: datetime, amount: int, cal: SendingCalendar) -> datetime:
    local = begin.astimezone(cal.zone)
    day = local.date()
    for _ in range(amount):
        day = _next_sending_day(day, cal)
    landed = _boundary(day, local.time().replace(tzinfo=None), cal)
    return next_sending_moment(landed, cal)


def _add_sending_time(begin: datetime, left: timedelta, cal: SendingCalendar) -> datetime:
    current = begin  # always a sending moment here
    while True:
        day_end = _boundary(local_day(current, cal), cal.end, cal)
        available = day_end - current  # both UTC: real elapsed time
        if left < available:
            return current + left
        left -= available
        current = next_day_start(current, cal)


def _next_sending_day(day: date, cal: SendingCalendar) -> date:
    for offset in range(1, 8):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() in cal.days:
            return candidate
    raise AssertionError("unreachable: at least one sending day")  # pragma: no cover


def _boundary(day: date, wall: time, cal: SendingCalendar) -> datetime:
    """`wall` o'clock on `day` in the campaign's zone, as a UTC instant. A wall time in
    a DST gap is read with the offset before the change (fold=0), i.e. it lands just
    after the gap; normalizing through UTC makes it a real local time."""
    return datetime.combine(day, wall, tzinfo=cal.zone).astimezone(UTC)
