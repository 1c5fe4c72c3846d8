import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models

from providers import PROVIDER_LABELS, Provider
from tenants.fields import EncryptedTextField


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).")


def parse_email_list(value: str) -> list[str]:
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def validate_email_list(value: str) -> None:
    for address in parse_email_list(value):
        validate_email(address)


class Organization(models.Model):
    """A tenant: a business whose customers' conversations Switchboard keeps."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    alert_emails = models.TextField(
        blank=True,
        validators=[validate_email_list],
        help_text="Who is told about dead webhooks, paused templates and failed health "
        "checks. Comma-separated or one per line.",
    )
    # Reply notifications (integrations.notifications) of unassigned conversations: the
    # team that answers customers, not the operators on alert_emails.
    notification_emails = models.TextField(
        blank=True,
        validators=[validate_email_list],
        help_text="Who is emailed when a customer writes in an unassigned conversation "
        "(e.g. the support team's shared inbox). Empty: the organization's admins. "
        "Comma-separated or one per line.",
    )
    is_active = models.BooleanField(default=True)
    # Storage limitation (GDPR art. 5(1)(e)): the contents of messages older than this
    # are blanked by the periodic "Apply message retention" (conversations.retention).
    message_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Blank the contents of messages (and their raw webhooks) older than this "
        "many days. Empty: keep them forever. Conversations and counts are kept.",
    )
    # How long the outbox (integrations' record of what happened) keeps its events:
    # receivers that were down longer than this miss them.
    outbox_retention_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(1)],
        help_text="Keep events for subscriptions and the live stream this many days.",
    )
    # The inbox reports' service level: a customer's first message answered within
    # this many seconds counts as answered in time (reports.inbox).
    sla_seconds = models.PositiveIntegerField(
        default=3600,
        validators=[MinValueValidator(1)],
        help_text="Answer a customer's first message within this many seconds (the inbox "
        'reports\' "answered within SLA" share). Default: one hour.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def alert_email_list(self) -> list[str]:
        return parse_email_list(self.alert_emails)

    @property
    def notification_email_list(self) -> list[str]:
        return parse_email_list(self.notification_emails)


class Role(models.TextChoices):
    """Ordered: each role may do everything the ones below it may."""

    VIEWER = "viewer", "Viewer: reads"
    AGENT = "agent", "Agent: works conversations"
    ADMIN = "admin", "Admin: manages channels and templates"

    def allows(self, required: "Role") -> bool:
        order = list(Role)
        return order.index(self) >= order.index(Role(required))


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="membership_unique_user_organization"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class WindowPolicy(models.TextChoices):
    META = "meta", "Meta rule: only customer messages open the 24-hour window"
    TEMPLATE_OPENS = "template_opens", "A sent template opens the window too"
    ALWAYS_OPEN = "always_open", "Always open (no customer-service window)"


class KeywordReplies(models.TextChoices):
    DEFAULT = "default", "The provider's default (off for Twilio, on for the others)"
    ON = "on", "On: answer STOP, START and HELP ourselves"
    OFF = "off", "Off: the provider answers them (or nobody does)"


# Twilio long codes answer STOP, START and HELP themselves by default: a reply of ours
# as well would make two.
PROVIDERS_ANSWERING_KEYWORDS = {Provider.TWILIO}

DEFAULT_WINDOW_POLICY = {
    Provider.WHATSAPP_CLOUD: WindowPolicy.META,
    Provider.OPENPHONE: WindowPolicy.ALWAYS_OPEN,
    Provider.TWILIO: WindowPolicy.ALWAYS_OPEN,
    Provider.UNIPILE: WindowPolicy.ALWAYS_OPEN,
}

# The webhook path a provider must be given. WhatsApp has one URL for every number (a
# Meta app serves many) and is routed by phone_number_id; the others by channel key.
WEBHOOK_PATHS = {
    Provider.WHATSAPP_CLOUD: "/webhooks/whatsapp/",
    Provider.OPENPHONE: "/webhooks/openphone/{key}/",
    Provider.TWILIO: "/webhooks/twilio/{key}/",
    Provider.UNIPILE: "/webhooks/unipile/{key}/",
}

# The credential each provider's webhooks are verified with.
WEBHOOK_SECRET_FIELD = {
    Provider.WHATSAPP_CLOUD: "app_secret",
    Provider.OPENPHONE: "signing_key",
    Provider.TWILIO: "auth_token",
    Provider.UNIPILE: "shared_secret",
}

SECRET_FIELDS = ("access_token", "app_secret", "signing_key", "auth_token", "shared_secret")
# How the channel is known to its provider, and how its conversations behave.
ACCOUNT_FIELDS = (
    "display_phone_number",
    "phone_number_id",
    "waba_id",
    "account_id",
    "account_user_id",
    "api_base_url",
    "window_policy",
)

# Which of those each provider uses: a channel's form offers only its provider's fields.
PROVIDER_FIELDS: dict[Provider, tuple[str, ...]] = {
    Provider.WHATSAPP_CLOUD: (
        *("display_phone_number", "phone_number_id", "waba_id", "window_policy"),
        *("access_token", "app_secret"),
    ),
    Provider.OPENPHONE: (
        *("display_phone_number", "phone_number_id", "window_policy"),
        *("access_token", "signing_key"),
    ),
    Provider.TWILIO: ("display_phone_number", "account_id", "window_policy", "auth_token"),
    Provider.UNIPILE: (
        *("account_id", "account_user_id", "api_base_url", "window_policy"),
        *("access_token", "shared_secret"),
    ),
}


def new_channel_key() -> str:
    return secrets.token_urlsafe(16)


def new_verify_token() -> str:
    return secrets.token_urlsafe(24)


class Channel(models.Model):
    """One provider account or number of an organization."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="channels"
    )
    provider = models.CharField(
        max_length=32, choices=[(p.value, PROVIDER_LABELS[p]) for p in Provider]
    )
    name = models.CharField(max_length=200, help_text="What staff call this channel.")
    display_phone_number = models.CharField(
        max_length=20, blank=True, help_text="E.164, e.g. +15550783881. Empty for LinkedIn."
    )
    phone_number_id = models.CharField(
        "Phone number id",
        max_length=64,
        blank=True,
        help_text="WhatsApp: the phone number id (routes webhooks). OpenPhone: PN… id.",
    )
    waba_id = models.CharField(
        "WABA id", max_length=64, blank=True, help_text="WhatsApp Business Account id (templates)."
    )
    account_id = models.CharField(
        max_length=64, blank=True, help_text="Twilio AccountSid (AC…); Unipile account_id."
    )
    account_user_id = models.CharField(
        "Account user id",
        max_length=255,
        blank=True,
        help_text="Unipile: the connected account's own id at its provider (LinkedIn: "
        "ACoAA…), which tells our own messages apart when a webhook lacks account_info. "
        "Learnt from the first webhook that names it; may be set by hand.",
    )
    api_base_url = models.URLField(
        "API base URL",
        blank=True,
        help_text="Unipile: your DSN, e.g. https://api1.unipile.com:13111.",
    )
    key = models.CharField(
        max_length=32,
        unique=True,
        default=new_channel_key,
        editable=False,
        help_text="Public identifier used in this channel's webhook URL.",
    )
    verify_token = models.CharField(
        max_length=64,
        unique=True,
        default=new_verify_token,
        editable=False,
        help_text="WhatsApp: paste into Meta's dashboard as the webhook verify token.",
    )

    access_token = EncryptedTextField(
        blank=True, help_text="WhatsApp/OpenPhone/Unipile API token or key."
    )
    app_secret = EncryptedTextField(blank=True, help_text="WhatsApp: Meta app secret.")
    signing_key = EncryptedTextField(blank=True, help_text="OpenPhone: webhook signing key.")
    auth_token = EncryptedTextField(blank=True, help_text="Twilio: auth token.")
    shared_secret = EncryptedTextField(
        blank=True, help_text="Unipile: the value of the Unipile-Auth header."
    )

    is_active = models.BooleanField(default=True)
    window_policy = models.CharField(
        max_length=32, choices=WindowPolicy.choices, default=WindowPolicy.META
    )
    keyword_replies = models.CharField(
        "Keyword auto-replies",
        max_length=16,
        choices=KeywordReplies.choices,
        default=KeywordReplies.DEFAULT,
        help_text="Whether Switchboard answers opt-out, opt-in and help keywords on this "
        "channel. The consent change itself is applied either way.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            # WhatsApp webhooks are routed by phone_number_id, so it must be unambiguous.
            models.UniqueConstraint(
                fields=["provider", "phone_number_id"],
                condition=~models.Q(phone_number_id=""),
                name="channel_unique_provider_phone_number_id",
                # Said only to whoever Meta let read the number (see channel_validate).
                violation_error_message="Another channel already uses this phone number id.",
            )
        ]
        indexes = [models.Index(fields=["provider", "waba_id"], name="channel_provider_waba")]

    def __str__(self) -> str:
        # Read in lists, filters and choices: "Front desk · WhatsApp", not the provider's
        # full label in brackets after a name that often says it already.
        return f"{self.name} · {Provider(self.provider).short_label}"

    @property
    def webhook_path(self) -> str:
        return WEBHOOK_PATHS[Provider(self.provider)].format(key=self.key)

    @property
    def webhook_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}{self.webhook_path}"

    @property
    def webhook_secret(self) -> str:
        return getattr(self, WEBHOOK_SECRET_FIELD[Provider(self.provider)])

    @property
    def sends_keyword_replies(self) -> bool:
        if self.keyword_replies == KeywordReplies.DEFAULT:
            return Provider(self.provider) not in PROVIDERS_ANSWERING_KEYWORDS
        return self.keyword_replies == KeywordReplies.ON

    @property
    def secrets_set(self) -> list[str]:
        return [name for name in SECRET_FIELDS if getattr(self, name)]


class ChannelEvent(models.Model):
    """What a provider said about the account or number behind a channel: quality and
    limit changes, restrictions, bans, provider-level errors. History; never edited."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="events")
    # Unique per channel, not globally: a WABA's account events are kept by each of its
    # channels (see ChannelEvent's constraint).
    event_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=64)
    event = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "event_id"], name="channel_event_unique_channel_event_id"
            )
        ]
        indexes = [models.Index(fields=["channel", "-occurred_at"], name="channel_event_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.event}".strip()
