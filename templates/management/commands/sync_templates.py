from django.core.management.base import BaseCommand, CommandError

from providers.http import ProviderError
from templates.selectors import template_sync_channels
from templates.services import templates_sync
from tenants.errors import ApplicationError
from tenants.selectors import channel_named


class Command(BaseCommand):
    help = (
        "Sync WhatsApp message templates from Meta, here and now (the same work as the "
        "'Sync WhatsApp templates' schedule): every active WhatsApp channel with a WABA "
        "id, or one channel. Prints what changed per channel."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="Channel id or webhook key (default: all).")

    def handle(self, *args, channel, **options):
        channels = template_sync_channels()
        if channel:
            channels = channels.filter(channel_named(channel))
            if not channels.exists():
                raise CommandError(
                    f"No active WhatsApp channel with a WABA id matches {channel!r}."
                )
        failed = 0
        for item in channels:
            label = f"  #{item.pk} {item.name} ({item.organization.slug})"
            try:
                report = templates_sync(channel=item)
            except (ProviderError, ApplicationError) as exc:
                failed += 1
                self.stdout.write(self.style.ERROR(f"{label}: failed: {exc}"))
                continue
            style = self.style.SUCCESS if report.complete else self.style.WARNING
            self.stdout.write(style(f"{label}: {report.summary()}"))
        if failed:
            raise CommandError(f"{failed} channel(s) could not be synced.")
        self.stdout.write(self.style.SUCCESS(f"Synced {len(channels)} channel(s)."))
