"""A report's range is whole days of the organization's calendar."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from reports.ranges import date_range_parse
from tenants.errors import ApplicationError
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

# 23:30 UTC on a Sunday is already Monday in Berlin.
NOW = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)


def test_default_is_the_last_30_local_days():
    organization = OrganizationFactory(timezone="Europe/Berlin")
    with time_machine.travel(NOW, tick=False):
        span = date_range_parse({}, organization=organization)
    assert (span.start, span.end) == (date(2026, 3, 1), date(2026, 3, 30))
    assert len(span.days) == 30


def test_bounds_are_local_midnights_across_a_dst_change():
    organization = OrganizationFactory(timezone="Europe/Berlin")
    span = date_range_parse({"from": "2026-03-29", "to": "2026-03-29"}, organization=organization)
    # The day clocks went forward is 23 hours long.
    assert span.start_at == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert span.end_before == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert span.previous().end == date(2026, 3, 28)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "to"),
        ({"from": "\x00"}, "from"),
    ],
)
def test_bad_ranges_name_the_parameter(params, field):
    organization = OrganizationFactory()
    with pytest.raises(ApplicationError) as caught:
        date_range_parse(params, organization=organization)
    assert caught.value.code.value == "VALIDATION_ERROR"
    assert list(caught.value.details) == [field]
