from django.core.management.base import BaseCommand, CommandError

from reconciliation import services
from reconciliation.models import ReconciliationRun, RunKind, RunStatus, RunTrigger
from tenants.errors import ApplicationError
from tenants.models import Channel
from tenants.moments import moment_option
from tenants.selectors import channel_named

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Read a channel's messages from its provider's API (OpenPhone, Twilio, Unipile) or "
        "its templates (WhatsApp) and apply what is missing or out of date; or resume a run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="Channel id or webhook key.")
        parser.add_argument("--since", help="ISO 8601 with a zone (default: 48 hours ago).")
        parser.add_argument("--until", help="ISO 8601 with a zone (default: now).")
        parser.add_argument("--kind", choices=[k.value for k in RunKind])
        parser.add_argument("--resume", type=int, metavar="RUN_ID", help="Resume a failed run.")

    def handle(self, *args, channel, since, until, kind, resume, **options):
        if bool(channel) == bool(resume):
            raise CommandError("Give --channel, or --resume with a run id.")
        since = moment_option(since, option="--since")
        until = moment_option(until, option="--until")
        run = _resumable(resume) if resume else self._created(channel, since, until, kind)
        self.stdout.write(
            f"Run {run.pk}: {run.get_kind_display()} of {run.channel} "
            f"from {run.window_start:%Y-%m-%d %H:%M} to {run.window_end:%Y-%m-%d %H:%M} UTC"
        )
        run = services.run_execute(run_id=run.pk, on_progress=self._progress)
        self._summary(run)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error}")  # says how to resume

    def _created(self, hint, since, until, kind) -> ReconciliationRun:
        try:
            return services.run_create(
                channel=_channel(hint),
                trigger=RunTrigger.COMMAND,
                since=since,
                until=until,
                kind=RunKind(kind) if kind else None,
            )
        except ApplicationError as error:
            raise CommandError(f"{error.message} {error.details}") from error

    def _progress(self, run: ReconciliationRun) -> None:
        progress = run.progress
        if progress.get("participants"):
            done, total = progress.get("participants_done", 0), progress["participants"]
            share = done / total
            label = f"{done}/{total} participants"
        else:
            share, label = (
                (1.0 if run.cursor.get("done") else 0.5),
                f"{progress.get('pages', 0)} pages",
            )
        filled = int(share * BAR_WIDTH)
        self.stdout.write(
            f"  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {label}, {run.fetched} fetched"
        )

    def _summary(self, run: ReconciliationRun) -> None:
        rows = [
            ("status", run.status),
            ("fetched", run.fetched),
            ("created", run.created),
            ("updated", run.updated),
            ("unchanged", run.unchanged),
            ("errors", run.errors),
        ]
        for day in run.findings.get("differing_days", []):
            rows.append(
                (f"differs {day['day']}", f"provider {day['provider']}, ours {day['ours']}")
            )
        width = max(len(name) for name, _ in rows)
        self.stdout.write("\n".join(f"  {name:<{width}}  {value}" for name, value in rows))


def _channel(hint: str) -> Channel:
    channel = Channel.objects.filter(channel_named(hint)).first()
    if channel is None:
        raise CommandError(f"No channel {hint!r}.")
    return channel


def _resumable(run_id: int) -> ReconciliationRun:
    run = ReconciliationRun.objects.select_related("channel").filter(pk=run_id).first()
    if run is None:
        raise CommandError(f"No run {run_id}.")
    return run
