"""LinkedIn invitation steps, through messaging's invitation service (its checks and
the channel's daily invitation cap apply) and its record of acceptances."""

from datetime import datetime

from conversations.models import Contact
from messaging import invitations
from messaging.models import Invitation
from tenants.models import Channel


def invitation_send(*, channel: Channel, contact: Contact, note: str, profile: str) -> Invitation:
    """Invite the lead. `profile`: the LinkedIn profile URL or identifier the lead
    list gave (campaigns.leads keeps it as the `linkedin` field); messaging resolves
    it to a provider id before inviting, unless the contact is known by one already."""
    return invitations.invitation_send(channel=channel, contact=contact, note=note, profile=profile)


def invitation_accepted(*, channel: Channel, contact: Contact, since: datetime) -> bool:
    """Whether the lead accepted the channel's invitation at or after `since` (from the
    new_relation webhook or the daily relations reconciliation, however late)."""
    return contact.pk in invitations.accepted_since(
        contact_ids=[contact.pk], channel=channel, since=since
    )
