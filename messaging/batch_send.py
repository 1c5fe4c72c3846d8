"""Many sends at once (a campaign batch): the same checks as the single sends
(messaging.prepare, written once), with what every send reads fetched once per batch.

- The contact checks (4) for all recipients in two queries (`contacts_standing`).
- Each template looked up once per batch (its refusal too).
- The window from the conversations as the caller hands them (locked by it).
- The channel's limits admit the sends that passed, N at once (`send_admit_many`):
  those beyond the channel's allowance get the RATE_LIMITED a single send would have.
- The refusals counted for the reports (messaging.refusals), one upsert per reason.
- One insert for the messages, one round trip for their conversations, and their send
  tasks queued once the caller commits.

Each item's answer is its message, or the ApplicationError a single send would have
raised: one refused item never holds back the others.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from conversations import services as conversations
from conversations.models import Conversation, Message
from conversations.outbound_many import OutboundDraft
from messaging.checks import approved_template
from messaging.limits import send_admit_many
from messaging.prepare import Prepared, template_prepared, text_prepared
from messaging.refusals import refusals_count_many
from messaging.standing import Standing, contacts_standing
from templates.models import MessageTemplate
from tenants.errors import ApplicationError


@dataclass(frozen=True)
class TemplateSend:
    name: str
    language: str
    parameters: dict


@dataclass(frozen=True)
class BatchItem:
    """One send: `text`, or `template` when it is a template."""

    conversation: Conversation
    text: str = ""
    template: TemplateSend | None = None


Answer = Message | ApplicationError


def messages_send_batch(*, items: list[BatchItem]) -> list[Answer]:
    """Send each item as message_send_text / message_send_template would, in the
    caller's transaction; answers in the order of `items`."""
    answers: list[Answer | Prepared] = list(_prepared(items))
    by_channel: dict[int, list[int]] = {}
    for index, answer in enumerate(answers):
        if isinstance(answer, Prepared):
            by_channel.setdefault(items[index].conversation.channel_id, []).append(index)
    for indexes in by_channel.values():
        channel = items[indexes[0]].conversation.channel
        admitted, refusal = send_admit_many(channel=channel, count=len(indexes))
        for index in indexes[admitted:]:
            answers[index] = refusal
    refused = [(items[i].conversation, a) for i, a in enumerate(answers) if _is_refusal(a)]
    refusals_count_many(refused)
    queued = [i for i, answer in enumerate(answers) if isinstance(answer, Prepared)]
    messages = conversations.messages_outbound_create(
        drafts=[_draft(items[i].conversation, answers[i]) for i in queued]
    )
    for index, message in zip(queued, messages, strict=True):
        answers[index] = message
    if messages:
        ids = [m.pk for m in messages]
        transaction.on_commit(lambda: _deliver_all(ids))
    return answers


def _is_refusal(answer) -> bool:
    return isinstance(answer, ApplicationError)


def _prepared(items: list[BatchItem]):
    standings = _standings(items)
    find = _template_finder()
    for item in items:
        conversation = item.conversation
        contact = standings[(conversation.channel_id, conversation.contact_id)]
        try:
            if item.template is None:
                yield text_prepared(conversation=conversation, text=item.text, contact=contact)
            else:
                yield template_prepared(
                    conversation=conversation,
                    name=item.template.name,
                    language=item.template.language,
                    parameters=item.template.parameters,
                    contact=contact,
                    find=find,
                )
        except ApplicationError as refusal:
            yield refusal


def _standings(items: list[BatchItem]) -> dict[tuple[int, int], Standing]:
    """Check 4's facts for every recipient: per channel (consent is per channel kind),
    two queries each."""
    groups: dict[int, list[Conversation]] = {}
    for item in items:
        groups.setdefault(item.conversation.channel_id, []).append(item.conversation)
    found = {}
    for channel_id, group in groups.items():
        channel = group[0].channel
        for organization_id in {c.organization_id for c in group}:
            facts = contacts_standing(
                organization_id=organization_id,
                contact_ids={c.contact_id for c in group if c.organization_id == organization_id},
                channel=channel,
                listed=True,
                consent=True,
            )
            found.update({(channel_id, pk): standing for pk, standing in facts.items()})
    return found


def _template_finder() -> Callable[..., MessageTemplate]:
    """approved_template, asked once per (channel, name, language) in a batch: its
    answer, refusal included, serves every item asking the same."""
    memo: dict[tuple, MessageTemplate | ApplicationError] = {}

    def find(channel, name: str, language: str) -> MessageTemplate:
        key = (channel.pk, name, language)
        if key not in memo:
            try:
                memo[key] = approved_template(channel, name, language)
            except ApplicationError as refusal:
                memo[key] = refusal
        if isinstance(memo[key], ApplicationError):
            raise memo[key]
        return memo[key]

    return find


def _draft(conversation: Conversation, prepared: Prepared) -> OutboundDraft:
    return OutboundDraft(
        conversation_id=conversation.pk,
        type=prepared.type,
        text=prepared.text,
        payload=prepared.payload,
        context=prepared.context,
    )


def _deliver_all(message_ids: list[int]) -> None:
    from messaging import services  # the send task's queueing, as the single sends'

    for message_id in message_ids:
        services._deliver_later(message_id)
