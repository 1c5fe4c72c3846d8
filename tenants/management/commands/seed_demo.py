import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.demo import DEMO_ADMIN_PASSWORD, demo_seed


class Command(BaseCommand):
    help = (
        "Create (or refresh) a demo organization with an admin login, an API token and "
        "one channel per provider with known secrets. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print a JSON document."
        )
        parser.add_argument("--password", default=DEMO_ADMIN_PASSWORD)
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (known secrets!)."
        )

    def handle(self, *args, as_json: bool, password: str, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off: seed_demo creates a login and secrets everyone knows. "
                "Pass --force if this really is a demo or test system."
            )
        seed = demo_seed(password=password)
        if as_json:
            self.stdout.write(json.dumps(seed.as_dict(), indent=2))
            return
        self._print_summary(seed)

    def _print_summary(self, seed) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f"Demo organization: {seed.organization.name} (slug demo)"))
        write(f"Admin: {settings.PUBLIC_BASE_URL}/admin/")
        write(f"  username: {seed.admin_username}")
        write(f"  password: {seed.admin_password}")
        write(f"API token: {seed.api_token}")
        for channel in seed.channels:
            write(f"  {channel.provider:15} {channel.webhook_url}")
