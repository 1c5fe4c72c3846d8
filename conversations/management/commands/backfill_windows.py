from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from conversations.maintenance import BackfillProgress, windows_backfill
from tenants.ids import object_id
from tenants.models import Channel, Organization
from tenants.selectors import channel_named


class Command(BaseCommand):
    help = (
        "Recompute the 24-hour window fields of conversations from their stored messages "
        "(after importing or repairing data, or changing a channel's window policy)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Organization slug or id (default: all).")
        parser.add_argument("--channel", help="Channel id or webhook key (default: all).")
        parser.add_argument("--batch-size", type=int, default=5_000)

    def handle(self, *args, organization, channel, batch_size, **options):
        organization_id = _organization_id(organization) if organization else None
        channel_id = _channel_id(channel, organization_id) if channel else None
        progress = windows_backfill(
            organization_id=organization_id,
            channel_id=channel_id,
            batch_size=batch_size,
            on_progress=self._report_progress,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Recomputed {progress.conversations} conversation(s); "
                f"{progress.open_windows} have an open window now."
            )
        )

    def _report_progress(self, progress: BackfillProgress) -> None:
        share = progress.conversations / progress.total if progress.total else 1
        self.stdout.write(f"  {progress.conversations:>9} / {progress.total} ({share:.0%})")


def _organization_id(hint: str) -> int:
    hinted_id = object_id(hint)
    lookup = Q(slug=hint) | (Q(pk=hinted_id) if hinted_id is not None else Q())
    found = Organization.objects.filter(lookup).values_list("pk", flat=True).first()
    if found is None:
        raise CommandError(f"No organization {hint!r}.")
    return found


def _channel_id(hint: str, organization_id: int | None) -> int:
    channels = Channel.objects.filter(channel_named(hint))
    if organization_id is not None:
        channels = channels.filter(organization_id=organization_id)
    found = channels.values_list("pk", flat=True).first()
    if found is None:
        raise CommandError(
            f"No channel {hint!r}" + (" in that organization." if organization_id else ".")
        )
    return found
