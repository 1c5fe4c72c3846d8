"""The checks every send makes, in one place (messaging.services, auto_replies and
invitations call them; nothing sends around them).

1. the channel is active;
2. the text fits the provider; free-form text only while the 24-hour window is open
   (WINDOW_EXPIRED);
3. a template must be APPROVED in that language (TEMPLATE_NOT_APPROVED) and be given
   exactly the parameters it needs (TEMPLATE_PARAMS_MISMATCH);
4. the contact may be contacted: not on the organization's do-not-contact list
   (CONTACT_DO_NOT_CONTACT, messaging.do_not_contact) and not opted out of this
   channel kind and scope (CONTACT_OPTED_OUT), both read in one query
   (messaging.standing).

The channel's throughput and daily cap (messaging.limits) come last, in the services:
a send refused for any reason above must not use up the channel's allowance.

A webhook health check (reconciliation) is exempt from 4 (its recipient is the
business's own test number, not a customer: a STOP it once sent must not fail every
later check); a keyword auto-reply is exempt from the window and from consent (an
opt-out confirmation goes to someone who just opted out) but not from the list.
Check 4 is made again when the message is handed to the provider (`may_still_contact`):
a STOP filed between the send and its delivery still stops it.
"""

from dataclasses import dataclass
from enum import StrEnum

from conversations.consent_models import ConsentScope
from conversations.models import Conversation, Message
from conversations.window import window_status
from messaging.standing import Standing, contact_standing, contacts_standing
from providers import Provider
from providers.whatsapp_templates import TemplateParamsError, components_for_send, placeholders
from templates.models import MessageTemplate, TemplateCategory
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel

APPROVED = "APPROVED"
# The longest text each provider takes in one message.
MAX_TEXT_LENGTH = {
    Provider.WHATSAPP_CLOUD: 4096,
    Provider.OPENPHONE: 1600,
    Provider.TWILIO: 1600,
    Provider.UNIPILE: 8000,
}


class Exemption(StrEnum):
    """Why a message skips some of check 4; kept on the message (payload "exempt") so
    that the check at delivery skips the same."""

    NONE = ""
    HEALTH_CHECK = "health_check"  # neither the list nor consent
    AUTO_REPLY = "auto_reply"  # not consent; the list still applies


def check_active(channel: Channel) -> None:
    if not channel.is_active:
        raise field_error("channel", "This channel is switched off.", code="inactive")


def check_text(channel: Channel, text: str) -> None:
    limit = MAX_TEXT_LENGTH[Provider(channel.provider)]
    if not text.strip():
        raise field_error("text", "A message needs some text.", code="blank")
    if len(text) > limit:
        raise field_error("text", f"At most {limit} characters on this channel.", code="too_long")


def check_window(conversation: Conversation) -> None:
    status = window_status(conversation)
    if status.can_send_free_form:
        return
    closed_at = status.expires_at.isoformat().replace("+00:00", "Z") if status.expires_at else None
    raise ApplicationError(
        ErrorCode.WINDOW_EXPIRED,
        "The 24-hour window is closed: only an approved template may be sent."
        if closed_at
        else "The customer has not written yet: only an approved template may be sent.",
        details={"window": status.state.value, "closed_at": closed_at},
    )


def approved_template(channel: Channel, name: str, language: str) -> MessageTemplate:
    if Provider(channel.provider) != Provider.WHATSAPP_CLOUD:
        raise field_error("template", "Templates are sent on WhatsApp channels only.")
    template = MessageTemplate.objects.filter(channel=channel, name=name, language=language).first()
    status = template.status if template else None
    if template is None or status != APPROVED or template.is_deleted:
        raise ApplicationError(
            ErrorCode.TEMPLATE_NOT_APPROVED,
            f"Template {name!r} in {language!r} is not approved for this channel.",
            details={
                "name": name,
                "language": language,
                "status": "REMOVED" if template and template.is_deleted else status,
            },
        )
    return template


def template_scope(template: MessageTemplate) -> ConsentScope:
    """A MARKETING template needs marketing consent; utility and authentication ones
    still reach someone who only stopped marketing (as WhatsApp's 131050 has it)."""
    if template.category == TemplateCategory.MARKETING:
        return ConsentScope.MARKETING
    return ConsentScope.SERVICE


def template_components(template: MessageTemplate, parameters: dict) -> list[dict]:
    required = placeholders(template.components, template.parameter_format)
    try:
        return components_for_send(required, parameters)
    except TemplateParamsError as exc:
        raise ApplicationError(
            ErrorCode.TEMPLATE_PARAMS_MISMATCH,
            str(exc),
            details={"expected": required, "problems": exc.problems},
        ) from exc


@dataclass(frozen=True)
class Recipient:
    """Whom a send goes to, for check 4: a conversation's contact on its channel, or a
    contact invited on a channel (messaging.invitations) before any conversation."""

    organization_id: int
    contact_id: int
    channel: Channel

    @classmethod
    def of(cls, conversation: Conversation) -> "Recipient":
        return cls(conversation.organization_id, conversation.contact_id, conversation.channel)


def standing(to: Recipient, *, exempt: Exemption = Exemption.NONE) -> Standing:
    """Check 4's facts, read once (one query): the services refuse a listed contact
    first, whatever else is wrong with the send, and consent once the template (and
    so the scope) is known."""
    return contact_standing(
        organization_id=to.organization_id,
        contact_id=to.contact_id,
        channel=to.channel,
        listed=exempt != Exemption.HEALTH_CHECK,
        consent=exempt == Exemption.NONE,
    )


def check_may_contact(
    to: Recipient, *, scope: ConsentScope, exempt: Exemption = Exemption.NONE
) -> None:
    """Check 4, both halves, in one query."""
    facts = standing(to, exempt=exempt)
    facts.check_listed()
    facts.check_consent(scope)


def may_still_contact_all(messages: list[Message]) -> dict[int, ApplicationError | None]:
    """The same for a batch of queued messages of one channel (the send task's), in
    one query whatever their number: each message's refusal, or None."""
    exempts = {m.pk: Exemption((m.payload or {}).get("exempt", "")) for m in messages}
    facts = contacts_standing(
        organization_id=messages[0].organization_id,
        contact_ids=[m.conversation.contact_id for m in messages],
        channel=messages[0].channel,
        listed=any(e != Exemption.HEALTH_CHECK for e in exempts.values()),
        consent=any(e == Exemption.NONE for e in exempts.values()),
    )
    return {
        m.pk: _refusal(facts[m.conversation.contact_id], m.payload or {}, exempts[m.pk])
        for m in messages
    }


def _refusal(facts: Standing, payload: dict, exempt: Exemption) -> ApplicationError | None:
    """What check 4 says now of a queued message, by the exemption it was sent under."""
    scope = ConsentScope(payload.get("consent_scope") or ConsentScope.SERVICE)
    try:
        if exempt != Exemption.HEALTH_CHECK:
            facts.check_listed()
        if exempt == Exemption.NONE:
            facts.check_consent(scope)
    except ApplicationError as refusal:
        return refusal
    return None


def may_still_contact(message: Message) -> ApplicationError | None:
    """Check 4 again for a queued message about to be handed to its provider: the
    refusal it would get now, or None."""
    payload = message.payload or {}
    scope = ConsentScope(payload.get("consent_scope") or ConsentScope.SERVICE)
    try:
        check_may_contact(
            # The message's channel is its conversation's, loaded with it already.
            Recipient(message.organization_id, message.conversation.contact_id, message.channel),
            scope=scope,
            exempt=Exemption(payload.get("exempt", "")),
        )
    except ApplicationError as refusal:
        return refusal
    return None
