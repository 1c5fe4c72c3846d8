"""A report's date range: whole days in the organization's timezone.

Reports count by the organization's calendar (a message at 23:30 in Berlin belongs to
that Berlin day, not to the UTC day after), so a range is a pair of local dates and the
queries use the UTC instants where those days begin and end.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Organization

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class DateRange:
    """`start` to `end`, both included, in `tz`."""

    start: date
    end: date
    tz: zoneinfo.ZoneInfo

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def start_at(self) -> datetime:
        return day_start(self.start, self.tz)

    @property
    def end_before(self) -> datetime:
        """The instant the day after `end` begins: ranges are half-open in time."""
        return day_start(self.end + timedelta(days=1), self.tz)

    def previous(self) -> "DateRange":
        """The range of the same length just before this one (the digest's "week
        before")."""
        length = (self.end - self.start).days + 1
        before = self.start - timedelta(days=1)
        return DateRange(before - timedelta(days=length - 1), before, self.tz)


def organization_tz(organization: Organization) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(organization.timezone)


def day_start(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    """Midnight of `day` in `tz` (a DST change moves the UTC instant, not the day)."""
    return datetime.combine(day, time.min, tzinfo=tz)


def local_day(moment: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def date_range_parse(
    params, *, organization: Organization, default_days: int = DEFAULT_DAYS
) -> DateRange:
    """`from` and `to` (YYYY-MM-DD, both included) from query parameters; by default
    the last `default_days` days up to today in the organization's timezone.

    A malformed date, `from` after `to` or a range over MAX_DAYS is a 400
    VALIDATION_ERROR naming the parameter."""
    tz = organization_tz(organization)
    today = local_day(timezone.now(), tz)
    end = _date_param(params, "to") or today
    start = _date_param(params, "from") or end - timedelta(days=default_days - 1)
    if start > end:
        raise _invalid("from", "`from` is after `to`.")
    if (end - start).days + 1 > MAX_DAYS:
        raise _invalid("to", f"A range covers at most {MAX_DAYS} days.")
    return DateRange(start, end, tz)


def _date_param(params, name: str) -> date | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise _invalid(name, "Enter a date as YYYY-MM-DD.") from None


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        ErrorCode.VALIDATION_ERROR, message, {field: [{"message": message, "code": "invalid"}]}
    )
