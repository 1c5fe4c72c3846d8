"""What a reply notification says, and to whom (integrations.notifications).

Recipients, decided when the email goes (the conversation may have changed hands
since the customer wrote):
- assigned: the assignee, while they are an active member of the organization with an
  email address;
- otherwise (unassigned, or an assignee who left or cannot be reached): the
  organization's `notification_emails`, else its admins;
- minus anyone who turned reply emails off (NotificationSetting), also when their
  address is on the organization's list: their choice is about their mailbox;
- minus a campaign owner for a lead's reply that campaigns.replies emails them
  about anyway (the lead was or is about to be stopped as replied): one email per
  person per reply. The others still get this one: it is the agents' notice.

The text: who wrote, on which channel, each message's time and an excerpt, read from
the messages now, so an erased contact or a message past its retention shows nothing
of what was said; and the link to the conversation in the admin.
"""

import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from campaigns.models import Enrollment, EnrollmentState
from conversations.models import Conversation, Message
from integrations.notifications_models import NotificationSetting, ReplyNotification
from tenants.alerts import admin_url
from tenants.models import Membership, Role

EXCERPT_LENGTH = 280
PENDING_SHOWN = 10


@dataclass(frozen=True)
class ReplyEmail:
    subject: str
    body: str
    recipients: list[str]


def reply_email_build(*, notification: ReplyNotification) -> ReplyEmail | None:
    """The email for the pending messages; None when there is nobody to tell or
    nothing left to tell about (the messages were deleted with their contact)."""
    conversation = (
        Conversation.objects.select_related("contact", "channel", "organization", "assignee")
        .filter(pk=notification.conversation_id)
        .first()
    )
    messages = list(
        Message.objects.filter(pk__in=notification.message_ids, conversation=conversation)
        .order_by("occurred_at", "pk")
        .only("type", "text", "occurred_at", "contents_erased_at", "deleted_at")
    )
    # An organization switched off: its members no longer reach its admin pages.
    if conversation is None or not messages or not conversation.organization.is_active:
        return None
    recipients = reply_recipients(conversation=conversation)
    recipients = _without_campaign_owners(recipients, conversation, messages)
    if not recipients:
        return None
    return ReplyEmail(
        subject=_subject(conversation, notification.pending_count),
        body=_body(conversation, messages, notification.pending_count, recipients),
        recipients=recipients,
    )


def reply_recipients(*, conversation: Conversation) -> list[str]:
    organization = conversation.organization
    members = Membership.objects.filter(organization=organization, user__is_active=True).exclude(
        user__email=""
    )
    assignee = conversation.assignee
    if assignee is not None and members.filter(user=assignee).exists():
        return [assignee.email] if _wants_replies(assignee.pk) else []
    addresses = organization.notification_email_list or list(
        members.filter(role=Role.ADMIN).order_by("user_id").values_list("user__email", flat=True)
    )
    unwanted = {address.lower() for address in _opted_out_emails(addresses)}
    return [a for a in dict.fromkeys(addresses) if a.lower() not in unwanted]


def _wants_replies(user_id: int) -> bool:
    return not NotificationSetting.objects.filter(user_id=user_id, reply_emails=False).exists()


def _opted_out_emails(addresses: list[str]) -> list[str]:
    if not addresses:
        return []
    match = Q()
    for address in addresses:
        match |= Q(user__email__iexact=address)
    return list(
        NotificationSetting.objects.filter(match, reply_emails=False).values_list(
            "user__email", flat=True
        )
    )


def _without_campaign_owners(
    recipients: list[str], conversation: Conversation, messages: list[Message]
) -> list[str]:
    """Leave out the owners whose campaign emails them about these messages: leads
    stopped as replied by one of them, or live leads the campaign tick will stop."""
    first, last = messages[0], messages[-1]
    leads = Enrollment.objects.filter(
        contact_id=conversation.contact_id, campaign__channel_id=conversation.channel_id
    ).filter(
        Q(state=EnrollmentState.REPLIED, replied_at__gte=first.occurred_at)
        | Q(
            state__in=[EnrollmentState.ACTIVE, EnrollmentState.WAITING],
            started_at__lte=last.occurred_at,
        )
    )
    owners = {e.lower() for e in leads.values_list("campaign__owner__email", flat=True) if e}
    return [address for address in recipients if address.lower() not in owners]


def _subject(conversation: Conversation, count: int) -> str:
    what = "wrote" if count <= 1 else f"sent {count} messages"
    return f"[Switchboard] {conversation.contact} {what} on {conversation.channel}"


def _body(
    conversation: Conversation, messages: list[Message], count: int, recipients: list[str]
) -> str:
    zone = zoneinfo.ZoneInfo(conversation.organization.timezone)
    shown = messages[-PENDING_SHOWN:]
    lines = [f"{conversation.contact} wrote on {conversation.channel}:", ""]
    if count > len(shown):
        lines += [f"({count - len(shown)} earlier messages not shown)", ""]
    for message in shown:
        at = message.occurred_at.astimezone(zone).strftime("%d %b %H:%M")
        lines.append(f"{at} {zone.key}  {_excerpt(message)}")
    conversation_url = admin_url("admin:conversations_conversation_change", conversation.pk)
    settings_url = _settings_url()
    lines += [
        "",
        f"Answer: {conversation_url}",
        "",
        f"{_why(conversation, recipients)} To stop these emails: {settings_url}",
    ]
    return "\n".join(lines)


def _excerpt(message: Message) -> str:
    if message.contents_erased_at is not None:
        return "(contents erased)"
    if message.deleted_at is not None:
        return "(deleted by the sender)"
    text = " ".join(message.text.split())
    if not text:
        return f"[{message.type}]"
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def _why(conversation: Conversation, recipients: list[str]) -> str:
    assignee = conversation.assignee
    if assignee is not None and recipients == [assignee.email]:
        return "You get this email because the conversation is assigned to you."
    return (
        "Nobody who can be reached holds the conversation: this goes to "
        f"{conversation.organization}'s notification addresses (or its admins)."
    )


def _settings_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse('admin:my_notifications')}"
