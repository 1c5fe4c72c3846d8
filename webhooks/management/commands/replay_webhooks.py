from collections import Counter

from django.core.management.base import BaseCommand

from providers import Provider
from tenants.moments import moment_option
from tenants.selectors import channel_named
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process
from webhooks.services import REPLAYABLE_STATUSES, webhook_events_replay

BATCH = 500


class Command(BaseCommand):
    help = (
        "Replay stored webhooks from their raw body: by status (default failed and dead), "
        "provider, channel and time range. Applying is idempotent, so replaying an event "
        "that was already applied changes nothing that was right."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            action="append",
            choices=[s.value for s in REPLAYABLE_STATUSES],
            help="Repeatable. Default: failed and dead.",
        )
        parser.add_argument("--provider", choices=[p.value for p in Provider])
        parser.add_argument("--channel", help="Channel id or webhook key.")
        parser.add_argument("--since", help="Received at or after (ISO 8601 with a zone).")
        parser.add_argument("--until", help="Received before (ISO 8601 with a zone).")
        parser.add_argument("--dry-run", action="store_true", help="Only count what matches.")
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Process here, one by one, instead of queueing for the workers.",
        )

    def handle(self, *args, **options):
        events = self._select(options)
        total = events.count()
        by_kind = Counter(events.values_list("provider", "status"))
        for (provider, status), count in sorted(by_kind.items()):
            self.stdout.write(f"  {count:>7}  {provider:15} {status}")
        if options["dry_run"] or not total:
            self.stdout.write(f"{total} event(s) match; nothing replayed.")
            return
        outcomes = self._replay(list(events.values_list("id", flat=True)), options["sync"], total)
        self.stdout.write(self.style.SUCCESS(self._summary(total, outcomes, options["sync"])))

    def _select(self, options):
        statuses = options["status"] or [EventStatus.FAILED, EventStatus.DEAD]
        events = WebhookEvent.objects.filter(status__in=statuses).order_by("received_at", "id")
        if options["provider"]:
            events = events.filter(provider=options["provider"])
        if options["channel"]:
            events = events.filter(channel_named(options["channel"], through="channel__"))
        if since := moment_option(options["since"], option="--since"):
            events = events.filter(received_at__gte=since)
        if until := moment_option(options["until"], option="--until"):
            events = events.filter(received_at__lt=until)
        return events

    def _replay(self, ids: list[int], sync: bool, total: int) -> Counter:
        outcomes: Counter = Counter()
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            outcomes["queued"] += webhook_events_replay(event_ids=batch, enqueue=not sync)
            if sync:
                outcomes.update(webhook_event_process(event_id=event_id) for event_id in batch)
            done = min(start + BATCH, total)
            self.stdout.write(f"\r  {done}/{total} ({done * 100 // total}%)", ending="")
            self.stdout.flush()
        self.stdout.write("")
        return outcomes

    def _summary(self, total: int, outcomes: Counter, sync: bool) -> str:
        replayed = outcomes.pop("queued")
        if not sync:
            return (
                f"Replayed {replayed} of {total} event(s): queued for the workers "
                "(if the broker is down, the sweep sends them when it is back)."
            )
        results = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
        return f"Replayed {replayed} of {total} event(s) here: {results}."
