from django.core.management.base import BaseCommand

from conversations.maintenance import windows_close_expired
from tenants.models import Organization


class Command(BaseCommand):
    help = (
        "Bring every conversation's stored is_window_open flag in line with the clock "
        "(the same work as the 'Close expired windows' schedule), and report per "
        "organization."
    )

    def handle(self, *args, **options):
        report = windows_close_expired()
        names = dict(
            Organization.objects.filter(
                pk__in=report.closed.keys() | report.reopened.keys()
            ).values_list("pk", "slug")
        )
        for organization_id in sorted(names, key=names.get):
            self.stdout.write(
                f"  {names[organization_id]:30} closed {report.closed[organization_id]:>8}"
                f"   reopened {report.reopened[organization_id]:>6}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{sum(report.closed.values())} window(s) closed, "
                f"{sum(report.reopened.values())} reopened."
            )
        )
