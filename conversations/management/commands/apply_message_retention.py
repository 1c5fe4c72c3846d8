from django.core.management.base import BaseCommand

from conversations.retention import messages_retention_apply


class Command(BaseCommand):
    help = (
        "Blank the contents of messages older than each organization's "
        "message_retention_days (the same work as the 'Apply message retention' schedule)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help="Walk every conversation to its first message, not only to what earlier "
            "runs blanked (finds old messages filed later, e.g. by a backfill).",
        )

    def handle(self, *args, full=False, **options):
        report = messages_retention_apply(full=full)
        for slug, counts in report.items():
            line = ", ".join(f"{name} {count}" for name, count in counts.items())
            self.stdout.write(f"  {slug:30} {line}")
        self.stdout.write(
            self.style.SUCCESS(f"Retention applied to {len(report)} organization(s).")
        )
