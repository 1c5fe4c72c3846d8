"""The demo tenant: what `make run` shows a newcomer and what scripts sign webhooks with.

Everything here is public on purpose: the secrets below are known so that a developer
can sign test webhooks. `seed_demo` refuses to run with DEBUG off unless forced.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from providers import Provider
from tenants import services
from tenants.models import SECRET_FIELDS, Channel, Organization, Role

DEMO_SLUG = "demo"
DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "switchboard-demo"  # noqa: S105 - a public demo login, see module doc

DEMO_CHANNELS = {
    Provider.WHATSAPP_CLOUD: {
        "name": "Demo WhatsApp",
        "display_phone_number": "+15555550100",
        "phone_number_id": "100000000000001",
        "waba_id": "200000000000001",
        "access_token": "demo-whatsapp-access-token",
        "app_secret": "demo-whatsapp-app-secret",
    },
    Provider.OPENPHONE: {
        "name": "Demo OpenPhone SMS",
        "display_phone_number": "+15555550101",
        "phone_number_id": "PNdemo00001",
        "access_token": "demo-openphone-api-key",
        # base64 of "demo-openphone-signing-key": OpenPhone keys are base64.
        "signing_key": "ZGVtby1vcGVucGhvbmUtc2lnbmluZy1rZXk=",
    },
    Provider.TWILIO: {
        "name": "Demo Twilio SMS",
        "display_phone_number": "+15555550102",
        "account_id": "AC00000000000000000000000000000001",
        "auth_token": "demo-twilio-auth-token",
    },
    Provider.UNIPILE: {
        "name": "Demo LinkedIn (Unipile)",
        "account_id": "demoUnipileAccount01",
        "api_base_url": "https://api1.unipile.com:13111",
        "access_token": "demo-unipile-api-key",
        "shared_secret": "demo-unipile-shared-secret",
    },
}


@dataclass(frozen=True)
class DemoSeed:
    organization: Organization
    admin_username: str
    admin_password: str
    api_token: str
    channels: list[Channel]

    def as_dict(self) -> dict:
        return {
            "organization": {
                "id": self.organization.id,
                "slug": self.organization.slug,
                "name": self.organization.name,
            },
            "admin": {"username": self.admin_username, "password": self.admin_password},
            "api_token": self.api_token,
            "channels": [_channel_dict(channel) for channel in self.channels],
        }


@transaction.atomic
def demo_seed(*, password: str = DEMO_ADMIN_PASSWORD) -> DemoSeed:
    """Create or refresh the demo tenant. Running it again changes nothing but the
    admin password (set to `password`, so the printed login always works)."""
    organization = Organization.objects.filter(slug=DEMO_SLUG).first() or (
        services.organization_create(
            name="Demo Company", slug=DEMO_SLUG, alert_emails=["alerts@demo.example"]
        )
    )
    admin = _demo_admin(password)
    services.membership_set(organization=organization, user=admin, role=Role.ADMIN)
    token, _ = Token.objects.get_or_create(user=admin)
    channels = [
        _demo_channel(organization, provider, dict(fields))
        for provider, fields in DEMO_CHANNELS.items()
    ]
    return DemoSeed(organization, admin.username, password, token.key, channels)


def _demo_admin(password: str):
    user, _ = get_user_model().objects.get_or_create(
        username=DEMO_ADMIN_USERNAME, defaults={"email": "admin@demo.example"}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user


def _demo_channel(organization: Organization, provider: Provider, fields: dict) -> Channel:
    name = fields.pop("name")
    existing = Channel.objects.filter(
        organization=organization, provider=provider, name=name
    ).first()
    # Its credentials are public fakes: no provider would accept them (and `make run`
    # must work offline), so they are not checked with the provider.
    if existing:
        return services.channel_update(channel=existing, check_credentials=False, **fields)
    return services.channel_create(
        organization=organization, provider=provider, name=name, check_credentials=False, **fields
    )


def _channel_dict(channel: Channel) -> dict:
    data = {
        "id": channel.id,
        "key": channel.key,
        "provider": channel.provider,
        "name": channel.name,
        "webhook_url": channel.webhook_url,
        "display_phone_number": channel.display_phone_number,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "account_id": channel.account_id,
        "verify_token": channel.verify_token,
    }
    data.update({name: getattr(channel, name) for name in SECRET_FIELDS if getattr(channel, name)})
    return data
