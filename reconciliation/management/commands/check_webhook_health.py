from time import monotonic, sleep

from django.core.management.base import BaseCommand, CommandError

from reconciliation.health import (
    health_check_channels,
    health_check_run,
    health_check_timeout,
    health_checks_settle,
)
from reconciliation.models import HealthCheckResult, WebhookHealthCheck
from tenants.selectors import channel_named

POLL_SECONDS = 2.0
# Beyond the timeout, how long --wait gives the settle to record a result.
WAIT_MARGIN_SECONDS = 30.0
# Without --wait a pending check is not a failure: the settle task records it.
_GOOD = (HealthCheckResult.CONFIRMED, HealthCheckResult.PENDING)


class Command(BaseCommand):
    help = (
        "Run a webhook health check now (the same work as the 'Check webhook health' "
        "schedule): send the test message of every channel whose health check is enabled, "
        "or of one channel. With --wait, wait for each webhook (or the timeout) and print "
        "the result and latency."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="Channel id or webhook key (default: all).")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Wait until each check is confirmed, failed or timed out.",
        )

    def handle(self, *args, channel, wait, **options):
        channels = health_check_channels()
        if channel:
            channels = channels.filter(channel_named(channel))
            if not channels.exists():
                raise CommandError(
                    f"No active channel with an enabled health check matches {channel!r}."
                )
        checks = []
        for item in channels.order_by("pk"):
            check = health_check_run(channel=item)
            checks.append(check)
            self._print(check)
        if not checks:
            self.stdout.write("No channel has its health check enabled.")
            return
        if wait:
            self.stdout.write("Waiting for the webhooks…")
            checks = self._settled(checks)
            for check in checks:
                self._print(check)
        failed = [check for check in checks if check.result not in _GOOD]
        if failed:
            raise CommandError(f"{len(failed)} of {len(checks)} health check(s) failed.")
        self.stdout.write(self.style.SUCCESS(f"Checked {len(checks)} channel(s)."))

    def _settled(self, checks: list[WebhookHealthCheck]) -> list[WebhookHealthCheck]:
        ids = [check.pk for check in checks]
        deadline = monotonic() + health_check_timeout().total_seconds() + WAIT_MARGIN_SECONDS
        while True:
            health_checks_settle()
            checks = list(
                WebhookHealthCheck.objects.select_related("channel__organization")
                .filter(pk__in=ids)
                .order_by("channel_id")
            )
            pending = any(check.result == HealthCheckResult.PENDING for check in checks)
            if not pending or monotonic() >= deadline:
                return checks
            sleep(POLL_SECONDS)

    def _print(self, check: WebhookHealthCheck) -> None:
        channel = check.channel
        label = f"  #{channel.pk} {channel.name} ({channel.organization.slug})"
        result = check.get_result_display().lower()
        if check.result == HealthCheckResult.CONFIRMED:
            self.stdout.write(self.style.SUCCESS(f"{label}: {result} in {check.latency_ms} ms"))
        elif check.result == HealthCheckResult.PENDING:
            self.stdout.write(f"{label}: sent, {result}")
        else:
            self.stdout.write(self.style.ERROR(f"{label}: {result}: {check.error}"))
