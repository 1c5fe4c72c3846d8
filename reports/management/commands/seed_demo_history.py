"""manage.py seed_demo_history: a month of history for the demo tenant (`make run`
runs it after seed_demo), so that the Reports page shows figures. Safe to run again:
it writes nothing once the history is there."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.demo_history import demo_history_seed
from tenants.demo import DEMO_SLUG
from tenants.models import Organization


class Command(BaseCommand):
    help = (
        "Give the demo organization (seed_demo) about 30 days of conversations, refused "
        "sends and a completed campaign, and rebuild the reports from them. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (fake customers!)."
        )

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off: seed_demo_history writes made-up customers and messages. "
                "Pass --force if this really is a demo or test system."
            )
        organization = Organization.objects.filter(slug=DEMO_SLUG).first()
        if organization is None:
            raise CommandError("No demo organization: run `manage.py seed_demo` first.")
        written = demo_history_seed(organization=organization)
        if written is None:
            self.stdout.write("Demo history: already there, nothing added.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo history: {written['conversations']} conversations, "
                f"{written['messages_in']} messages in, {written['messages_out']} out, "
                f"{written['refused']} refused sends, a campaign of "
                f"{written['enrollments']} leads; reports rebuilt."
            )
        )
