"""One send's checks and the message they allow, shared by the single sends
(messaging.services) and the batch send (messaging.batch_send): the same rules, in the
same order, written once. What differs is only how the facts are read (one query per
send, or one per batch): the contact's standing and the template are handed in."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from conversations.consent_models import ConsentScope
from conversations.models import Conversation
from messaging.checks import (
    Exemption,
    approved_template,
    check_active,
    check_text,
    check_window,
    template_components,
    template_scope,
)
from messaging.standing import Standing
from providers.events import MessageType
from templates.models import MessageTemplate

_PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")

# (channel, name, language) -> the approved template, or raises as approved_template.
TemplateFinder = Callable[..., MessageTemplate]


@dataclass(frozen=True)
class Prepared:
    """The queued message a send that passed its checks makes."""

    type: MessageType
    text: str
    payload: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)


def text_prepared(
    *,
    conversation: Conversation,
    text: str,
    contact: Standing,
    exempt: Exemption = Exemption.NONE,
    reply_to: str = "",
    sent_by=None,
) -> Prepared:
    """Checks 1, 2 and 4 for free-form text (raises the first refusal)."""
    channel = conversation.channel
    check_active(channel)
    check_text(channel, text)
    contact.check_listed()
    check_window(conversation)
    contact.check_consent(ConsentScope.SERVICE)
    return Prepared(
        MessageType.TEXT,
        text,
        payload={**author(sent_by), **checked(ConsentScope.SERVICE, exempt)},
        context={"message_id": reply_to} if reply_to else {},
    )


def template_prepared(
    *,
    conversation: Conversation,
    name: str,
    language: str,
    parameters: dict,
    contact: Standing,
    exempt: Exemption = Exemption.NONE,
    sent_by=None,
    find: TemplateFinder = approved_template,
) -> Prepared:
    """Checks 1, 3 and 4 for a template (raises the first refusal)."""
    channel = conversation.channel
    check_active(channel)
    contact.check_listed()
    template = find(channel, name, language)
    components = template_components(template, parameters)
    scope = template_scope(template)
    contact.check_consent(scope)
    return Prepared(
        MessageType.TEMPLATE,
        rendered_body(template, parameters),
        payload={
            "template": {"name": name, "language": language, "components": components},
            "template_id": template.pk,
            "parameters": parameters,
            **author(sent_by),
            **checked(scope, exempt),
        },
    )


def rendered_body(template: MessageTemplate, parameters: dict) -> str:
    """The body as the customer will read it, for the inbox."""
    body = next(
        (c.get("text", "") for c in template.components if str(c.get("type")).upper() == "BODY"),
        "",
    )
    values = parameters.get("body", {})
    if isinstance(values, list):
        values = {str(index): value for index, value in enumerate(values, start=1)}
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), body)


def checked(scope: ConsentScope, exempt: Exemption) -> dict:
    """What the check at delivery needs to make check 4 again as it was made here."""
    found = {"consent_scope": scope.value} if scope != ConsentScope.SERVICE else {}
    return {**found, "exempt": exempt.value} if exempt else found


def author(user) -> dict:
    """Who wrote a message sent from the admin, as the thread shows it (its name is
    copied: the thread then reads no user rows, and a renamed person's old messages
    keep the name they were sent under)."""
    if user is None:
        return {}
    return {"sent_by": {"id": user.pk, "name": user.get_username()}}
