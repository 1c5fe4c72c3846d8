"""manage.py campaign_import CAMPAIGN FILE.csv [--dry-run] [--region US] [--skip-invalid]

Loads a CSV of leads into a campaign under the same rules as the admin's upload and the
API (campaigns.leads, campaigns.audience): all or nothing in one transaction, lines in
error reported one per line on stderr, a progress bar on stderr while it enrolls. Exits
1 when any line is in error (with --skip-invalid, after importing the valid ones), so
that a script notices.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from campaigns.audience import ImportReport, audience_import, campaign_needs
from campaigns.leads import leads_parse
from campaigns.models import Campaign
from tenants.errors import ApplicationError
from tenants.ids import object_id

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Enroll the leads of a CSV file in a campaign (phone/LinkedIn, name, fields)."

    def add_arguments(self, parser):
        parser.add_argument("campaign", help="Campaign id, or its exact name.")
        parser.add_argument("file", help="CSV file (UTF-8, with a header line); - for stdin.")
        parser.add_argument("--dry-run", action="store_true", help="Report; write nothing.")
        parser.add_argument(
            "--region", default="", help="Country of numbers without a country code (US, FR)."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid lines; without it, a line in error imports nothing.",
        )
        parser.add_argument("--max-rows", type=int, default=1_000_000)

    def handle(self, *args, campaign, file, dry_run, region, skip_invalid, max_rows, **options):
        target = _campaign(campaign)
        self.stderr.write(f"Reading {file}…")
        data = sys.stdin.buffer.read() if file == "-" else _read(file)
        parsed = leads_parse(
            data=data,
            needs=campaign_needs(target),
            default_region=region or None,
            max_rows=max_rows,
        )
        try:
            report = audience_import(
                campaign=target, parsed=parsed, dry_run=dry_run, skip_invalid=skip_invalid,
                progress=self._bar,
            )  # fmt: skip
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self._report(report, target)
        if report.errors:
            raise CommandError(f"{len(report.errors)} line error(s).", returncode=1)

    def _bar(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        share = done / total if total else 1
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stderr.write(f"\r[{bar}] {done}/{total} leads ({share:.0%})", ending="")
        if done >= total:
            self.stderr.write("")

    def _report(self, report: ImportReport, campaign: Campaign) -> None:
        for error in report.errors:
            where = f"line {error.line}" if error.line else "file"
            self.stderr.write(f"{where}: {error.field}: {error.message}")
        verb = "Would enroll" if report.dry_run else "Enrolled"
        if not report.dry_run and not report.imported:
            verb = "Imported nothing; would have enrolled"
        summary = (
            f"{verb} {report.enrolled} lead(s) in {campaign.name!r}: "
            f"{report.contacts_created} new contact(s), {report.contacts_found} found, "
            f"{report.already_enrolled} already enrolled, {report.duplicates} duplicate "
            f"line(s) merged, {len(report.errors)} line error(s)"
            + (f", {report.skipped_invalid} line(s) skipped" if report.skipped_invalid else "")
            + f" ({report.rows} rows read)."
        )
        style = self.style.SUCCESS if report.imported and not report.errors else self.style.WARNING
        self.stdout.write(style(summary))


def _campaign(hint: str) -> Campaign:
    hinted_id = object_id(hint)
    if hinted_id is not None:
        found = Campaign.objects.filter(pk=hinted_id).select_related("channel").first()
        if found:
            return found
    named = list(Campaign.objects.filter(name=hint).select_related("channel")[:2])
    if len(named) > 1:
        raise CommandError(f"Several campaigns are named {hint!r}: give its id.")
    if not named:
        raise CommandError(f"No campaign {hint!r}.")
    return named[0]


def _read(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
