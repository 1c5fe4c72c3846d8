"""LinkedIn invitations, through messaging's service (built with the LinkedIn work:
`messaging.invitations`). Imported when a step runs, not at import time, so campaigns
load whether or not that module is deployed; without it an invitation step fails
with a clear reason instead of an ImportError deep in a worker."""

from importlib import import_module

from conversations.models import Contact
from tenants.models import Channel


class InvitationsUnavailableError(RuntimeError):
    """This deployment has no messaging.invitations: LinkedIn invitations cannot be
    sent (an invitation step fails with this reason)."""


def _module():
    try:
        return import_module("messaging.invitations")
    except ModuleNotFoundError as exc:
        if exc.name != "messaging.invitations":
            raise
        raise InvitationsUnavailableError(
            "LinkedIn invitations are not available: messaging.invitations is missing."
        ) from exc


def invitation_send(*, channel: Channel, contact: Contact, note: str):
    """Send a LinkedIn invitation (messaging's checks and caps apply); returns what
    messaging returns (its invitation record)."""
    return _module().invitation_send(channel=channel, contact=contact, note=note)


def invitation_accepted(*, channel: Channel, contact: Contact) -> bool:
    """Whether the contact accepted the channel's invitation (set by the new_relation
    webhook or the daily relations reconciliation)."""
    try:
        module = _module()
    except InvitationsUnavailableError:
        return False
    return bool(module.invitation_accepted(channel=channel, contact=contact))
