"""Running one step: which step is next, and handing it to messaging's services.

Steps are read when they run (an edit applies to every enrollment that has not
reached it), and rendered from the enrollment's own fields only."""

from dataclasses import dataclass
from datetime import UTC, datetime

from campaigns import invitations
from campaigns.models import Enrollment, Step, StepKind
from campaigns.personalize import render, render_parameters
from conversations import services as conversations
from conversations.models import ContactIdentity, Conversation, IdentityKind, Message
from messaging import batch_send as messaging_batch
from messaging import services as messaging
from messaging.batch_send import BatchItem, TemplateSend
from providers.events import ContactRef


class StepImpossible(Exception):  # noqa: N818 - the enrollment's reason, not a bug
    """This step can never run for this lead (stops it as failed with `reason`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Sent:
    message: Message | None
    detail: str = ""


def next_step(*, campaign_id: int, position: int) -> Step | None:
    return (
        Step.objects.filter(campaign_id=campaign_id, position__gte=position)
        .order_by("position")
        .first()
    )


def step_send(*, enrollment: Enrollment, step: Step) -> Sent:
    """Hand the step to messaging (raises its ApplicationError when a check refuses)."""
    fields = enrollment.fields or {}
    if step.kind == StepKind.LINKEDIN_INVITATION:
        return _invite(enrollment, render(step.note, fields))
    conversation = enrollment_conversation(enrollment=enrollment)
    if step.kind == StepKind.TEXT:
        message = messaging.message_send_text(
            conversation=conversation, text=render(step.text, fields)
        )
    elif step.kind == StepKind.WHATSAPP_TEMPLATE:
        message = messaging.message_send_template(
            conversation=conversation,
            name=step.template_name,
            language=step.template_language,
            parameters=render_parameters(step.template_parameters, fields),
        )
    else:
        raise StepImpossible("unknown_step", f"Step kind {step.kind!r} sends nothing.")
    return Sent(message)


# The steps sent through messaging's batch send (Batch.pending) rather than one by one.
BATCHED_KINDS = (StepKind.TEXT, StepKind.WHATSAPP_TEMPLATE)


def step_item(enrollment: Enrollment, step: Step) -> BatchItem:
    """The step as one item of a batch send (rendered from the lead's fields)."""
    fields = enrollment.fields or {}
    conversation = enrollment_conversation(enrollment=enrollment)
    if step.kind == StepKind.TEXT:
        return BatchItem(conversation=conversation, text=render(step.text, fields))
    return BatchItem(
        conversation=conversation,
        template=TemplateSend(
            name=step.template_name,
            language=step.template_language,
            parameters=render_parameters(step.template_parameters, fields),
        ),
    )


def items_send(items: list[BatchItem]) -> list:
    """The batch's messages, through messaging's batch send: each a Message or the
    ApplicationError its checks refused it with."""
    return messaging_batch.messages_send_batch(items=items)


def _invite(enrollment: Enrollment, note: str) -> Sent:
    invitation = invitations.invitation_send(
        channel=enrollment.campaign.channel,
        contact=enrollment.contact,
        note=note,
        profile=str((enrollment.fields or {}).get("linkedin", "")),
    )
    return Sent(None, detail=f"invitation {invitation.pk}")


def invitation_was_accepted(*, enrollment: Enrollment) -> bool:
    # Whenever it was accepted: a lead connected by an earlier campaign's invitation
    # gets that invitation back from messaging, accepted before this lead started.
    return invitations.invitation_accepted(
        channel=enrollment.campaign.channel, contact=enrollment.contact, since=EVER
    )


EVER = datetime(1970, 1, 1, tzinfo=UTC)
_REF_FIELD = {
    IdentityKind.PHONE: "phone",
    IdentityKind.WA_ID: "wa_id",
    IdentityKind.USER_ID: "user_id",
    IdentityKind.PROVIDER_ID: "provider_id",
}


def enrollment_conversation(*, enrollment: Enrollment) -> Conversation:
    """The lead's conversation on the campaign's channel: the one they already have,
    or one made with conversations' own service (by their identity on the channel,
    else their phone). Kept on the enrollment."""
    channel = enrollment.campaign.channel
    found = enrollment.conversation if enrollment.conversation_id else None
    if found is None:
        found = Conversation.objects.filter(contact=enrollment.contact, channel=channel).first()
        if found is None:
            found = conversations.conversation_with(channel=channel, ref=_ref(enrollment))
        enrollment.conversation = found
        Enrollment.objects.filter(pk=enrollment.pk).update(conversation=found)
    found.channel = channel  # the campaign's copy: its secrets are decrypted once
    found.contact = enrollment.contact
    return found


def _ref(enrollment: Enrollment) -> ContactRef:
    identity = (
        ContactIdentity.objects.filter(
            contact=enrollment.contact, channel=enrollment.campaign.channel
        )
        .values_list("kind", "value")
        .first()
    )
    if identity:
        return ContactRef(**{_REF_FIELD[IdentityKind(identity[0])]: identity[1]})
    if enrollment.contact.phone:
        return ContactRef(phone=enrollment.contact.phone)
    raise StepImpossible(
        "no_address", "The lead has no phone number or identity on the campaign's channel."
    )
