"""What messaging keeps about a person, for conversations.erasure (registered in
MessagingConfig.ready): the answers kept for Idempotency-Key headers (messaging.
idempotency) and LinkedIn invitations and relations."""

from django.db.models import Q

from conversations.erasure import ErasureSubject
from messaging.models import Invitation, Relation


def linkedin_erase(subject: ErasureSubject) -> int:
    """The contact's invitations keep their state and dates (campaign counts) but not
    whom they named; the relations naming them (by an id of theirs or of one of their
    invitations) are deleted: a relation is only a record of who they are."""
    invitations = Invitation.objects.filter(contact_id=subject.contact_id)
    named = set(subject.needles)
    for provider_id, public_identifier in invitations.values_list(
        "provider_id", "public_identifier"
    ):
        named |= {provider_id, public_identifier} - {""}
    erased = invitations.exclude(profile="", public_identifier="", provider_id="", note="").update(
        profile="", public_identifier="", provider_id="", note="", provider_invitation_id=""
    )
    relations = Relation.objects.filter(organization_id=subject.organization_id).filter(
        Q(provider_id__in=named) | Q(public_identifier__in=named)
    )
    deleted, _ = relations.delete()
    return erased + deleted
