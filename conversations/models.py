from django.conf import settings
from django.db import models
from django.utils import timezone

from providers.events import MessageStatus, MessageType
from tenants.fields import EncryptedTextField
from tenants.models import Channel, Organization


class Contact(models.Model):
    """A customer of an organization. One person may reach it on several channels;
    each channel knows them by its own identities (`ContactIdentity`)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "phone"], name="contact_org_phone"),
            # The contacts list: newest first, paged by cursor.
            models.Index(fields=["organization", "-created_at", "-id"], name="contact_org_created"),
        ]

    def __str__(self) -> str:
        return self.name or self.phone or f"Contact {self.pk}"


class IdentityKind(models.TextChoices):
    PHONE = "phone", "Phone (E.164)"
    WA_ID = "wa_id", "WhatsApp id"
    USER_ID = "user_id", "WhatsApp business-scoped user id"
    PROVIDER_ID = "provider_id", "Provider id"


class ContactIdentity(models.Model):
    """How one channel's provider names a contact. Unique per channel, so the same
    wa_id or phone always leads to the same contact on that channel."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=255)

    class Meta:
        verbose_name_plural = "contact identities"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "value"], name="identity_unique_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    SNOOZED = "snoozed", "Snoozed"
    CLOSED = "closed", "Closed"


class Conversation(models.Model):
    """The thread between one contact and one channel.

    The window fields follow DESIGN.md "The 24-hour window": `window_expires_at` is the
    truth (compared with the clock); `is_window_open` is a stored copy for filtering,
    brought in line by the periodic close-expired task.
    """

    # Each index of this table is paid for by every flag flip of close_expired_windows
    # (bench/windows.py) and every message: the foreign keys lean on the composite
    # indexes below instead of having their own.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        db_index=False,  # conversation_assignee: assigned rows only
    )
    unread_count = models.PositiveIntegerField(default=0)
    # Its latest message's time, or when it was created while it has none: the inbox's
    # order, never null so that cursor pages can be built on it.
    last_activity_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    provider_conversation_ref = models.CharField(max_length=255, blank=True)
    # Whether the channel's automated responder (an event subscription, integrations)
    # may answer it: on until an agent takes over. Without a responder it means nothing.
    # A database default too: code older than the column (a rolling deploy's workers
    # still on the last release) inserts conversations without naming it.
    bot_active = models.BooleanField(default=True, db_default=True)

    last_user_message_at = models.DateTimeField(null=True, blank=True)
    window_expires_at = models.DateTimeField(null=True, blank=True)
    is_window_open = models.BooleanField(default=False)
    last_template_message_at = models.DateTimeField(null=True, blank=True)
    window_status_last_checked_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Contact first: it also finds a contact's conversations.
            models.UniqueConstraint(
                fields=["contact", "channel"], name="conversation_unique_contact_channel"
            )
        ]
        indexes = [
            # The inbox: an organization's conversations, latest activity first.
            # `updated_at` rides along so that "updated since" is checked in the index:
            # a sync that pages to the end would otherwise read every row's heap tuple.
            models.Index(
                fields=["organization", "-last_activity_at", "-id", "updated_at"],
                name="conversation_org_activity_upd",
            ),
            # Open windows by organization and expiry: which windows close next (a small
            # index, open ones only). close_expired_windows no longer needs it: it
            # passes over the table in id ranges, closing and reopening in one pass.
            models.Index(
                fields=["organization", "window_expires_at"],
                condition=models.Q(is_window_open=True),
                name="conversation_open_windows",
            ),
            models.Index(
                fields=["assignee"],
                condition=models.Q(assignee__isnull=False),
                name="conversation_assignee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.channel}"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class Message(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="messages"
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=16, choices=Direction.choices)
    type = models.CharField(
        max_length=16, choices=[(t.value, t.value) for t in MessageType], default="text"
    )
    text = models.TextField(blank=True)
    media = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in MessageStatus], default="queued"
    )
    provider_timestamp = models.DateTimeField(null=True, blank=True)
    # When it was written: the provider's timestamp for what came from the provider,
    # the time we queued it for what we send. The thread's order (with id to break
    # ties): webhooks arrive in any order, so arrival (`created_at`) is not it.
    occurred_at = models.DateTimeField(default=timezone.now)
    # Edits by its sender: every text it had, oldest first ([{"text", "at", "id"}]),
    # the last being `text`; empty while it was never edited.
    revisions = models.JSONField(default=list, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Revoked ("deleted for everyone") by its sender: kept for the record, marked.
    deleted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_title = models.CharField(max_length=500, blank=True)
    status_details = models.JSONField(default=dict, blank=True)
    # Every failure the provider reported, applied or not ([{"code", "title", "at"}]):
    # a failure reported after the message was delivered or read does not undo that
    # status, but is not lost either.
    error_history = models.JSONField(default=list, blank=True)
    # The id of the webhooks.WebhookEvent it came from. A plain column, not a foreign
    # key: conversations sits below webhooks and must not import it.
    webhook_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Outbound: when a send task took the message to hand it to the provider, so that
    # a second run of the task (a redelivery, the sweep) does not send it again.
    send_claimed_at = models.DateTimeField(null=True, blank=True)
    # Outbound: when a webhook first spoke of it (a status update, or the provider's
    # echo of it): the proof that the provider's webhooks reach us (health checks).
    webhook_confirmed_at = models.DateTimeField(null=True, blank=True)
    # When its contents were blanked (the contact was erased, or retention ran out):
    # kept as a row for counts and reports, with nothing of what was said.
    contents_erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # The idempotency key of every inbound path: a provider's message id names
            # one message on one channel, however often and in however many payloads it
            # arrives. Outbound messages have none until the provider accepts them.
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="message_unique_provider_id_per_channel",
            )
        ]
        indexes = [
            # The thread, in the order its messages were written (API, admin, preview).
            models.Index(
                fields=["conversation", "-occurred_at", "-id"], name="message_conv_occurred"
            ),
            # Outbound messages still waiting for their provider: the send sweep's, and
            # the admin's "failed" and "queued" filters stay small.
            models.Index(
                fields=["status", "created_at"],
                condition=models.Q(direction="outbound", status__in=["queued", "failed"]),
                name="message_outbound_pending",
            ),
            # A send task's siblings (messaging.claim): a channel's unsent messages in id
            # order. Without send_claimed_at, so that the claim stays a HOT update.
            models.Index(
                fields=["channel", "id"],
                condition=models.Q(direction="outbound", status="queued", provider_message_id=""),
                name="message_unsent_by_channel",
            ),
            # The admin's search by error code: failed messages only, a small index.
            models.Index(
                fields=["error_code"], condition=~models.Q(error_code=""), name="message_error_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} {self.provider_message_id or self.pk}"


class PendingStatusUpdate(models.Model):
    """A status for a message we have not seen yet (statuses can outrun the send's
    response or the echo). Applied, then deleted, when the message appears."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=16)
    occurred_at = models.DateTimeField()
    error_code = models.CharField(max_length=32, blank=True)
    error_title = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "provider_message_id"], name="pending_status_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.status} for {self.provider_message_id} (waiting)"


class MessageReaction(models.Model):
    """The current reaction of one reactor to one message: an emoji, or "" once taken
    back (kept, so that an older reaction arriving late cannot bring it back).

    Keyed by the reacted message's provider id, not a foreign key: a reaction may come
    before the message it reacts to (webhooks arrive in any order), and is shown on it
    as soon as that message is filed.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="reactions"
    )
    message_provider_id = models.CharField(max_length=255, help_text="The message reacted to.")
    reactor = models.CharField(max_length=255, help_text="The provider's id of who reacted.")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    emoji = models.CharField(max_length=64, blank=True, help_text="Empty: taken back.")
    reacted_at = models.DateTimeField()
    # The provider event of the reaction in force: with `reacted_at`, decides which of
    # two reactions is the later one, whatever order they arrive in.
    event_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "message_provider_id", "reactor"],
                name="reaction_one_per_reactor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.emoji or '(removed)'} on {self.message_provider_id}"


class PendingMessageChange(models.Model):
    """An edit or revoke of a message we have not seen yet; applied, then deleted,
    when the message is filed."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16)
    text = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "provider_message_id"], name="pending_change_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.provider_message_id} (waiting)"


class ConversationNote(models.Model):
    """An internal note of the support team on a conversation: shown in the thread,
    in time order with the messages, and never sent to the customer (nothing in the
    send path reads this table)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The thread's page of notes: one conversation's, between two moments.
            models.Index(fields=["conversation", "created_at"], name="note_conv_created")
        ]

    def __str__(self) -> str:
        return f"Note {self.pk} on conversation {self.conversation_id}"


class ErasureSource(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Management command"


class ContactErasure(models.Model):
    """The record that a contact was forgotten (GDPR art. 17, LGPD art. 18).

    It keeps no personal data of the contact: a keyed hash of their identifier (so a
    later request about the same number can be checked against it), who asked, when,
    and counts of what was erased. While the erasure runs, `pending_identifiers` holds
    what the later steps search for (phone, provider ids, name), encrypted at rest, and
    is emptied when it completes (conversations.erasure).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The anonymized contact (kept, with its conversations, for counts).
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="erasures"
    )
    identifier_kind = models.CharField(max_length=16, help_text="What was hashed: phone, wa_id...")
    identifier_hash = models.CharField(
        max_length=64, db_index=True, help_text="HMAC-SHA256 of the identifier (ERASURE_HASH_KEY)."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, choices=ErasureSource.choices)
    requested_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Steps done so far (resume point) and what each erased: {"messages": 12, ...}.
    steps_done = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    pending_identifiers = EncryptedTextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-requested_at"], name="erasure_org_requested")
        ]

    def __str__(self) -> str:
        state = "completed" if self.completed_at else "running"
        return f"Erasure #{self.pk} ({state})"


# Consent, keywords and auto-replies live in their own module; imported here so that
# Django registers them with the app.
from conversations.consent_models import (  # noqa: E402, F401
    AutoReply,
    Consent,
    ConsentChange,
    ConsentKeyword,
    KeywordReplyTexts,
)
from conversations.window_models import WindowExpiringNotice  # noqa: E402, F401
