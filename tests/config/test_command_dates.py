"""Management commands given a bad date print one clear line, not a traceback.

An argparse `type` that raised CommandError escaped the parser as a traceback, and a
date of year 1 overflowed later on. The commands are run the way a shell runs them
(ManagementUtility, which prints a CommandError as one line and exits 1).
"""

import pytest
from django.core.management import ManagementUtility

from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

BAD_DATES = [
    pytest.param("yesterday", "Not an ISO 8601 date-time", id="not-a-date"),
    pytest.param("2026-13-45T00:00:00Z", "Not an ISO 8601 date-time", id="no-such-day"),
    pytest.param("2026-11-30T00:00:00", "Give a time zone", id="naive"),
    pytest.param("0001-01-01T00:00:00+01:00", "Must be between", id="year-one"),
]


def _run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", *argv]).execute()
    captured = capsys.readouterr()
    return exited.value.code, captured.err


@pytest.mark.parametrize(("value", "says"), BAD_DATES)
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_reconcile_with_a_bad_date_says_so_in_one_line(capsys, option, value, says):
    channel = ChannelFactory()

    code, err = _run(capsys, "reconcile", "--channel", str(channel.pk), option, value)

    assert code == 1
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"CommandError: {option}: {says}")


@pytest.mark.parametrize(("value", "says"), BAD_DATES)
def test_replay_webhooks_with_a_bad_date_says_so_in_one_line(capsys, value, says):
    code, err = _run(capsys, "replay_webhooks", "--since", value, "--dry-run")

    assert code == 1
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"CommandError: --since: {says}")
