"""manage.py reports_backfill_campaigns, and the periodic task that keeps the rollups."""

import io

import pytest
from django.core.management import CommandError, call_command

from reports.campaign_models import CampaignDayRollup
from reports.campaign_rollups import campaign_rollups_update
from reports.tasks import campaign_rollups_update_task
from tests.reports.campaign_scenario import build
from tests.reports.test_campaign_rollups import rollup_table

pytestmark = pytest.mark.django_db


def test_the_command_recounts_what_the_pass_counted(organization):
    build(organization, campaign_rollups_update)
    incremental = rollup_table()
    CampaignDayRollup.objects.all().delete()
    out = io.StringIO()

    call_command("reports_backfill_campaigns", "--organization", organization.slug, stdout=out)

    assert rollup_table() == incremental
    # 6 leads; 6 steps sent, 1 accepted, 1 failed (L5's refusal is its opt-out).
    assert f"rebuilt for {organization.slug}: 6 leads, 8 step facts" in out.getvalue()


def test_the_command_replaces_only_the_days_asked(organization):
    build(organization, campaign_rollups_update)
    CampaignDayRollup.objects.update(sent=50)

    call_command(
        "reports_backfill_campaigns",
        "--organization",
        str(organization.pk),
        "--from",
        "2026-03-03",
        "--to",
        "2026-03-03",
        stdout=io.StringIO(),
    )

    sent = {
        (row.campaign.name, row.day.isoformat(), row.position): row.sent
        for row in CampaignDayRollup.objects.select_related("campaign")
    }
    # The 3rd recounted: A's step 1 went to 4 leads, B's invitation to 1; the lead rows
    # (position -1) send nothing.
    assert {k: v for k, v in sent.items() if k[1] == "2026-03-03"} == {
        ("A", "2026-03-03", -1): 0,
        ("A", "2026-03-03", 1): 4,
        ("B", "2026-03-03", 1): 1,
    }
    assert all(value == 50 for key, value in sent.items() if key[1] != "2026-03-03")


@pytest.mark.parametrize(
    "arguments",
    [
        ["--organization", "nope"],
        ["--from", "2026-03-03"],  # days need an organization
        ["--organization", "ORG", "--from", "March"],
        ["--organization", "ORG", "--from", "2026-03-04", "--to", "2026-03-03"],
    ],
)
def test_the_command_refuses_bad_arguments(organization, arguments):
    arguments = [organization.slug if a == "ORG" else a for a in arguments]

    with pytest.raises(CommandError):
        call_command("reports_backfill_campaigns", *arguments, stdout=io.StringIO())


def test_the_periodic_task_runs_a_pass(organization):
    counted = campaign_rollups_update_task.delay().get()

    assert set(counted) == {"enrollments", "steps", "events"}
