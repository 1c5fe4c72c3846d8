from django.core.management.base import BaseCommand, CommandError

from reconciliation.schedules import PERIODIC_TASKS, periodic_tasks_install


class Command(BaseCommand):
    help = (
        "Create the periodic tasks Switchboard declares. Existing schedules are kept as "
        "operators left them; --reset NAME restores a declared one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="append",
            default=[],
            metavar="NAME",
            help="Restore this schedule to its declared default (repeatable).",
        )

    def handle(self, *args, reset: list[str], **options):
        try:
            report = periodic_tasks_install(specs=PERIODIC_TASKS, reset=frozenset(reset))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for name in report.created:
            self.stdout.write(self.style.SUCCESS(f"created  {name}"))
        for name in report.reset:
            self.stdout.write(self.style.WARNING(f"reset    {name}"))
        for name in report.kept:
            self.stdout.write(f"kept     {name} (as it is in the admin)")
        for name in report.undeclared:
            self.stdout.write(f"other    {name} (not declared in code; left alone)")
