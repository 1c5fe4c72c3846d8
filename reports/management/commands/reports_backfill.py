from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reports.inbox_backfill import inbox_backfill
from tenants.models import Organization


class Command(BaseCommand):
    help = (
        "Rebuild the inbox reports' rollups from history (messages, conversations and "
        "the episodes recorded so far): every organization, or one; every day, or the "
        "local days from --from to --to."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Its slug (default: every organization).")
        parser.add_argument("--from", dest="start", type=_day, help="YYYY-MM-DD, local.")
        parser.add_argument("--to", dest="end", type=_day, help="YYYY-MM-DD, local, included.")

    def handle(self, *args, organization=None, start=None, end=None, **options):
        if start and end and start > end:
            raise CommandError("--from is after --to.")
        organizations = Organization.objects.order_by("slug")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No organization with the slug {organization!r}.")
        for each in organizations:
            done = inbox_backfill(organization=each, start=start, end=end)
            self.stdout.write(
                f"  {each.slug:30} {done['conversations']:>8} conversations "
                f"{done['episodes']:>8} episodes {done['days']:>8} conversation-days"
            )
        self.stdout.write(self.style.SUCCESS("Inbox reports rebuilt."))


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None
