"""manage.py campaign_import: a progress bar, a per-line error report, and an exit
status a script can act on."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Enrollment

pytestmark = pytest.mark.django_db


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("campaign_import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("phone,first_name\n+16505551234,Kim\n(650) 555-9876,Lou\n6505551234,K\n")
    return path


def test_it_imports_with_a_progress_bar(campaign, good):
    out, err = _run(str(campaign.pk), str(good), "--region", "US")

    assert "Enrolled 2 lead(s) in 'Spring outreach': 2 new contact(s)" in out
    assert "1 duplicate line(s) merged" in out
    assert "[##############################] 2/2 leads (100%)" in err
    assert Enrollment.objects.filter(campaign=campaign).count() == 2


def test_a_dry_run_by_name_writes_nothing(campaign, good):
    out, _ = _run("Spring outreach", str(good), "--region", "US", "--dry-run")
    assert "Would enroll 2 lead(s)" in out
    assert not Enrollment.objects.exists()


def test_lines_in_error_are_listed_and_the_exit_status_is_not_zero(campaign, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("phone,first_name\n+16505551234,Kim\n12,Typo\n,Nobody\n")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("campaign_import", str(campaign.pk), str(path), stdout=out, stderr=err)

    assert failed.value.returncode == 1
    assert "line 3: phone: '12' is not a valid phone number" in err.getvalue()
    assert "line 4: phone: No phone on this line." in err.getvalue()
    assert "Imported nothing" in out.getvalue()
    assert not Enrollment.objects.exists()

    # with --skip-invalid the valid line goes in, and the status still says "errors"
    with pytest.raises(CommandError):
        call_command(
            "campaign_import", str(campaign.pk), str(path), "--skip-invalid",
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    assert Enrollment.objects.count() == 1


def test_unknown_campaign_or_file(campaign, tmp_path):
    with pytest.raises(CommandError, match="No campaign"):
        _run("Nope", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="Cannot read"):
        _run(str(campaign.pk), str(tmp_path / "missing.csv"))
