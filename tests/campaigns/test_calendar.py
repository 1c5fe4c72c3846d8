"""The campaign calendar: working days, sending hours, DST, in two time zones."""

from datetime import UTC, datetime, time

import pytest

from campaigns.calendar import (
    HOURS,
    MINUTES,
    WORKING_DAYS,
    add_delay,
    calendar_of,
    is_sending_moment,
    local_day,
    next_day_start,
    next_sending_moment,
)


def office(zone: str):
    return calendar_of(zone=zone, start=time(9), end=time(17), days=[0, 1, 2, 3, 4])


LONDON, NEW_YORK, KOLKATA = (
    office("Europe/London"),
    office("America/New_York"),
    office("Asia/Kolkata"),
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_one_working_day_after_a_friday_is_the_monday_at_the_same_local_time():
    friday_10 = utc(2026, 3, 6, 10, 0)  # 10:00 GMT

    assert add_delay(friday_10, amount=1, unit=WORKING_DAYS, cal=LONDON) == utc(2026, 3, 9, 10)


def test_working_days_across_the_march_clock_change_keep_the_local_time_in_london():
    friday_10_gmt = utc(2026, 3, 27, 10, 0)  # clocks go forward on Sunday 29 March

    monday = add_delay(friday_10_gmt, amount=1, unit=WORKING_DAYS, cal=LONDON)

    assert monday == utc(2026, 3, 30, 9, 0)  # 10:00 BST
    assert monday.astimezone(LONDON.zone).hour == 10


def test_working_days_across_the_november_clock_change_keep_the_local_time_in_new_york():
    friday_10_edt = utc(2026, 10, 30, 14, 0)  # clocks go back on Sunday 1 November

    monday = add_delay(friday_10_edt, amount=1, unit=WORKING_DAYS, cal=NEW_YORK)

    assert monday == utc(2026, 11, 2, 15, 0)  # 10:00 EST
    assert monday.astimezone(NEW_YORK.zone).hour == 10


def test_sending_hours_delay_across_a_weekend_and_the_march_change_in_new_york():
    friday_16_est = utc(2026, 3, 6, 21, 0)  # DST starts Sunday 8 March

    landed = add_delay(friday_16_est, amount=3, unit=HOURS, cal=NEW_YORK)

    # One hour left on Friday, two more from Monday 09:00 EDT.
    assert landed == utc(2026, 3, 9, 15, 0)
    assert landed.astimezone(NEW_YORK.zone).time() == time(11, 0)


def test_an_hours_delay_late_in_the_day_continues_the_next_working_morning():
    wednesday_1630 = utc(2026, 3, 4, 16, 30)

    assert add_delay(wednesday_1630, amount=2, unit=HOURS, cal=LONDON) == utc(2026, 3, 5, 10, 30)
    friday_1630 = utc(2026, 3, 6, 16, 30)
    assert add_delay(friday_1630, amount=2, unit=HOURS, cal=LONDON) == utc(2026, 3, 9, 10, 30)


def test_a_delay_ending_exactly_at_closing_lands_on_the_next_days_start():
    assert add_delay(utc(2026, 3, 4, 16, 0), amount=60, unit=MINUTES, cal=LONDON) == utc(
        2026, 3, 5, 9, 0
    )


def test_a_second_time_zone_without_dst_counts_in_its_own_local_hours():
    friday_1630_ist = utc(2026, 3, 6, 11, 0)  # 16:30 in Kolkata (UTC+05:30)

    landed = add_delay(friday_1630_ist, amount=2, unit=HOURS, cal=KOLKATA)

    assert landed == utc(2026, 3, 9, 5, 0)  # Monday 10:30 IST
    assert add_delay(friday_1630_ist, amount=1, unit=WORKING_DAYS, cal=KOLKATA) == utc(
        2026, 3, 9, 11, 0
    )


def test_a_delay_starting_at_the_weekend_starts_from_the_next_sending_moment():
    saturday_noon = utc(2026, 3, 7, 12, 0)

    assert next_sending_moment(saturday_noon, LONDON) == utc(2026, 3, 9, 9, 0)
    assert add_delay(saturday_noon, amount=1, unit=WORKING_DAYS, cal=LONDON) == utc(
        2026, 3, 10, 9, 0
    )
    assert add_delay(saturday_noon, amount=30, unit=MINUTES, cal=LONDON) == utc(2026, 3, 9, 9, 30)


def test_zero_delay_inside_hours_is_now_and_before_opening_is_the_opening():
    assert add_delay(utc(2026, 3, 4, 11, 5), amount=0, unit=HOURS, cal=LONDON) == utc(
        2026, 3, 4, 11, 5
    )
    assert next_sending_moment(utc(2026, 3, 4, 7, 0), LONDON) == utc(2026, 3, 4, 9, 0)
    assert next_sending_moment(utc(2026, 3, 4, 17, 0), LONDON) == utc(2026, 3, 5, 9, 0)


def test_sending_moments_days_and_caps_reset_follow_the_local_day():
    # 23:30 UTC on Thursday is already Friday 05:00 in Kolkata.
    late = utc(2026, 3, 5, 23, 30)
    assert local_day(late, KOLKATA).isoformat() == "2026-03-06"
    assert next_day_start(late, KOLKATA) == utc(2026, 3, 9, 3, 30)  # Monday 09:00 IST
    assert not is_sending_moment(utc(2026, 3, 7, 10), LONDON)  # Saturday
    assert is_sending_moment(utc(2026, 3, 30, 8, 0), LONDON)  # 09:00 BST


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [(time(17), time(9), [0]), (time(9), time(17), []), (time(9), time(17), [7])],
)
def test_an_impossible_calendar_is_refused(start, end, days):
    with pytest.raises(ValueError, match="Sending"):
        calendar_of(zone="Europe/London", start=start, end=end, days=days)
