"""What each contact agreed to receive, per channel kind and scope, and the keywords
and auto-replies that change it (imported by conversations.models, so Django finds
them there).

Scopes: `service` is every message of the channel kind (replies, notifications,
utility templates); `marketing` is marketing messages only. Opting out of service
therefore stops marketing too (a marketing send checks both scopes, see
conversations.consent), while a marketing opt-out leaves service messages alone.
- SMS has no separate marketing opt-out: a STOP (keyword) or a Twilio 21610 refusal
  sets both scopes to opted_out.
- WhatsApp 131050 ("user stopped marketing messages") is the marketing scope only: the
  customer still gets replies and utility templates.
- A keyword opt-out on any kind (STOP on WhatsApp, LinkedIn) is both scopes: the
  customer asked for nothing more.
No row for a (contact, kind, scope) means `unknown`.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers import ChannelKind
from tenants.models import Channel, Organization


class ConsentScope(models.TextChoices):
    SERVICE = "service", "Service (every message)"
    MARKETING = "marketing", "Marketing"


class ConsentState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    SUBSCRIBED = "subscribed", "Subscribed"
    OPTED_OUT = "opted_out", "Opted out"


class ConsentSource(models.TextChoices):
    KEYWORD = "keyword", "Keyword from the customer"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    IMPORT = "import", "Import"
    PROVIDER_ERROR = "provider_error", "Provider refused a send"


class KeywordClass(models.TextChoices):
    OPT_OUT = "opt_out", "Opt-out"
    OPT_IN = "opt_in", "Opt-in"
    HELP = "help", "Help"


_KIND_LABELS = {
    ChannelKind.SMS: "SMS",
    ChannelKind.WHATSAPP: "WhatsApp",
    ChannelKind.LINKEDIN: "LinkedIn",
}
KIND_CHOICES = [(kind.value, _KIND_LABELS[kind]) for kind in ChannelKind]


class Consent(models.Model):
    """The state in force for one contact, channel kind and scope."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "conversations.Contact",
        on_delete=models.CASCADE,
        related_name="consents",
        # The unique (contact, kind, scope) index serves every lookup by contact; a
        # second one on contact alone cost each write and, in the send check's plan,
        # was sometimes chosen instead (then filtering kind on the heap).
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    scope = models.CharField(max_length=16, choices=ConsentScope.choices)
    state = models.CharField(max_length=16, choices=ConsentState.choices)
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    # When the state in force was decided: the customer's message time for a keyword
    # (an older keyword arriving late does not undo a newer decision), else now.
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the send check's index: (contact, kind) and the scopes it asks for.
            models.UniqueConstraint(
                fields=["contact", "kind", "scope"], name="consent_unique_contact_kind_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.scope}: {self.get_state_display().lower()}"


class ConsentChange(models.Model):
    """One change of a consent state, kept for good (append-only: no admin edits it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "conversations.Contact", on_delete=models.CASCADE, related_name="consent_changes"
    )
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    scope = models.CharField(max_length=16, choices=ConsentScope.choices)
    state = models.CharField(max_length=16, choices=ConsentState.choices)
    previous_state = models.CharField(max_length=16, choices=ConsentState.choices)
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who or what, when no person did it: the keyword ("STOP"), the provider and its
    # code ("twilio 21610"), the import's name.
    label = models.CharField(max_length=200, blank=True)
    message = models.ForeignKey(
        "conversations.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The message that caused it: the customer's keyword, or our refused send.",
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-changed_at", "-id"], name="consent_change_contact")
        ]

    def __str__(self) -> str:
        before, after = self.get_previous_state_display(), self.get_state_display()
        return f"{self.get_kind_display()} {self.scope}: {before.lower()} → {after.lower()}"


class ConsentKeyword(models.Model):
    """An organization's own keyword (PARAR, SAIR, CANCELAR...), on top of the
    defaults, with the reply it gets (empty: the class's reply, see KeywordReplyTexts)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="consent_keywords"
    )
    keyword = models.CharField(
        max_length=64, help_text="Matched against the whole message, ignoring case and spaces."
    )
    keyword_class = models.CharField(max_length=16, choices=KeywordClass.choices)
    language = models.CharField(max_length=16, blank=True, help_text="e.g. es, pt-BR.")
    reply_text = models.TextField(
        blank=True, help_text="Empty: the organization's reply for this class of keyword."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "keyword"], name="consent_keyword_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.keyword


DEFAULT_REPLY_TEXTS = {
    KeywordClass.OPT_OUT: "You are unsubscribed and will get no more messages from us. "
    "Reply START to subscribe again.",
    KeywordClass.OPT_IN: "You are subscribed again. Reply STOP to unsubscribe, HELP for help.",
    KeywordClass.HELP: "Reply STOP to unsubscribe, START to subscribe again.",
}


class KeywordReplyTexts(models.Model):
    """An organization's replies per class of keyword. Without a row the defaults
    apply; an empty text sends no reply for that class."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="keyword_reply_texts"
    )
    opt_out = models.TextField(blank=True, default=DEFAULT_REPLY_TEXTS[KeywordClass.OPT_OUT])
    opt_in = models.TextField(blank=True, default=DEFAULT_REPLY_TEXTS[KeywordClass.OPT_IN])
    help = models.TextField(
        blank=True,
        default=DEFAULT_REPLY_TEXTS[KeywordClass.HELP],
        help_text="Say how to reach the business (phone, email, website).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "keyword reply texts"
        verbose_name_plural = "keyword reply texts"

    def __str__(self) -> str:
        return f"Keyword replies of {self.organization}"


class AutoReplyState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Queued for sending"
    SKIPPED = "skipped", "Skipped"


class AutoReply(models.Model):
    """The reply one keyword message gets, recorded in the transaction that applied
    the keyword and sent after it commits (or by the sweep if that sender died).

    One per keyword message (`keyword_message` is unique); claimed together with the
    creation of `reply_message`, in one transaction, so it is never sent twice.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    keyword_message = models.OneToOneField(
        "conversations.Message", on_delete=models.CASCADE, related_name="auto_reply"
    )
    keyword_class = models.CharField(max_length=16, choices=KeywordClass.choices)
    text = models.TextField()
    state = models.CharField(
        max_length=16, choices=AutoReplyState.choices, default=AutoReplyState.PENDING
    )
    reply_message = models.OneToOneField(
        "conversations.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "auto-replies"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="auto_reply_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.keyword_class} reply to message {self.keyword_message_id} ({self.state})"
