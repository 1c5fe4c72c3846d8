"""Moments typed by people (API fields, query parameters, command options): one rule.

A moment must be an ISO 8601 date-time with a time zone, between 1970 and 9000. Outside
that range nothing is ours to find, and arithmetic on it (a 48-hour lookback, a
conversion to UTC) overflows Python's datetime: year 1 used to be a 500.
"""

from datetime import UTC, datetime

from django.core.management.base import CommandError

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = f"Must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}."


def moment_in_range(moment: datetime) -> bool:
    return EARLIEST <= moment <= LATEST


def moment_parse(text: str) -> datetime:
    """An aware datetime in UTC, or ValueError with a message a person can act on."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"Not an ISO 8601 date-time: {text!r}.") from None
    if moment.tzinfo is None:
        raise ValueError(f"Give a time zone (Z or +00:00): {text!r}.")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{OUT_OF_RANGE[:-1]}: {text!r}.") from None
    if not moment_in_range(moment):
        raise ValueError(f"{OUT_OF_RANGE[:-1]}: {text!r}.")
    return moment


def moment_option(value: str | None, *, option: str) -> datetime | None:
    """A command's date-time option, or CommandError: one line, not a traceback (an
    argparse `type` that raises CommandError escapes the parser with one)."""
    if value is None:
        return None
    try:
        return moment_parse(value)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from None
