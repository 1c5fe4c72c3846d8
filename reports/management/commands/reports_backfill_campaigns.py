"""manage.py reports_backfill_campaigns [--organization SLUG_OR_ID] [--from DAY --to DAY]

Recounts the campaign report rollups from the campaigns' history (the day the reports
shipped, after a time zone change, or to check them): reports.campaign_backfill. With
--from/--to, only those days' rollup rows are replaced (in the organization's zone;
--organization is then required).
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from reports.campaign_backfill import campaign_rollups_rebuild
from reports.ranges import DateRange, organization_tz
from tenants.ids import object_id
from tenants.models import Organization


class Command(BaseCommand):
    help = "Rebuild the campaign report rollups from history (one organization or all)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", default="", help="Slug or id; default all.")
        parser.add_argument("--from", dest="start", default="", help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", default="", help="Last day, YYYY-MM-DD.")

    def handle(self, *args, organization, start, end, **options):
        found = _organization(organization) if organization else None
        span = None
        if start or end:
            if found is None:
                raise CommandError("--from/--to need --organization (days are its own).")
            first, last = _day(start or end), _day(end or start)
            if first > last:
                raise CommandError("--from is after --to.")
            span = DateRange(first, last, organization_tz(found))
        counted = campaign_rollups_rebuild(organization=found, span=span)
        scope = found.slug if found else "every organization"
        days = f", days {span.start} to {span.end}" if span else ""
        self.stdout.write(
            f"Campaign rollups rebuilt for {scope}{days}: "
            f"{counted['leads']} leads, {counted['steps']} step facts."
        )


def _organization(value: str) -> Organization:
    found = Organization.objects.filter(Q(slug=value) | Q(pk=object_id(value) or 0)).first()
    if found is None:
        raise CommandError(f"No organization {value!r}.")
    return found


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a day (YYYY-MM-DD): {value!r}") from None
