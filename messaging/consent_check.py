"""The consent part of every send: a contact who opted out of a channel kind and scope
gets nothing of that scope there (CONTACT_OPTED_OUT), before anything reaches the
provider. One indexed query per send (conversations.consent.consent_opted_out).

A free-form message is `service`; a template is `marketing` when its category is
MARKETING, else `service` (utility and authentication templates still reach someone
who only stopped marketing, as WhatsApp's own 131050 rule has it).
"""

from datetime import UTC

from conversations.consent import consent_opted_out
from conversations.consent_models import ConsentScope
from providers import channel_kind
from templates.models import MessageTemplate, TemplateCategory
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel


def check_consent(*, contact_id: int, channel: Channel, scope: ConsentScope) -> None:
    kind = channel_kind(channel.provider)
    consent = consent_opted_out(contact_id=contact_id, kind=kind, scope=scope)
    if consent is None:
        return
    raise ApplicationError(
        ErrorCode.CONTACT_OPTED_OUT,
        f"The contact opted out of {consent.scope} messages on {kind}.",
        details={
            "kind": kind.value,
            "scope": consent.scope,
            "since": consent.changed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "source": consent.source,
        },
    )


def template_scope(template: MessageTemplate) -> ConsentScope:
    if template.category == TemplateCategory.MARKETING:
        return ConsentScope.MARKETING
    return ConsentScope.SERVICE
