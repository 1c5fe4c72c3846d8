"""LinkedIn invitations through Unipile: sent with the checks every send has, delivered
by a task that never invites twice, accepted by the relations LinkedIn reports.

- `invitation_send` admits an invitation (channel active and on LinkedIn, the contact
  may be contacted, the channel's throughput and daily invitation cap) and queues it
  in the caller's transaction; its task runs once that commits. A contact with an
  invitation that still stands (queued, sent, accepted) gets that one back, uncounted;
  one we already know as a relation gets an invitation accepted at once, unsent.
- `invitation_deliver` (the task) claims it, resolves the profile to a provider id
  (kept on the invitation and as the contact's identity on the channel), invites, and
  records the answer.
- `relation_apply` records a relation (the `new_relation` webhook, or the daily
  reconciliation of the relations list) and accepts the invitations it answers.
  Idempotent, and late acceptances count: LinkedIn tells them hours after.
- `accepted_since` answers the campaign engine, set-based.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from conversations.consent_models import ConsentScope
from conversations.models import Contact, ContactIdentity, IdentityKind
from messaging.checks import Recipient, check_active, check_may_contact
from messaging.limits import invitation_admit
from messaging.models import OPEN_STATES, Invitation, InvitationState, Relation
from messaging.services import (
    MAX_RETRY_WAIT,
    SEND_CLAIM_LEASE,
    SEND_RETRIES,
    SEND_TASK_GRACE,
    Delivery,
)
from providers import Provider
from providers.events import RelationAccepted
from providers.http import ProviderError
from providers.unipile_client import INVITATION_NOTE_MAX, UnipileClient
from providers.unipile_relations import public_identifier_of
from tenants.clients import send_client_for
from tenants.errors import ApplicationError, field_error
from tenants.models import Channel

logger = logging.getLogger(__name__)

# Unipile's answers that say where an invitation stands rather than that it failed.
ALREADY_INVITED = frozenset({"errors/already_invited_recently"})
ALREADY_CONNECTED = frozenset({"errors/already_connected"})
_WAITING = (InvitationState.QUEUED, InvitationState.SENT)


def invitation_send(
    *, channel: Channel, contact: Contact, note: str = "", profile: str = ""
) -> Invitation:
    """Invite `contact` to connect on `channel`'s LinkedIn account.

    `profile` is their LinkedIn profile URL or public identifier; it may be left out
    when the contact is already known on the channel by a provider id. Raises
    VALIDATION_ERROR (not LinkedIn, no profile, note too long), CONTACT_OPTED_OUT /
    CONTACT_DO_NOT_CONTACT, or RATE_LIMITED with retry_after (throughput, or the daily
    invitation cap: until the next UTC day)."""
    check_active(channel)
    _check_linkedin(channel)
    # An invitation is an approach, as a marketing message is: a LinkedIn marketing
    # opt-out refuses it, and so does a service one or the do-not-contact list.
    check_may_contact(
        Recipient(contact.organization_id, contact.pk, channel), scope=ConsentScope.MARKETING
    )
    if len(note) > INVITATION_NOTE_MAX:
        raise field_error("note", f"At most {INVITATION_NOTE_MAX} characters.", code="too_long")
    standing = _standing(channel, contact)
    if standing is not None:
        return standing
    provider_id = _known_provider_id(channel, contact)
    public_identifier = public_identifier_of(profile)
    if not (provider_id or public_identifier):
        raise field_error("profile", "A LinkedIn profile URL is needed.", code="required")
    fields = {
        "organization_id": channel.organization_id,
        "channel": channel,
        "contact": contact,
        "profile": profile.strip()[:500],
        "public_identifier": public_identifier,
        "provider_id": provider_id,
        "note": note,
    }
    relation = _relation_of(channel, provider_id, public_identifier)
    if relation is not None:
        # Already connected: nothing to send, nothing counted against the cap; accepted
        # as it is made (accepted_since then finds it from the step's time on). The
        # relation's provider id becomes the contact's: the first message starts a chat
        # with it, and the person's messages are filed under this contact.
        fields["provider_id"] = provider_id or relation.provider_id
        _identity_record(contact.pk, channel, fields["provider_id"])
        invitation = _create(fields, state=InvitationState.ACCEPTED)
        if invitation.accepted_at is None:
            invitation.accepted_at = invitation.created_at
            invitation.save(update_fields=["accepted_at"])
        return invitation
    invitation_admit(channel=channel)
    invitation = _create(fields, state=InvitationState.QUEUED)
    if invitation.state == InvitationState.QUEUED:
        transaction.on_commit(lambda: _deliver_later(invitation.pk))
    return invitation


def _check_linkedin(channel: Channel) -> None:
    if Provider(channel.provider) != Provider.UNIPILE:
        raise field_error(
            "channel", "Invitations are sent on LinkedIn (Unipile) channels only.", "unsupported"
        )


def _standing(channel: Channel, contact: Contact) -> Invitation | None:
    return Invitation.objects.filter(
        channel=channel, contact=contact, state__in=OPEN_STATES
    ).first()


def _known_provider_id(channel: Channel, contact: Contact) -> str:
    return (
        ContactIdentity.objects.filter(
            contact=contact, channel=channel, kind=IdentityKind.PROVIDER_ID
        )
        .values_list("value", flat=True)
        .first()
        or ""
    )


def _create(fields: dict, **state) -> Invitation:
    """The invitation, or the one a concurrent send made a moment before (one standing
    invitation per contact and channel)."""
    try:
        with transaction.atomic():
            return Invitation.objects.create(**fields, **state)
    except IntegrityError:
        standing = _standing(fields["channel"], fields["contact"])
        if standing is None:
            raise
        return standing


def _deliver_later(invitation_id: int) -> None:
    """Queue the send; if the broker is down the invitation stays queued and the sweep
    queues it once the broker is back."""
    from messaging.tasks import invitation_send_task  # tasks import this module

    try:
        invitation_send_task.delay(invitation_id)
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning(
            "Broker unavailable; invitation %s waits for the sweep: %s", invitation_id, exc
        )


# --- delivery (the send task) -------------------------------------------------------


def invitation_deliver(*, invitation_id: int, attempt: int = 0) -> Delivery:
    """Resolve the profile if need be, invite, and record the answer.

    The invitation is claimed first: a second run of the task (a redelivery, the sweep)
    finds it claimed or no longer queued and invites no one. A worker that dies after
    LinkedIn took the invitation leaves it queued; the sweep sends it again once the
    claim's lease is up, and LinkedIn's "already invited" answer then marks it sent."""
    if not _claim(invitation_id):
        return Delivery("skipped")
    invitation = Invitation.objects.select_related("channel").get(pk=invitation_id)
    try:
        # The contact checks again, as for a message: an opt-out or a listing filed
        # since the invitation was queued withholds it.
        check_may_contact(
            Recipient(invitation.organization_id, invitation.contact_id, invitation.channel),
            scope=ConsentScope.MARKETING,
        )
    except ApplicationError as refusal:
        withheld = ProviderError(code=refusal.code.value, title=refusal.message)
        return _refused(invitation, withheld, attempt=0)
    try:
        with send_client_for(invitation.channel) as client:
            if not isinstance(client, UnipileClient):
                raise ProviderError(code="unsupported", title="Not a LinkedIn channel.")
            if not invitation.provider_id and _resolve(invitation, client):
                return Delivery("accepted")  # a relation already: nothing to send
            invited = client.invite(provider_id=invitation.provider_id, note=invitation.note)
    except ProviderError as error:
        return _refused(invitation, error, attempt)
    _mark_sent(invitation, invited.invitation_id)
    return Delivery("sent")


def invitations_queued_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue the send of invitations whose task was lost or whose worker died."""
    now = now or timezone.now()
    ids = list(
        Invitation.objects.filter(state=InvitationState.QUEUED)
        .filter(
            Q(send_claimed_at__isnull=True, created_at__lt=now - SEND_TASK_GRACE)
            | Q(send_claimed_at__lt=now - SEND_CLAIM_LEASE)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for invitation_id in ids:
        _deliver_later(invitation_id)
    return len(ids)


def _claim(invitation_id: int) -> bool:
    now = timezone.now()
    free = Q(send_claimed_at__isnull=True) | Q(send_claimed_at__lt=now - SEND_CLAIM_LEASE)
    queued = Invitation.objects.filter(free, pk=invitation_id, state=InvitationState.QUEUED)
    return queued.update(send_claimed_at=now) == 1


def _resolve(invitation: Invitation, client: UnipileClient) -> bool:
    """Learn the provider id behind the profile and keep it (on the invitation and as
    the contact's identity on the channel), so a retry asks Unipile no more. True when
    the person turns out to be a relation already (the invitation is then accepted)."""
    profile = client.resolve_profile(invitation.profile or invitation.public_identifier)
    invitation.provider_id = profile.provider_id
    invitation.public_identifier = invitation.public_identifier or profile.public_identifier
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation.pk).update(
            provider_id=invitation.provider_id, public_identifier=invitation.public_identifier
        )
        _identity_record(invitation.contact_id, invitation.channel, profile.provider_id)
        relation = _relation_of(invitation.channel, profile.provider_id, profile.public_identifier)
        if relation is not None:
            _accept([invitation.pk], at=timezone.now())
    return relation is not None


def _identity_record(contact_id: int, channel: Channel, provider_id: str) -> None:
    """The contact's provider id on the channel; left alone when it already names
    another contact there (the one our inbox filed their messages under)."""
    if provider_id:
        ContactIdentity.objects.get_or_create(
            channel=channel,
            kind=IdentityKind.PROVIDER_ID,
            value=provider_id,
            defaults={"contact_id": contact_id},
        )


def _mark_sent(invitation: Invitation, provider_invitation_id: str, error=None) -> None:
    # Only from queued: an acceptance that came meanwhile is not undone.
    Invitation.objects.filter(pk=invitation.pk, state=InvitationState.QUEUED).update(
        state=InvitationState.SENT,
        sent_at=timezone.now(),
        provider_invitation_id=provider_invitation_id,
        error_code=error.code if error else "",
        error_title=error.title[:500] if error else "",
    )


def _refused(invitation: Invitation, error: ProviderError, attempt: int) -> Delivery:
    if error.code in ALREADY_INVITED:
        _mark_sent(invitation, "", error)  # ours went out before, or someone else's did
        return Delivery("sent")
    if error.code in ALREADY_CONNECTED:
        with transaction.atomic():
            _accept([invitation.pk], at=timezone.now())
        return Delivery("accepted")
    if error.transient and attempt < SEND_RETRIES:
        wait = min(error.retry_after or 2.0 ** (attempt + 1), MAX_RETRY_WAIT)
        Invitation.objects.filter(pk=invitation.pk).update(send_claimed_at=None)
        logger.warning("Invitation %s failed (%s), retrying in %.1fs", invitation.pk, error, wait)
        return Delivery("retry", retry_in=wait)
    logger.warning("Invitation %s failed for good: %s", invitation.pk, error)
    Invitation.objects.filter(pk=invitation.pk, state=InvitationState.QUEUED).update(
        state=InvitationState.FAILED,
        failed_at=timezone.now(),
        error_code=error.code[:64],
        error_title=error.title[:500],
    )
    return Delivery("failed")


# --- acceptance -------------------------------------------------------------------


def relation_apply(*, channel: Channel, event: RelationAccepted, source: str = "webhook") -> str:
    """Record that the channel's account is connected with this person, and accept the
    invitations of ours they answer. Returns "accepted" (an invitation of ours),
    "recorded" (a new relation we did not invite, kept: a later invitation to them is
    accepted at once) or "duplicate" (known already: a redelivery, or the webhook and
    the reconciliation both telling it)."""
    provider_id, public_identifier = event.contact.provider_id, event.public_identifier
    with transaction.atomic():
        created = _relation_record(channel, event, source)
        waiting = list(
            Invitation.objects.select_for_update()
            .filter(channel=channel, state__in=_WAITING)
            .filter(_naming(provider_id, public_identifier))
            .values_list("pk", "contact_id")
        )
        for _, contact_id in waiting:
            _identity_record(contact_id, channel, provider_id)
        _accept([pk for pk, _ in waiting], at=event.occurred_at)
    if waiting:
        return "accepted"
    return "recorded" if created else "duplicate"


def _relation_record(channel: Channel, event: RelationAccepted, source: str) -> bool:
    provider_id, public_identifier = event.contact.provider_id, event.public_identifier
    known = _relation_of(channel, provider_id, public_identifier)
    if known is not None:
        # Fill in what this telling adds (the list may lack the provider id).
        missing = {
            "provider_id": provider_id if not known.provider_id else "",
            "public_identifier": public_identifier if not known.public_identifier else "",
        }
        updates = {name: value for name, value in missing.items() if value}
        if updates:
            Relation.objects.filter(pk=known.pk).update(**updates)
        return False
    try:
        with transaction.atomic():
            Relation.objects.create(
                organization_id=channel.organization_id,
                channel=channel,
                provider_id=provider_id,
                public_identifier=public_identifier,
                name=event.contact.name[:200],
                connected_at=event.occurred_at,
                source=source,
            )
    except IntegrityError:
        return False  # the webhook and the reconciliation told it at the same moment
    return True


def _relation_of(channel: Channel, provider_id: str, public_identifier: str) -> Relation | None:
    if not (provider_id or public_identifier):
        return None
    return Relation.objects.filter(_naming(provider_id, public_identifier), channel=channel).first()


def _naming(provider_id: str, public_identifier: str) -> Q:
    """Rows that name this person, by either of their ids (never by an empty one)."""
    condition = Q(pk__in=[])
    if provider_id:
        condition |= Q(provider_id=provider_id)
    if public_identifier:
        condition |= Q(public_identifier=public_identifier)
    return condition


def _accept(invitation_ids: list[int], *, at: datetime) -> None:
    """Accepted at `at`, or when the invitation was made if that is later (a relation
    older than our invitation: the person was connected already)."""
    for invitation in Invitation.objects.filter(pk__in=invitation_ids, state__in=_WAITING):
        Invitation.objects.filter(pk=invitation.pk).update(
            state=InvitationState.ACCEPTED,
            accepted_at=max(at, invitation.created_at),
            error_code="",
            error_title="",
        )


# --- for the campaign engine --------------------------------------------------------


def accepted_since(*, contact_ids: Iterable[int], channel: Channel, since: datetime) -> set[int]:
    """The contacts among `contact_ids` whose invitation on `channel` was accepted at
    or after `since` (one query). An invitation made for someone already connected is
    accepted when it is made, so passing the time the invitation step ran finds them."""
    return set(
        Invitation.objects.filter(
            channel=channel,
            contact_id__in=list(contact_ids),
            state=InvitationState.ACCEPTED,
            accepted_at__gte=since,
        ).values_list("contact_id", flat=True)
    )
